import ProxyCore

/// The contract's operations as SQL on one connection. Called on whichever
/// worker owns the connection; parameters are always bound.
extension SQLiteConnection {
    static let taskColumns = """
        id, agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, \
        created_at, updated_at, last_run, next_run, status, extra
        """

    func task(from row: Row) -> TaskRecord {
        TaskRecord(
            id: row.string(0), agentName: row.string(1), taskPrompt: row.string(2),
            scheduleType: row.string(3), scheduleValue: row.string(4), repeats: row.int(5) != 0,
            repeatInterval: row.optionalString(6), enabled: row.int(7) != 0,
            createdAt: row.timestamp(8), updatedAt: row.timestamp(9),
            lastRun: row.optionalTimestamp(10), nextRun: row.optionalTimestamp(11),
            status: row.string(12), extra: row.json(13)?.objectValue ?? JSONObject())
    }

    func fetchTask(id: String) throws(ProxyError) -> TaskRecord? {
        var found: TaskRecord?
        try query("SELECT \(Self.taskColumns) FROM tasks WHERE id = ?", [.text(id)]) { row in found = task(from: row) }
        return found
    }

    /// Insert, or merge into the stored row (fields present replace, others stay).
    func saveTask(_ fields: JSONObject, id: String?, now: Timestamp) throws(ProxyError) -> String {
        if let id, var existing = try fetchTask(id: id) {
            try existing.apply(fields, isUpdate: true)
            existing.updatedAt = now
            try execute("""
                UPDATE tasks SET agent_name = ?, task_prompt = ?, schedule_type = ?, schedule_value = ?, repeat = ?,
                repeat_interval = ?, enabled = ?, updated_at = ?, last_run = ?, next_run = ?, status = ?, extra = ?
                WHERE id = ?
                """, Self.values(existing) + [.text(id)])
            return id
        }
        let task = try TaskRecord.inserting(fields, id: id ?? Identifier.make(), now: now)
        try insertTask(task)  // absent: looked up above, and this thread is the only writer
        return task.id
    }

    /// Inserts a whole row unless its id is taken; returns whether it did.
    @discardableResult
    func insertTask(_ task: TaskRecord) throws(ProxyError) -> Bool {
        try execute("""
            INSERT INTO tasks (agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval,
            enabled, updated_at, last_run, next_run, status, extra, id, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
            """, Self.values(task) + [.text(task.id), .text(task.createdAt.rfc3339)]) > 0
    }

    /// The columns a save can change, in the order of the UPDATE and INSERT above.
    private static func values(_ t: TaskRecord) -> [SQLValue] {
        [.text(t.agentName), .text(t.taskPrompt), .text(t.scheduleType), .text(t.scheduleValue),
         .int(t.repeats ? 1 : 0), t.repeatInterval.map { .text($0) } ?? .null, .int(t.enabled ? 1 : 0),
         .text(t.updatedAt.rfc3339), time(t.lastRun), time(t.nextRun), .text(t.status),
         t.extra.isEmpty ? .null : .text(JSONValue.object(t.extra).jsonText)]
    }

    private static func time(_ t: Timestamp?) -> SQLValue { t.map { .text($0.rfc3339) } ?? .null }

    func listTasks(_ q: TaskQuery) throws(ProxyError) -> [TaskRecord] {
        var sql = "SELECT \(Self.taskColumns) FROM tasks"
        var args: [SQLValue] = []
        var conditions: [String] = []
        if let a = q.agentName { conditions.append("agent_name = ?"); args.append(.text(a)) }
        if let s = q.status { conditions.append("status = ?"); args.append(.text(s)) }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY created_at, id LIMIT ? OFFSET ?"
        args += [.int(Int64(q.limit)), .int(Int64(q.offset))]
        var out: [TaskRecord] = []
        var budget = q.budget
        try query(sql, args) { row throws(ProxyError) in
            try budget.spend(row.byteCount)
            out.append(task(from: row))
        }
        return out
    }

    func deleteTask(id: String) throws(ProxyError) -> Bool {
        try execute("DELETE FROM tasks WHERE id = ?", [.text(id)]) > 0
    }

    func updateTaskStatus(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?, now: Timestamp) throws(ProxyError) -> Bool {
        try execute("""
            UPDATE tasks SET status = ?, last_run = COALESCE(?, last_run), next_run = COALESCE(?, next_run), updated_at = ?
            WHERE id = ?
            """, [.text(status), Self.time(lastRun), Self.time(nextRun), .text(now.rfc3339), .text(id)]) > 0
    }

    /// Inserts unless the id is taken (`save_log` with an id is idempotent); returns whether it did.
    @discardableResult
    func insertLog(_ entry: LogEntry) throws(ProxyError) -> Bool {
        do {
            return try execute("INSERT INTO logs (id, task_id, level, message, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                        [.text(entry.id), .text(entry.taskID), .text(entry.level.rawValue), .text(entry.message),
                         entry.metadata.map { .text(JSONValue.object($0).jsonText) } ?? .null, .text(entry.createdAt.rfc3339)]) > 0
        } catch .notFound {
            throw .notFound("task \(entry.taskID) does not exist")
        }
    }

    func queryLogs(_ q: LogQuery) throws(ProxyError) -> [LogEntry] {
        var sql = "SELECT \(Self.logColumns) FROM logs"
        var args: [SQLValue] = []
        var conditions: [String] = []
        if let t = q.taskID { conditions.append("task_id = ?"); args.append(.text(t)) }
        if let l = q.level { conditions.append("level = ?"); args.append(.text(l.rawValue)) }
        if let s = q.startTime { conditions.append("created_at >= ?"); args.append(.text(s.rfc3339)) }
        if let e = q.endTime { conditions.append("created_at < ?"); args.append(.text(e.rfc3339)) }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        args.append(.int(Int64(q.limit)))
        var out: [LogEntry] = []
        var budget = q.budget
        try query(sql, args) { row throws(ProxyError) in
            try budget.spend(row.byteCount)
            out.append(log(from: row))
        }
        return out
    }

    static let logColumns = "id, task_id, level, message, metadata, created_at"

    func log(from row: Row) -> LogEntry {
        LogEntry(id: row.string(0), taskID: row.string(1), level: LogLevel(loose: row.string(2)) ?? .info,
                 message: row.string(3), metadata: row.json(4)?.objectValue, createdAt: row.timestamp(5))
    }

    func deleteOldLogs(before: Timestamp) throws(ProxyError) -> Int {
        try execute("DELETE FROM logs WHERE created_at < ?", [.text(before.rfc3339)])
    }

    func saveMetadata(key: String, value: JSONValue) throws(ProxyError) {
        try execute("INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [.text(key), .text(value.jsonText)])
    }

    func getMetadata(key: String) throws(ProxyError) -> JSONValue? {
        var found: JSONValue?
        try query("SELECT value FROM metadata WHERE key = ?", [.text(key)]) { row in found = row.json(0) }
        return found
    }
}
