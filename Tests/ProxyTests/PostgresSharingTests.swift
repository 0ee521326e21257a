import Foundation
import ProxyCore
import Spawn
import StorageProxyClient
import Testing

/// The Enterprise Edition's point: several proxies, one PostgreSQL.
@Suite("PostgreSQL: proxies sharing one database")
struct PostgresSharingTests {
    @Test("what one proxy acknowledged, the other reads at once, even after reading it before")
    func twoProxiesOneDatabase() throws {
        let a = try ProxyProcess(backend: .postgresql)
        // The second proxy serves the first one's database (same folder name → same database).
        let b = try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: a.dir)])
        let ca = try a.client(), cb = try b.client()
        _ = try ca.result("save_task", ["task": sampleTask(id: "shared")])
        #expect(try cb.result("get_task", ["task_id": "shared"]).objectValue?["status"] == "pending")
        #expect(try cb.result("list_tasks").arrayValue?.count == 1)
        for status in ["running", "done"] {
            _ = try ca.result("update_task_status", ["task_id": "shared", "status": .string(status)])
            #expect(try cb.result("get_task", ["task_id": "shared"]).objectValue?["status"] == .string(status))
            #expect(try cb.result("list_tasks", ["status": .string(status)]).arrayValue?.count == 1)
        }
        _ = try cb.result("delete_task", ["task_id": "shared"])
        #expect(try ca.result("get_task", ["task_id": "shared"]) == .null)
    }
}

/// PostgreSQL going away and coming back while the proxy is under load.
@Suite("PostgreSQL: restart under load")
struct PostgresRestartTests {
    static let script = protocolFolder.deletingLastPathComponent().appendingPathComponent("scripts/test-services").path

    /// The script leaves a PostgreSQL daemon behind; only the script itself is waited for.
    func services(_ verb: String, _ dir: String) throws {
        let run = try ChildProcess.run(Self.script, [verb, dir])
        try #require(run.status == 0, "test-services \(verb) failed: \(run.err)")
    }

    @Test("in-flight calls get retryable errors, health turns false, service resumes by itself")
    func databaseRestartMidLoad() throws {
        // A private cluster: restarting the shared one would disturb the other tests.
        let dir = ProxyProcess.makeTempDir()
        try services("start", dir)
        defer { try? services("stop", dir) }
        let env = try String(contentsOfFile: "\(dir)/env", encoding: .utf8)
        let url = try #require(env.split(separator: "\"").dropFirst().first.map(String.init))
        let proxy = try ProxyProcess(backend: .postgresql, arguments: ["--database", url])

        let outcomes = Locked<[String: Int]>([:])
        let stop = Locked(false)
        let workers = (0..<4).map { w in
            Thread {
                guard let c = try? proxy.client() else { return }
                var i = 0
                while !stop.withLock({ $0 }) {
                    i += 1
                    let r = try? c.call("save_task", ["task": sampleTask(id: "w\(w)-\(i)")])
                    let key = r.map { $0["error"]?.objectValue?["code"]?.intValue.map { "error \($0)" } ?? "ok" } ?? "no answer"
                    outcomes.withLock { $0[key, default: 0] += 1 }
                    if key != "ok" { usleep(20_000) }
                }
            }
        }
        workers.forEach { $0.start() }
        usleep(400_000)
        try services("pg-down", dir)
        let watcher = try proxy.client()
        var sawUnhealthy = false
        for _ in 0..<40 where !sawUnhealthy {
            sawUnhealthy = (try? watcher.result("health_check")) == .bool(false)
            usleep(50_000)
        }
        usleep(500_000)
        try services("pg-up", dir)
        var recovered = false
        for _ in 0..<100 where !recovered {  // back-off is at most 5 s
            recovered = (try? watcher.result("save_task", ["task": sampleTask(id: "after")])) == "after"
            usleep(100_000)
        }
        stop.withLock { $0 = true }
        usleep(300_000)
        let seen = outcomes.withLock { $0 }
        #expect(sawUnhealthy, "health_check never said false while PostgreSQL was down")
        #expect(recovered, "the proxy did not resume by itself")
        #expect((seen["ok"] ?? 0) > 10)
        #expect((seen["error -32003"] ?? 0) > 0, "the outage should have been reported as retryable")
        let unexpected = seen.filter { $0.key != "ok" && $0.key != "error -32003" && $0.key != "error -32006" }
        #expect(unexpected.isEmpty, "only retryable errors are acceptable: \(seen)")
        #expect(try watcher.result("health_check") == .bool(true))
    }
}

@Suite("PostgreSQL: secrets")
struct PostgresSecretTests {
    @Test("a password in the database URL reaches neither the log nor any answer")
    func passwordNeverShown() throws {
        let password = "pw\(UInt32.random(in: 0...UInt32.max))"
        let plain = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let withPassword = plain.replacingOccurrences(of: "postgresql://postgres@", with: "postgresql://postgres:\(password)@")
        let proxy = try ProxyProcess(backend: .postgresql, arguments: ["--database", withPassword])
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t")])
        let status = try c.result("server.status").jsonText
        #expect(!status.contains(password))
        proxy.stop()
        #expect(proxy.logText.contains("Enterprise Edition: PostgreSQL postgres@"))
        #expect(!proxy.logText.contains(password))
    }
}
