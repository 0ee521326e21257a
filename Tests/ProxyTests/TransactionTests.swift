import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// Transactions per the contract, against every backend.
@Suite("Transactions (every backend)")
struct TransactionTests {
    @Test("a failed call inside a transaction is its own: the transaction goes on and commits the rest", arguments: TestBackend.allCases)
    func failedCallKeepsTheTransaction(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let a = try proxy.client()
        let tx = try a.result("begin_transaction")
        _ = try a.result("save_task", ["task": sampleTask(id: "t1"), "transaction": tx])
        #expect(try a.errorCode("save_log", ["task_id": "nobody", "level": "INFO", "message": "m", "transaction": tx]) == -32001)
        #expect(try a.errorCode("save_task", ["task": sampleTask(id: "t1", extra: [("next_run", "tomorrow")]), "transaction": tx]) == -32602)
        _ = try a.result("save_log", ["task_id": "t1", "level": "INFO", "message": "after the errors", "transaction": tx])
        _ = try a.result("update_task_status", ["task_id": "t1", "status": "running", "transaction": tx])
        #expect(try a.result("commit_transaction", ["transaction": tx]) == .null)
        #expect(try a.result("get_task", ["task_id": "t1"]).objectValue?["status"] == "running")
        #expect(try a.result("query_logs", ["task_id": "t1"]).arrayValue?.count == 1)
    }

    @Test("commit makes the writes visible to others; reads inside see them first", arguments: TestBackend.allCases)
    func commit(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let a = try proxy.client(), b = try proxy.client()
        _ = try a.result("save_task", ["task": sampleTask(id: "t0")])
        #expect(try b.result("get_task", ["task_id": "t0"]).objectValue?["status"] == "pending")  // cached by b
        let tx = try a.result("begin_transaction")
        #expect(tx.stringValue?.isEmpty == false)
        _ = try a.result("save_task", ["task": sampleTask(id: "t1"), "transaction": tx])
        _ = try a.result("update_task_status", ["task_id": "t0", "status": "running", "transaction": tx])
        _ = try a.result("save_log", ["task_id": "t1", "level": "INFO", "message": "in tx", "transaction": tx])
        #expect(try a.result("get_task", ["task_id": "t1", "transaction": tx]).objectValue?["id"] == "t1")
        #expect(try a.result("get_task", ["task_id": "t0", "transaction": tx]).objectValue?["status"] == "running")
        #expect(try b.result("get_task", ["task_id": "t1"]) == .null)
        #expect(try b.result("get_task", ["task_id": "t0"]).objectValue?["status"] == "pending")
        #expect(try a.result("commit_transaction", ["transaction": tx]) == .null)
        #expect(try b.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1")
        #expect(try b.result("get_task", ["task_id": "t0"]).objectValue?["status"] == "running")  // cache invalidated at commit
        #expect(try b.result("query_logs", ["task_id": "t1"]).arrayValue?.count == 1)
        #expect(try a.errorCode("commit_transaction", ["transaction": tx]) == -32004)  // the handle is gone
    }

    @Test("rollback discards the writes", arguments: TestBackend.allCases)
    func rollback(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let a = try proxy.client()
        let tx = try a.result("begin_transaction")
        _ = try a.result("save_task", ["task": sampleTask(id: "t1"), "transaction": tx])
        _ = try a.result("save_metadata", ["key": "k", "value": 1, "transaction": tx])
        #expect(try a.result("rollback_transaction", ["transaction": tx]) == .null)
        #expect(try a.result("get_task", ["task_id": "t1"]) == .null)
        #expect(try a.result("get_metadata", ["key": "k"]) == .null)
        // A request without the handle runs outside any transaction.
        _ = try a.result("save_task", ["task": sampleTask(id: "t2")])
        #expect(try a.result("get_task", ["task_id": "t2"]) != .null)
    }

    @Test("a handle is useless on another connection, and unknown handles are -32004", arguments: TestBackend.allCases)
    func foreignAndUnknownHandles(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let a = try proxy.client(), b = try proxy.client()
        let tx = try a.result("begin_transaction")
        #expect(try b.errorCode("get_task", ["task_id": "x", "transaction": tx]) == -32004)
        #expect(try b.errorCode("commit_transaction", ["transaction": tx]) == -32004)
        #expect(try a.errorCode("get_task", ["task_id": "x", "transaction": "made-up"]) == -32004)
        #expect(try a.result("commit_transaction", ["transaction": tx]) == .null)  // still a's to finish
    }

    @Test("closing the connection rolls its transaction back and frees the writer", arguments: TestBackend.allCases)
    func disconnectRollsBack(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let a = try proxy.client()
        let tx = try a.result("begin_transaction")
        _ = try a.result("save_task", ["task": sampleTask(id: "t1"), "transaction": tx])
        a.close()
        let b = try proxy.client()
        // The next write must go through promptly (the lock was released).
        let start = Date()
        _ = try b.result("save_task", ["task": sampleTask(id: "t2")])
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(try b.result("get_task", ["task_id": "t1"]) == .null)
    }

    @Test("an idle transaction is rolled back after the timeout", arguments: TestBackend.allCases)
    func idleTimeout(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig("server:\n  transaction_timeout: 1\n")])
        let a = try proxy.client()
        let tx = try a.result("begin_transaction")
        _ = try a.result("save_task", ["task": sampleTask(id: "t1"), "transaction": tx])
        usleep(2_600_000)
        #expect(try a.errorCode("commit_transaction", ["transaction": tx]) == -32004)
        #expect(try a.result("get_task", ["task_id": "t1"]) == .null)
    }
}
