import ProxyCore

/// The contract's storage methods, typed. `ProxyClient` runs them on their
/// own; a `Transaction` runs the same ones inside its transaction. Records
/// are JSON objects as the proxy answers them (times as RFC 3339 strings).
public protocol StorageCalls: Sendable {
    func storageCall(_ method: String, _ params: JSONObject) async throws -> JSONValue
}

extension StorageCalls {
    @discardableResult
    public func saveTask(_ task: JSONObject) async throws -> String {
        try await storageCall("save_task", ["task": .object(task)]).stringValue ?? ""
    }

    public func getTask(_ id: String) async throws -> JSONObject? {
        try await storageCall("get_task", ["task_id": .string(id)]).objectValue
    }

    public func listTasks(agentName: String? = nil, status: String? = nil, limit: Int? = nil, offset: Int? = nil) async throws -> [JSONObject] {
        var p = JSONObject()
        if let agentName { p["agent_name"] = .string(agentName) }
        if let status { p["status"] = .string(status) }
        if let limit { p["limit"] = .int(Int64(limit)) }
        if let offset { p["offset"] = .int(Int64(offset)) }
        return try await storageCall("list_tasks", p).arrayValue?.compactMap(\.objectValue) ?? []
    }

    /// How many tasks match; `leasedAt`: only those running under a lease live then (what `maxRunning` counts).
    /// (`call("count_tasks", ["group_by": "status"])` counts by status or agent.)
    public func countTasks(agentName: String? = nil, status: String? = nil, leasedAt: Timestamp? = nil) async throws -> Int {
        var p = JSONObject()
        if let agentName { p["agent_name"] = .string(agentName) }
        if let status { p["status"] = .string(status) }
        if let leasedAt { p["leased_at"] = .string(leasedAt.rfc3339) }
        return Int(try await storageCall("count_tasks", p).intValue ?? 0)
    }

    @discardableResult
    public func deleteTask(_ id: String) async throws -> Bool {
        try await storageCall("delete_task", ["task_id": .string(id)]).boolValue ?? false
    }

    @discardableResult
    public func updateTaskStatus(_ id: String, status: String, lastRun: Timestamp? = nil, nextRun: Timestamp? = nil) async throws -> Bool {
        var p: JSONObject = ["task_id": .string(id), "status": .string(status)]
        if let lastRun { p["last_run"] = .string(lastRun.rfc3339) }
        if let nextRun { p["next_run"] = .string(nextRun.rfc3339) }
        return try await storageCall("update_task_status", p).boolValue ?? false
    }

    @discardableResult
    public func saveLog(taskID: String, level: String, message: String, metadata: JSONObject? = nil) async throws -> String {
        var p: JSONObject = ["task_id": .string(taskID), "level": .string(level), "message": .string(message)]
        if let metadata { p["metadata"] = .object(metadata) }
        return try await storageCall("save_log", p).stringValue ?? ""
    }

    public func queryLogs(taskID: String? = nil, level: String? = nil, startTime: Timestamp? = nil, endTime: Timestamp? = nil,
                          limit: Int? = nil) async throws -> [JSONObject] {
        var p = JSONObject()
        if let taskID { p["task_id"] = .string(taskID) }
        if let level { p["level"] = .string(level) }
        if let startTime { p["start_time"] = .string(startTime.rfc3339) }
        if let endTime { p["end_time"] = .string(endTime.rfc3339) }
        if let limit { p["limit"] = .int(Int64(limit)) }
        return try await storageCall("query_logs", p).arrayValue?.compactMap(\.objectValue) ?? []
    }

    @discardableResult
    public func deleteOldLogs(before: Timestamp) async throws -> Int {
        Int(try await storageCall("delete_old_logs", ["before": .string(before.rfc3339)]).intValue ?? 0)
    }

    public func saveMetadata(_ key: String, _ value: JSONValue) async throws {
        _ = try await storageCall("save_metadata", ["key": .string(key), "value": value])
    }

    public func getMetadata(_ key: String) async throws -> JSONValue {
        try await storageCall("get_metadata", ["key": .string(key)])
    }
}
