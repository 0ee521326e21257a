import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// Starting, stopping, crashing, and what survives each.
@Suite("Server lifecycle and durability")
struct LifecycleTests {
    @Test("a restart keeps every acknowledged write", arguments: TestBackend.allCases)
    func restartKeepsWrites(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        for i in 0..<50 { _ = try c.result("save_task", ["task": sampleTask(id: "t\(i)")]) }
        _ = try c.result("save_log", ["task_id": "t1", "level": "INFO", "message": "kept"])
        _ = try c.result("save_metadata", ["key": "k", "value": ["v": 1]])
        #expect(proxy.stop(signal: SIGTERM) == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: proxy.socketPath))  // removed on a clean stop
        try proxy.start()
        let d = try proxy.client()
        #expect(try d.result("list_tasks", ["limit": 1000]).arrayValue?.count == 50)
        #expect(try d.result("query_logs", ["task_id": "t1"]).arrayValue?.first?.objectValue?["message"] == "kept")
        #expect(try d.result("get_metadata", ["key": "k"]) == ["v": 1])
    }

    /// Crash consistency: writers with known ids (tasks, logs, and
    /// transactions of two writes) run against the proxy, which is killed
    /// with SIGKILL at a random moment, restarted on the same store, and
    /// checked: every write acknowledged in any cycle so far is there.
    @Test("kill -9 at random moments, many times: every acknowledged write is found", arguments: TestBackend.allCases)
    func killNineKeepsAcknowledgedWrites(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let cycles = underSanitizer ? 4 : 10
        var tasks: [String] = [], logs: [String] = [], transactions: [String] = []
        var generator = SystemRandomNumberGenerator()
        for cycle in 0..<cycles {
            let acked = Locked<(tasks: [String], logs: [String], transactions: [String])>(([], [], []))
            let threads = (0..<6).map { w in
                Thread {
                    guard let c = try? proxy.client() else { return }
                    for i in 0..<1_000_000 {
                        let id = "c\(cycle)-w\(w)-\(i)"
                        switch i % 3 {
                        case 0, 1:
                            guard let r = try? c.call("save_task", ["task": sampleTask(id: id)]), r["result"] == .string(id) else { return }
                            acked.withLock { $0.tasks.append(id) }
                            guard i % 3 == 1 else { continue }
                            guard let l = try? c.call("save_log", ["task_id": .string(id), "level": "INFO", "message": .string(id)]),
                                  l["result"] != nil else { return }
                            acked.withLock { $0.logs.append(id) }
                        default:
                            // Both writes of a committed transaction, or neither.
                            guard let b = try? c.call("begin_transaction"), case .string(let tx)? = b["result"],
                                  (try? c.call("save_task", ["task": sampleTask(id: id), "transaction": .string(tx)]))?["result"] != nil,
                                  (try? c.call("save_metadata", ["key": .string(id), "value": ["cycle": .int(Int64(cycle))], "transaction": .string(tx)]))?["result"] != nil,
                                  (try? c.call("commit_transaction", ["transaction": .string(tx)]))?["result"] != nil
                            else { return }
                            acked.withLock { $0.transactions.append(id) }
                        }
                    }
                }
            }
            threads.forEach { $0.start() }
            usleep(UInt32.random(in: 50_000...600_000, using: &generator))
            proxy.stop(signal: SIGKILL)
            usleep(100_000)  // the writers see their connections end
            acked.withLock {
                tasks += $0.tasks
                logs += $0.logs
                transactions += $0.transactions
            }
            try proxy.start()  // the same store; reuses the leftover socket file

            let c = try proxy.client()
            var missing: [String] = []
            for id in tasks + transactions where try c.result("get_task", ["task_id": .string(id)]) == .null { missing.append("task " + id) }
            for id in logs where try c.result("query_logs", ["task_id": .string(id)]).arrayValue?.first?.objectValue?["message"] != .string(id) {
                missing.append("log " + id)
            }
            for id in transactions where try c.result("get_metadata", ["key": .string(id)]) == .null { missing.append("metadata " + id) }
            #expect(missing.isEmpty, "cycle \(cycle): lost acknowledged writes: \(missing.prefix(10))")
            if !missing.isEmpty { break }
        }
        let writes = tasks.count + logs.count + 2 * transactions.count
        #expect(tasks.count > 100 && transactions.count > 20, "the load should have been acknowledged many times before the kills")
        print("kill -9 on \(backend): \(cycles) cycles, \(writes) acknowledged writes (\(tasks.count) tasks, \(logs.count) logs, \(transactions.count) transactions of 2), all found")
    }

