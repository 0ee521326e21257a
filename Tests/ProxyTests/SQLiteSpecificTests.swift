import Foundation
import StorageCore
import StorageProxyClient
import Testing

/// What only SQLite does: one writer at a time.
@Suite("SQLite: the single writer")
struct SQLiteSpecificTests {
    @Test("a write that cannot start within busy_timeout gets the retryable -32003; it succeeds once the lock is free")
    func busyWriterIsRetryable() throws {
        let config = try writeConfig("storage:\n  sqlite:\n    busy_timeout_ms: 300\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        let a = try proxy.client(), b = try proxy.client()
        let tx = try a.result("begin_transaction")  // holds the write lock
        let started = Date()
        let r = try b.call("save_task", ["task": sampleTask(id: "t1")])
        let error = try #require(r["error"]?.objectValue)
        #expect(error["code"] == -32003)
        #expect(error["data"]?.objectValue?["retryable"] == .bool(true))
        #expect((error["data"]?.objectValue?["retry_after_ms"]?.intValue ?? 0) > 0)
        #expect(Date().timeIntervalSince(started) >= 0.25)
        // Reads are not blocked by the writer.
        #expect(try b.result("list_tasks") == [])
        _ = try a.result("commit_transaction", ["transaction": tx])
        #expect(try b.result("save_task", ["task": sampleTask(id: "t1")]) == "t1")
    }

    @Test("two connections inserting one new id in the same group commit: the second becomes an update, not an error")
    func sameIDInOneGroupCommit() throws {
        // Each write runs in its own savepoint inside the shared transaction, so
        // the second sees the first and merges into it.
        let proxy = try ProxyProcess()
        let a = try proxy.client(), b = try proxy.client()
        try a.send(#"{"id":1,"method":"save_task","params":{"task":{"id":"same","agent_name":"a","task_prompt":"p","schedule_type":"c","schedule_value":"v"}}}"# + "\n")
        try b.send(#"{"id":1,"method":"save_task","params":{"task":{"id":"same","agent_name":"b","task_prompt":"p","schedule_type":"c","schedule_value":"v"}}}"# + "\n")
        #expect(try a.readLine()?.contains("\"result\":\"same\"") == true)
        #expect(try b.readLine()?.contains("\"result\":\"same\"") == true)
        #expect(try a.result("list_tasks").arrayValue?.count == 1)
    }
}
