import Foundation
import ProxyCore
import StorageProxyClient
import Testing

@Suite("backup")
struct BackupTests {
    @Test("a backup taken under a write load opens as a consistent database holding what was acknowledged before it")
    func backupDuringWrites() throws {
        let proxy = try ProxyProcess()
        _ = try proxy.client().result("save_task", ["task": sampleTask(id: "t")])
        let acknowledged = Locked(0), stop = Locked(false), failures = Locked(0)
        let writers = (0..<3).map { _ in
            Thread {
                guard let c = try? proxy.client() else { return failures.withLock { $0 += 1 } }
                while !stop.withLock({ $0 }) {
                    if let r = try? c.call("save_log", ["task_id": "t", "level": "INFO", "message": "under load"]), r["error"] == nil {
                        acknowledged.withLock { $0 += 1 }
                    } else {
                        failures.withLock { $0 += 1 }
                    }
                }
            }
        }
        writers.forEach { $0.start() }
        // Under load: past 100 writes, however slow this machine (a sanitizer, a busy CI) is.
        func waitFor(more n: Int) {
            let deadline = Date().addingTimeInterval(60)
            while acknowledged.withLock({ $0 }) <= n && Date() < deadline { usleep(10_000) }
        }
        waitFor(more: 100)
        let before = acknowledged.withLock { $0 }
        let copyDir = ProxyProcess.makeTempDir()
        let run = try runCLI(["backup", "--database", "\(proxy.dir)/data.db", "--to", "\(copyDir)/data.db"])
        waitFor(more: acknowledged.withLock { $0 } + 20)  // writes went on after the backup
        stop.withLock { $0 = true }
        usleep(100_000)
        let after = acknowledged.withLock { $0 }

        #expect(run.status == 0 && run.out.contains("integrity ok"), "\(run.out)\(run.err)")
        #expect(before > 100 && after > before && failures.withLock { $0 } == 0)
        let copy = try ProxyProcess(backend: .sqlite, dir: copyDir)  // the copy serves as it is
        let logs = try copy.client().result("query_logs", ["task_id": "t", "limit": 10000]).arrayValue?.count ?? -1
        #expect(logs >= before && logs <= after, "\(before) acknowledged before, \(logs) in the copy, \(after) at the end")
        #expect(try copy.client().result("get_task", ["task_id": "t"]).objectValue?["id"] == "t")

        let again = try runCLI(["backup", "--database", "\(proxy.dir)/data.db", "--to", "\(copyDir)/data.db"])
        #expect(again.status != 0 && again.err.contains("exists"))  // never overwrites
    }
}