    @Test("SIGTERM answers what was received, then exits 0")
    func sigtermAnswersInFlight() throws {
        let proxy = try ProxyProcess()
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
        let n = 400
        let text = (0..<n).map { #"{"id":\#($0),"method":"save_log","params":{"task_id":"t1","level":"INFO","message":"m\#($0)"}}"# }
            .joined(separator: "\n") + "\n"
        try c.send(text)
        _ = try c.readLine()  // the server is processing the batch
        let status = Locked<Int32>(-1)
        let stopper = Thread { status.withLock { $0 = proxy.stop(signal: SIGTERM)?.status ?? -2 } }
        stopper.start()
        var answered = 1
        while let line = try c.readLine() {
            #expect(line.contains("\"result\""))
            answered += 1
        }
        #expect(answered == n)
        while status.withLock({ $0 }) == -1 { usleep(10_000) }
        #expect(status.withLock { $0 } == 0)
        try proxy.start()
        #expect(try proxy.client().result("query_logs", ["limit": 1000]).arrayValue?.count == n)
    }

    @Test("a second server on a live socket refuses to start; the socket is mode 0660")
    func liveSocketIsNotStolen() throws {
        let proxy = try ProxyProcess()
        var st = stat()
        #expect(stat(proxy.socketPath, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        let second = try runCLI(["serve", "--socket", proxy.socketPath, "--database", proxy.dir + "/other.db"])
        #expect(second.status != 0)
        #expect(second.err.contains("already listening"))
        #expect(try proxy.client().result("health_check") == .bool(true))
    }

    @Test("over max_connections a client gets overloaded, then EOF; the others are unaffected")
    func maxConnections() throws {
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig("server:\n  max_connections: 3\n")])
        let kept = try (0..<3).map { _ in try proxy.client() }
        for c in kept { #expect(try c.result("health_check") == .bool(true)) }
        let extra = try proxy.client()
        let line = try #require(try extra.readLine())
        #expect(line.contains("-32006"))
        #expect(try extra.readLine() == nil)
        #expect(try kept[0].result("health_check") == .bool(true))
        kept[2].close()
        usleep(100_000)
        #expect(try proxy.client().result("health_check") == .bool(true))
    }

    @Test("idle connections are closed after idle_timeout")
    func idleTimeout() throws {
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig("server:\n  idle_timeout: 1\n")])
        let c = try proxy.client()
        #expect(try c.result("health_check") == .bool(true))
        let start = Date()
        #expect(try c.readLine() == nil)
        #expect(Date().timeIntervalSince(start) < 4)
    }

    @Test("TCP with a token: auth must come first, wrong tokens fail, the token never reaches the log")
    func tcpAuth() throws {
        let token = "s3cret-\(UInt64.random(in: 0...UInt64.max))"
        setenv("TEST_PROXY_TOKEN", token, 1)
        let config = try writeConfig("server:\n  listen: \"127.0.0.1:0\"\n  auth_token: ${TEST_PROXY_TOKEN}\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        let port = try #require(proxy.tcpPort)
        let c = try LineClient(.tcp(host: "127.0.0.1", port: port))
        #expect(try c.errorCode("get_task", ["task_id": "x"]) == -32007)
        #expect(try c.errorCode("auth", ["token": "wrong"]) == -32007)
        #expect(try c.result("auth", ["token": .string(token)]) == .bool(true))
        #expect(try c.result("health_check") == .bool(true))
        // The Unix socket does not ask (file permissions guard it).
        #expect(try proxy.client().result("health_check") == .bool(true))
        let status = try c.result("server.status").jsonText
        #expect(!status.contains(token))
        proxy.stop()
        #expect(!proxy.logText.contains(token))
    }

    @Test("a non-loopback bind without a token is refused")
    func insecureBindRefused() throws {
        let dir = ProxyProcess.makeTempDir()
        let run = try runCLI(["serve", "--socket", "\(dir)/p.sock", "--database", "\(dir)/d.db", "--listen", "0.0.0.0:0"])
        #expect(run.status != 0)
        #expect(run.err.contains("auth_token"))
    }

    @Test("server.status counts requests and errors per method")
    func status() throws {
        let proxy = try ProxyProcess()
        let c = try proxy.client()
        func calls(_ s: JSONObject, _ method: String, _ field: String) -> Int64 {
            s["requests"]?.objectValue?["by_method"]?.objectValue?[method]?.objectValue?[field]?.intValue ?? 0
        }
        let before = try #require(try c.result("server.status").objectValue)
        for _ in 0..<5 { _ = try c.result("health_check") }
        _ = try c.call("get_task", [:])
        let s = try #require(try c.result("server.status").objectValue)
        #expect(calls(s, "health_check", "calls") - calls(before, "health_check", "calls") == 5)
        #expect(calls(s, "get_task", "errors") == 1)
        #expect(s["connections"]?.objectValue?["open"] == 1)
        #expect(s["storage"]?.objectValue?["type"] == "sqlite")
        #expect(s["cache"]?.objectValue?["type"] == "memory")
    }
}
