import ProxyCore
import StoragePorts

/// The contract's SQL for PostgreSQL, and how rows become records. Every
/// value is a `$n` parameter; timestamps travel as canonical RFC 3339 text
/// and come back as epoch microseconds (exact, no parsing of server formats).
enum PGStatements {
    private static func micros(_ column: String) -> String {
        "(extract(epoch from \(column)) * 1000000)::bigint"
    }

    static let taskColumns = """
        id, agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, \
        \(micros("created_at")), \(micros("updated_at")), \(micros("last_run")), \(micros("next_run")), status, extra::text
        """

    static let taskColumnCount = 14

    static func task(_ r: PGResult, _ row: Int) -> TaskRecord {
        func time(_ c: Int) -> Timestamp? { r.string(row, c).flatMap { Int64($0) }.map { Timestamp(microseconds: $0) } }
        let extra = r.string(row, 13).flatMap { try? JSONParser.parse($0, maxDepth: 512) }?.objectValue ?? JSONObject()
        return TaskRecord(
            id: r.string(row, 0) ?? "", agentName: r.string(row, 1) ?? "", taskPrompt: r.string(row, 2) ?? "",
            scheduleType: r.string(row, 3) ?? "", scheduleValue: r.string(row, 4) ?? "", repeats: r.string(row, 5) == "t",
            repeatInterval: r.string(row, 6), enabled: r.string(row, 7) == "t",
            createdAt: time(8) ?? Timestamp(microseconds: 0), updatedAt: time(9) ?? Timestamp(microseconds: 0),
            lastRun: time(10), nextRun: time(11), status: r.string(row, 12) ?? "", extra: extra)
    }

    static func tasks(_ r: PGResult) -> [TaskRecord] { (0..<r.rowCount).map { task(r, $0) } }

    static let selectTaskForUpdate = "SELECT \(taskColumns) FROM tasks WHERE id = $1 FOR UPDATE"
    static let selectTask = "SELECT \(taskColumns) FROM tasks WHERE id = $1"

    static let insertTask = """
        INSERT INTO tasks (agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled,
                           updated_at, last_run, next_run, status, extra, id, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14)
        """

    static let updateTask = """
        UPDATE tasks SET agent_name = $1, task_prompt = $2, schedule_type = $3, schedule_value = $4, repeat = $5,
               repeat_interval = $6, enabled = $7, updated_at = $8, last_run = $9, next_run = $10, status = $11,
               extra = $12::jsonb
        WHERE id = $13
        """

    /// Parameters $1…$12 of insert/update (the columns a save can change).
    static func values(_ t: TaskRecord) -> [String?] {
        [t.agentName, t.taskPrompt, t.scheduleType, t.scheduleValue, t.repeats ? "true" : "false", t.repeatInterval,
         t.enabled ? "true" : "false", t.updatedAt.rfc3339, t.lastRun?.rfc3339, t.nextRun?.rfc3339, t.status,
         t.extra.isEmpty ? nil : JSONValue.object(t.extra).jsonText]
    }

    static func listTasks(_ q: TaskQuery) -> (String, [String?]) {
        var args: [String?] = []
        var conditions: [String] = []
        if let a = q.agentName { args.append(a); conditions.append("agent_name = $\(args.count)") }
        if let s = q.status { args.append(s); conditions.append("status = $\(args.count)") }
        args += [String(q.limit), String(q.offset), String(q.budget.limit)]
        let sql = withinBudget(columns: taskColumns, table: "tasks", conditions: conditions, order: "created_at, id",
                               page: "LIMIT $\(args.count - 2) OFFSET $\(args.count - 1)", budget: args.count)
        return (sql, args)
    }

    /// A page of `table` that PostgreSQL cuts short of the answer budget:
    /// it adds up each row's size as text in page order, and sends no row
    /// after the first one that takes the total past `$budget` (the proxy
    /// then answers -32005 without having held the rest). Three columns
    /// follow `columns`: the row's bytes, its position, the running total.
    private static func withinBudget(columns: String, table: String, conditions: [String], order: String, page: String, budget: Int) -> String {
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return """
            SELECT * FROM (SELECT paged.*, sum(row_bytes) OVER (ORDER BY position) AS bytes_through FROM (\
            SELECT \(columns), octet_length(\(table)::text) AS row_bytes, row_number() OVER (ORDER BY \(order)) AS position \
            FROM \(table)\(filter) ORDER BY \(order) \(page)) paged) counted \
            WHERE bytes_through - row_bytes <= $\(budget) ORDER BY position
            """
    }

