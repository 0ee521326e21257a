import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The contract's storage methods, run against every backend alike.
@Suite("Storage behaviour (every backend)")
struct StorageBehaviourTests {
    @Test("health_check is true", arguments: TestBackend.allCases)
    func healthCheck(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        #expect(try proxy.client().result("health_check") == .bool(true))
    }

    @Test("save_task inserts with defaults, keeps extra fields, get_task returns it", arguments: TestBackend.allCases)
    func saveAndGet(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let id = try c.result("save_task", ["task": sampleTask(extra: [("priority", 3), ("tags", ["a", "b"])])])
        let idText = try #require(id.stringValue)
        let task = try #require(try c.result("get_task", ["task_id": id]).objectValue)
        #expect(task["id"] == id)
        #expect(task["agent_name"] == "agent-a")
        #expect(task["repeat"] == .bool(false))
        #expect(task["enabled"] == .bool(true))
        #expect(task["status"] == "pending")
        #expect(task["repeat_interval"] == .null)
        #expect(task["last_run"] == .null)
        #expect(task["priority"] == 3)
        #expect(task["tags"] == ["a", "b"])
        let created = try #require(task["created_at"]?.stringValue)
        #expect(created.count == 27 && created.hasSuffix("Z"))
        #expect(task["updated_at"] == task["created_at"])
        // Server ids sort by creation time.
        let second = try #require(try c.result("save_task", ["task": sampleTask()]).stringValue)
        #expect(second > idText)
    }

    @Test("save_task on an existing id merges and never changes created_at", arguments: TestBackend.allCases)
    func saveMerges(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let created = "2026-01-02T03:04:05.123456Z"
        _ = try c.result("save_task", ["task": sampleTask(id: "t1", extra: [("created_at", .string(created)), ("note", "x")])])
        let before = try #require(try c.result("get_task", ["task_id": "t1"]).objectValue)
        #expect(before["created_at"] == .string(created))  // a client's created_at on insert is kept
        usleep(2000)
        let id = try c.result("save_task", ["task": ["id": "t1", "status": "running", "created_at": "2020-01-01T00:00:00Z",
                                                    "updated_at": "1999-01-01T00:00:00Z", "enabled": false]])
        #expect(id == "t1")
        let after = try #require(try c.result("get_task", ["task_id": "t1"]).objectValue)
        #expect(after["status"] == "running")
        #expect(after["enabled"] == .bool(false))
        #expect(after["task_prompt"] == before["task_prompt"])
        #expect(after["note"] == "x")
        #expect(after["created_at"] == .string(created))
        #expect(after["updated_at"] != before["updated_at"])
        #expect(after["updated_at"] != "1999-01-01T00:00:00.000000Z")
    }

    @Test("save_task rejects missing and mistyped fields, naming them", arguments: TestBackend.allCases)
    func saveValidates(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        var missing = sampleTask().objectValue!
        missing["agent_name"] = nil
        let r1 = try c.call("save_task", ["task": .object(missing)])
        #expect(r1["error"]?.objectValue?["code"] == -32602)
        #expect(r1["error"]?.objectValue?["data"]?.objectValue?["field"] == "task.agent_name")
        var typed = sampleTask().objectValue!
        typed["repeat"] = "yes"
        let r2 = try c.call("save_task", ["task": .object(typed)])
        #expect(r2["error"]?.objectValue?["data"]?.objectValue?["field"] == "task.repeat")
        #expect(try c.errorCode("save_task", ["task": sampleTask(id: String(repeating: "x", count: 129))]) == -32602)
        #expect(try c.errorCode("save_task", ["task": sampleTask(extra: [("next_run", 12345)])]) == -32602)
        #expect(try c.errorCode("save_task", ["task": "not an object"]) == -32602)
        #expect(try c.errorCode("save_task", [:]) == -32602)
        #expect(try c.result("list_tasks") == [])  // nothing was stored by the failures
    }

    @Test("get_task of an unknown id is null", arguments: TestBackend.allCases)
    func getUnknown(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        #expect(try proxy.client().result("get_task", ["task_id": "nope"]) == .null)
    }

