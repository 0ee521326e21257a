import Foundation
import ProxyCore
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
        let tx = try a.result("begin_transaction")
        _ = try a.result("save_metadata", ["key": "k", "value": 1, "transaction": tx])  // its first write takes the lock
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

    @Test("writes pipelined on one connection share group commits, and still apply in the order sent")
    func pipelinedWritesShareCommits() throws {
        let proxy = try ProxyProcess()
        let c = try proxy.client()
        let before = try c.result("server.status").objectValue?["storage"]?.objectValue?["commits"]?.intValue ?? -1
        // One line each, sent at once: the task, 300 status changes of it, 300 logs for it.
        var lines = #"{"id":0,"method":"save_task","params":{"task":{"id":"w","agent_name":"a","task_prompt":"p","schedule_type":"c","schedule_value":"v"}}}"# + "\n"
        for i in 1...300 {
            lines += #"{"id":\#(2 * i - 1),"method":"update_task_status","params":{"task_id":"w","status":"s\#(i)"}}"# + "\n"
            lines += #"{"id":\#(2 * i),"method":"save_log","params":{"task_id":"w","level":"INFO","message":"m\#(i)"}}"# + "\n"
        }
        try c.send(lines)
        for i in 0...600 {
            let answer = try #require(try c.readLine())
            #expect(answer.contains("\"id\":\(i),\"result\":"), "\(answer)")  // every one applied, none failed
        }
        #expect(try c.result("get_task", ["task_id": "w"]).objectValue?["status"] == "s300")  // the last one sent won
        let logs = try c.result("query_logs", ["task_id": "w", "limit": 1000]).arrayValue ?? []
        #expect(logs.count == 300)
        let status = try c.result("server.status").objectValue?["storage"]?.objectValue
        let commits = (status?["commits"]?.intValue ?? 0) - before
        // One commit per write would be 601; chained writes share commits.
        #expect(commits > 0 && commits < 300, "\(commits) commits for 601 writes")
    }
}