    /// Throws -32005 when the page's last row took it past its budget.
    static func checkBudget(_ r: PGResult, columns: Int, _ budget: AnswerBudget) throws(ProxyError) {
        guard r.rowCount > 0, let total = r.string(r.rowCount - 1, columns + 2).flatMap({ Int($0) }) else { return }
        var spent = budget
        try spent.spend(total)
    }

    static let updateStatus = """
        UPDATE tasks SET status = $1, last_run = COALESCE($2::timestamptz, last_run),
               next_run = COALESCE($3::timestamptz, next_run), updated_at = $4
        WHERE id = $5
        """

    static let logColumns = "id, task_id, level, message, metadata::text, \(micros("created_at"))"
    static let logColumnCount = 6

    /// The columns of `insertLog`, in its order.
    static func values(_ l: LogEntry) -> [String?] {
        [l.id, l.taskID, l.level.rawValue, l.message, l.metadata.map { JSONValue.object($0).jsonText }, l.createdAt.rfc3339]
    }

    static let insertLog = "INSERT INTO logs (id, task_id, level, message, metadata, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (id) DO NOTHING"

    static func queryLogs(_ q: LogQuery) -> (String, [String?]) {
        var args: [String?] = []
        var conditions: [String] = []
        if let t = q.taskID { args.append(t); conditions.append("task_id = $\(args.count)") }
        if let l = q.level { args.append(l.rawValue); conditions.append("level = $\(args.count)") }
        if let s = q.startTime { args.append(s.rfc3339); conditions.append("created_at >= $\(args.count)") }
        if let e = q.endTime { args.append(e.rfc3339); conditions.append("created_at < $\(args.count)") }
        args += [String(q.limit), String(q.budget.limit)]
        let sql = withinBudget(columns: logColumns, table: "logs", conditions: conditions, order: "created_at DESC, id DESC",
                               page: "LIMIT $\(args.count - 1)", budget: args.count)
        return (sql, args)
    }

    static func logs(_ r: PGResult) -> [LogEntry] {
        (0..<r.rowCount).map { row in
            LogEntry(id: r.string(row, 0) ?? "", taskID: r.string(row, 1) ?? "",
                     level: LogLevel(loose: r.string(row, 2) ?? "") ?? .info, message: r.string(row, 3) ?? "",
                     metadata: r.string(row, 4).flatMap { try? JSONParser.parse($0, maxDepth: 512) }?.objectValue,
                     createdAt: Timestamp(microseconds: r.string(row, 5).flatMap { Int64($0) } ?? 0))
        }
    }

    /// How a stored row goes into PostgreSQL: its columns, each column's
    /// type (for casts: a VALUES list does not take types from the table),
    /// and the values in that order (text format; nil is NULL).
    static func insertColumns(_ table: StoredTable) -> (names: String, types: [String]) {
        switch table {
        case .tasks:
            return ("agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, "
                    + "updated_at, last_run, next_run, status, extra, id, created_at",
                    ["text", "text", "text", "text", "boolean", "text", "boolean",
                     "timestamptz", "timestamptz", "timestamptz", "text", "jsonb", "text", "timestamptz"])
        case .logs:
            return ("id, task_id, level, message, metadata, created_at", ["text", "text", "text", "text", "jsonb", "timestamptz"])
        case .metadata:
            return ("key, value", ["text", "jsonb"])
        }
    }

    static func values(_ row: StoredRow) -> [String?] {
        switch row {
        case .task(let t): return values(t) + [t.id, t.createdAt.rfc3339]
        case .log(let l): return values(l)
        case .metadata(let key, let value): return [key, value.jsonText]
        }
    }

    static let deleteOldLogs = "DELETE FROM logs WHERE created_at < $1"
    static let saveMetadata = "INSERT INTO metadata (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    static let getMetadata = "SELECT value::text FROM metadata WHERE key = $1"
}