    @Test("list_tasks filters, pages and orders by created_at then id", arguments: TestBackend.allCases)
    func listTasks(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let t0 = "2026-01-01T00:00:00Z"
        for (id, agent, status) in [("b", "x", "pending"), ("a", "x", "done"), ("c", "y", "pending"), ("d", "x", "pending")] {
            _ = try c.result("save_task", ["task": sampleTask(agent: agent, id: id, extra: [("status", .string(status)), ("created_at", .string(t0))])])
        }
        _ = try c.result("save_task", ["task": sampleTask(agent: "x", id: "0-late", extra: [("created_at", "2026-02-01T00:00:00Z")])])
        func ids(_ params: JSONValue) throws -> [String] {
            try c.result("list_tasks", params).arrayValue!.map { $0.objectValue!["id"]!.stringValue! }
        }
        #expect(try ids([:]) == ["a", "b", "c", "d", "0-late"])
        #expect(try ids(["agent_name": "x"]) == ["a", "b", "d", "0-late"])
        #expect(try ids(["agent_name": "x", "status": "pending"]) == ["b", "d", "0-late"])
        #expect(try ids(["status": "done"]) == ["a"])
        #expect(try ids(["limit": 2, "offset": 1]) == ["b", "c"])
        #expect(try c.errorCode("list_tasks", ["limit": 0]) == -32602)
        #expect(try c.errorCode("list_tasks", ["limit": 10001]) == -32602)
        #expect(try c.errorCode("list_tasks", ["offset": -1]) == -32602)
        #expect(try c.errorCode("list_tasks", ["agent": "x"]) == -32602)  // unknown parameter names are errors
    }

    @Test("delete_task reports existence and takes the task's logs along", arguments: TestBackend.allCases)
    func deleteTask(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
        _ = try c.result("save_log", ["task_id": "t1", "level": "info", "message": "m"])
        #expect(try c.result("query_logs", ["task_id": "t1"]).arrayValue?.count == 1)
        #expect(try c.result("delete_task", ["task_id": "t1"]) == .bool(true))
        #expect(try c.result("delete_task", ["task_id": "t1"]) == .bool(false))
        #expect(try c.result("get_task", ["task_id": "t1"]) == .null)
        #expect(try c.result("query_logs", ["task_id": "t1"]) == [])
    }

