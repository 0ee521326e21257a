import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// A disk that fills up under SQLite: writes fail with a retryable error,
/// nothing acknowledged is lost, the file stays sound, and writes succeed
/// again once there is room. The disk is a real small tmpfs (the tests run
/// as root in CI, which `scripts/test` needs for apt-get anyway).
@Suite("SQLite: disk full")
struct DiskFullTests {
    @Test("a full disk: retryable -32003, reads go on, nothing acknowledged lost, integrity_check ok, writes resume once freed")
    func diskFull() throws {
        let disk = try Tmpfs(megabytes: 24)
        defer { disk.unmount() }
        // A filler to delete later: the space the proxy gets back.
        let filler = disk.path + "/filler"
        try Data(count: 12 << 20).write(to: URL(fileURLWithPath: filler))

        let proxy = try ProxyProcess(arguments: ["--database", disk.path + "/data.db"])
        let c = try proxy.client()
        let prompt = String(repeating: "x", count: 200_000)
        var acked: [String] = []
        var full: JSONObject?
        for i in 0..<200 {
            let id = "t\(i)"
            let r = try c.call("save_task", ["task": sampleTask(id: id, extra: [("task_prompt", .string(prompt))])])
            if r["result"] == .string(id) { acked.append(id); continue }
            full = r["error"]?.objectValue
            break
        }
        let error = try #require(full, "12 MiB of room should not hold 200 tasks of 200 kB")
        #expect(error["code"] == -32003)
        #expect(error["message"]?.stringValue?.contains("disk is full") == true, "\(error)")
        #expect(error["data"]?.objectValue?["retryable"] == .bool(true))
        #expect(acked.count > 10)

        // Reads go on while the disk is full; so does the rest of the server.
        for id in acked { #expect(try c.result("get_task", ["task_id": .string(id)]).objectValue?["id"] == .string(id)) }
        #expect(try c.result("health_check") == true)

        // Room again: the same write succeeds (after at most a few retries).
        try FileManager.default.removeItem(atPath: filler)
        var resumed = false
        for _ in 0..<5 where !resumed {
            resumed = try c.call("save_task", ["task": sampleTask(id: "after")])["result"] == "after"
            if !resumed { usleep(200_000) }
        }
        #expect(resumed, "writes should succeed once space is freed")

        #expect(proxy.stop(signal: SIGTERM) == .exited(0))
        let check = try runProgram("/usr/bin/env", ["python3", "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])", disk.path + "/data.db"])
        #expect(check.out.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(check.out) \(check.err)")
        try proxy.start()
        let d = try proxy.client()
        var missing: [String] = []
        for id in acked + ["after"] where try d.result("get_task", ["task_id": .string(id)]) == .null { missing.append(id) }
        #expect(missing.isEmpty, "lost acknowledged writes: \(missing)")
    }
}

/// A small tmpfs of our own, mounted on a fresh folder (needs root).
struct Tmpfs {
    let path: String

    init(megabytes: Int, readOnly: Bool = false) throws {
        path = ProxyProcess.makeTempDir()
        let options = "size=\(megabytes)m" + (readOnly ? ",ro" : "")
        let run = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", path])
        guard run.status == 0 else {
            throw ClientError("cannot mount a tmpfs on \(path) (the disk tests need root): \(run.err)")
        }
    }

    func unmount() {
        _ = try? runProgram("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }
}
