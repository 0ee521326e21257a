import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// What one client can do to everyone else with transactions, found by
/// hostile-client testing: leak one past its connection, hold a lock for
/// ever, or open thousands (a thread each on SQLite).
@Suite("Transaction limits")
struct TransactionLimitsTests {
    func openTransactions(_ c: LineClient) throws -> (open: Int64, opening: Int64) {
        let t = try c.result("server.status").objectValue?["transactions"]?.objectValue
        return (t?["open"]?.intValue ?? -1, t?["opening"]?.intValue ?? -1)
    }

    func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    @Test("a transaction whose connection reset while it opened is rolled back, not leaked", arguments: TestBackend.allCases)
    func resetWhileOpening(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--listen", "127.0.0.1:0"])
        let port = try #require(proxy.tcpPort)
        for _ in 0..<20 {
            let c = try LineClient(.tcp(host: "127.0.0.1", port: port))
            try c.send("{\"id\":1,\"method\":\"begin_transaction\"}\n{\"id\":2,\"method\":\"save_metadata\",\"params\":{\"key\":\"k\",\"value\":1}}\n")
            c.reset()
        }
        let observer = try proxy.client()
        #expect(try waitUntil(5) { try openTransactions(observer) == (0, 0) })
        // Nothing holds a lock: another client writes at once.
        let started = Date()
        _ = try observer.result("save_task", ["task": sampleTask(id: "after")])
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test("transactions are capped per connection and in all, opening ones included", arguments: TestBackend.allCases)
    func caps(backend: TestBackend) throws {
        let config = try writeConfig("server:\n  max_transactions: 5\n  max_transactions_per_connection: 3\n")
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", config])
        let a = try proxy.client(), b = try proxy.client()
        // 50 begins pipelined on one line each, sent at once: 3 open, the rest -32006.
        try a.send(String(repeating: "{\"id\":1,\"method\":\"begin_transaction\"}\n", count: 50))
        var codes: [Int64] = []
        for _ in 0..<50 {
            let line = try #require(try a.readLine())
            let answer = try JSONParser.parse(line).objectValue!
            codes.append(answer["error"]?.objectValue?["code"]?.intValue ?? 0)
        }
        #expect(codes.filter { $0 == 0 }.count == 3)
        #expect(codes.filter { $0 == -32006 }.count == 47)
        _ = try b.result("begin_transaction")
        _ = try b.result("begin_transaction")
        #expect(try b.errorCode("begin_transaction") == -32006)  // 5 in all
        let status = try b.call("begin_transaction")
        #expect(status["error"]?.objectValue?["message"]?.stringValue?.contains("max_transactions") == true)
        if let pid = proxy.process?.pid, backend == .sqlite {
            let threads = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                .split(separator: "\n").first { $0.hasPrefix("Threads:") }
            let count = Int(threads?.split(separator: "\t").last ?? "") ?? 0
            #expect(count < 40, "threads: \(count)")
        }
        a.close()  // its 3 go; the places are free again
        #expect(waitUntil(5) { (try? b.result("begin_transaction")) != nil })
    }

    @Test("a transaction touched every few hundred ms still ends at its maximum lifetime", arguments: TestBackend.allCases)
    func maximumLifetime(backend: TestBackend) throws {
        let config = try writeConfig("server:\n  transaction_timeout: 30\n  transaction_max_lifetime: 1.5\n")
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", config])
        let a = try proxy.client(), b = try proxy.client()
        let tx = try a.result("begin_transaction")
        _ = try a.result("save_metadata", ["key": "held", "value": 1, "transaction": tx])
        var ended = false
        for _ in 0..<40 where !ended {
            usleep(200_000)
            ended = try a.errorCode("get_metadata", ["key": "held", "transaction": tx]) == -32004
        }
        #expect(ended)
        #expect(try b.result("get_metadata", ["key": "held"]) == .null)  // rolled back
        _ = try b.result("save_metadata", ["key": "free", "value": 2])
        #expect(proxy.logText.contains("transaction_max_lifetime"))
    }

    /// SQLite: the write lock is taken at a transaction's first write, and a
    /// writer kept waiting learns how long the holder has had it.
    @Test func sqliteTakesTheWriteLockAtTheFirstWrite() throws {
        let config = try writeConfig("storage:\n  sqlite:\n    busy_timeout_ms: 300\n")
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", config])
        let a = try proxy.client(), b = try proxy.client()
        let tx = try a.result("begin_transaction")
        _ = try a.result("get_metadata", ["key": "x", "transaction": tx])  // a read: no lock
        let started = Date()
        _ = try b.result("save_metadata", ["key": "by-b", "value": 1])
        #expect(Date().timeIntervalSince(started) < 1)
        // a read before b's commit: its snapshot is stale, so its first write is a conflict.
        #expect(try a.errorCode("save_metadata", ["key": "by-a", "value": 1, "transaction": tx]) == -32002)
        _ = try a.result("rollback_transaction", ["transaction": tx])

        let tx2 = try a.result("begin_transaction")
        _ = try a.result("save_metadata", ["key": "by-a", "value": 1, "transaction": tx2])  // takes the lock
        usleep(1_200_000)
        let busy = try b.call("save_metadata", ["key": "by-b", "value": 2])
        let error = try #require(busy["error"]?.objectValue)
        #expect(error["code"] == -32003)
        let hint = error["data"]?.objectValue?["retry_after_ms"]?.intValue ?? 0
        #expect(hint >= 1_200, "retry_after_ms \(hint)")
        _ = try a.result("commit_transaction", ["transaction": tx2])
        _ = try b.result("save_metadata", ["key": "by-b", "value": 2])
    }
}