    @Test("update_task_status keeps absent times and converts offsets to UTC", arguments: TestBackend.allCases)
    func updateStatus(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
        #expect(try c.result("update_task_status", ["task_id": "t1", "status": "running",
                                                    "last_run": "2026-11-25T10:00:00+01:00", "next_run": "2026-11-26 09:00:00.1234567"]) == .bool(true))
        var t = try c.result("get_task", ["task_id": "t1"]).objectValue!
        #expect(t["status"] == "running")
        #expect(t["last_run"] == "2026-11-25T09:00:00.000000Z")
        #expect(t["next_run"] == "2026-11-26T09:00:00.123456Z")
        #expect(try c.result("update_task_status", ["task_id": "t1", "status": "done"]) == .bool(true))
        t = try c.result("get_task", ["task_id": "t1"]).objectValue!
        #expect(t["status"] == "done")
        #expect(t["last_run"] == "2026-11-25T09:00:00.000000Z")
        #expect(try c.result("update_task_status", ["task_id": "ghost", "status": "done"]) == .bool(false))
        #expect(try c.errorCode("update_task_status", ["task_id": "t1", "status": "x", "last_run": 1700000000]) == -32602)
        #expect(try c.errorCode("update_task_status", ["task_id": "t1", "status": "x", "last_run": "yesterday"]) == -32602)
    }

    @Test("save_log and query_logs: levels, filters, newest first", arguments: TestBackend.allCases)
    func logs(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
        _ = try c.result("save_task", ["task": sampleTask(id: "t2")])
        #expect(try c.errorCode("save_log", ["task_id": "ghost", "level": "INFO", "message": "m"]) == -32001)
        #expect(try c.errorCode("save_log", ["task_id": "t1", "level": "LOUD", "message": "m"]) == -32602)
        #expect(try c.errorCode("save_log", ["task_id": "t1", "level": "INFO", "message": "m", "metadata": [1]]) == -32602)
        var ids: [String] = []
        for (task, level, msg) in [("t1", "info", "one"), ("t1", "Error", "two"), ("t2", "DEBUG", "three"), ("t1", "warning", "four")] {
            ids.append(try c.result("save_log", ["task_id": .string(task), "level": .string(level), "message": .string(msg),
                                                 "metadata": ["n": .string(msg)]]).stringValue!)
            usleep(1500)
        }
        let all = try c.result("query_logs").arrayValue!.map { $0.objectValue! }
        #expect(all.map { $0["message"]!.stringValue! } == ["four", "three", "two", "one"])
        #expect(all[1]["level"] == "DEBUG")
        #expect(all[0]["metadata"] == ["n": "four"])
        #expect(all[3]["id"] == .string(ids[0]))
        #expect(try c.result("query_logs", ["task_id": "t1"]).arrayValue?.count == 3)
        #expect(try c.result("query_logs", ["level": "error"]).arrayValue?.first?.objectValue?["message"] == "two")
        #expect(try c.result("query_logs", ["limit": 1]).arrayValue?.count == 1)
        // start inclusive, end exclusive
        let twoAt = all[2]["created_at"]!
        let fromTwo = try c.result("query_logs", ["start_time": twoAt]).arrayValue!.map { $0.objectValue!["message"]! }
        #expect(fromTwo == ["four", "three", "two"])
        let beforeTwo = try c.result("query_logs", ["end_time": twoAt]).arrayValue!.map { $0.objectValue!["message"]! }
        #expect(beforeTwo == ["one"])
    }

    @Test("delete_old_logs deletes strictly older logs", arguments: TestBackend.allCases)
    func deleteOldLogs(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
        for m in ["a", "b", "c"] {
            _ = try c.result("save_log", ["task_id": "t1", "level": "INFO", "message": .string(m)])
            usleep(1500)
        }
        let logs = try c.result("query_logs").arrayValue!.map { $0.objectValue! }
        let cutoff = logs[1]["created_at"]!  // "b"
        #expect(try c.result("delete_old_logs", ["before": cutoff]) == 1)
        #expect(try c.result("query_logs").arrayValue!.map { $0.objectValue!["message"]! } == ["c", "b"])
        #expect(try c.errorCode("delete_old_logs", [:]) == -32602)
    }

    @Test("metadata keeps any JSON value exactly", arguments: TestBackend.allCases)
    func metadata(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let value: JSONValue = ["big": 9_007_199_254_740_991, "neg": -9_007_199_254_740_991, "f": 1.5, "s": "é\u{1F600}\"\\",
                                "n": nil, "a": [true, false, [:]]]
        #expect(try c.result("save_metadata", ["key": "k", "value": value]) == .null)
        #expect(try c.result("get_metadata", ["key": "k"]) == value)
        _ = try c.result("save_metadata", ["key": "k", "value": "replaced"])
        #expect(try c.result("get_metadata", ["key": "k"]) == "replaced")
        #expect(try c.result("get_metadata", ["key": "missing"]) == .null)
        #expect(try c.errorCode("save_metadata", ["key": "k"]) == -32602)
    }

    @Test("a string holding U+0000 is -32602 naming the field", arguments: TestBackend.allCases)
    func nulStrings(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let r = try c.exchange(#"{"id":1,"method":"save_metadata","params":{"key":"k","value":{"x":"a\u0000b"}}}"# + "\n", expect: 1)[0]
        #expect(r.objectValue?["error"]?.objectValue?["code"] == -32602)
        #expect(r.objectValue?["error"]?.objectValue?["data"]?.objectValue?["field"] == "value.x")
    }

    @Test("a write acknowledged on one connection is seen by a read on another, through the cache", arguments: TestBackend.allCases)
    func readAfterWriteAcrossConnections(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let writer = try proxy.client(), reader = try proxy.client()
        _ = try writer.result("save_task", ["task": sampleTask(id: "t1")])
        #expect(try reader.result("get_task", ["task_id": "t1"]).objectValue?["status"] == "pending")  // now cached
        #expect(try reader.result("list_tasks").arrayValue?.count == 1)
        for status in ["running", "done", "failed"] {
            _ = try writer.result("update_task_status", ["task_id": "t1", "status": .string(status)])
            #expect(try reader.result("get_task", ["task_id": "t1"]).objectValue?["status"] == .string(status))
            #expect(try reader.result("list_tasks", ["status": .string(status)]).arrayValue?.count == 1)
        }
        _ = try writer.result("save_task", ["task": sampleTask(id: "t2")])
        #expect(try reader.result("list_tasks").arrayValue?.count == 2)
        _ = try writer.result("delete_task", ["task_id": "t1"])
        #expect(try reader.result("get_task", ["task_id": "t1"]) == .null)
        #expect(try reader.result("list_tasks").arrayValue?.count == 1)
    }
}
