import ProxyCore

/// The contract's SQL, written once: each backend gets its dialect's
/// instance (`Statements.sqlite`, `Statements.postgresql`) and only runs
/// these strings with these parameters. Parameters are always bound, never
/// spliced; the strings are built once, at start-up. A class: each use
/// shares the one instance instead of copying (and retaining) every string.
public final class Statements: Sendable {
    public let dialect: SQLDialect

    public static let sqlite = Statements(.sqlite)
    public static let postgresql = Statements(.postgresql)
    public static subscript(_ dialect: SQLDialect) -> Statements { dialect == .sqlite ? sqlite : postgresql }

    /// The task columns, in the order `task(_:)` decodes them.
    public let taskColumns: String
    public static let taskColumnCount = 21
    public let selectTask: String
    /// The same, locking the row until the transaction ends (PostgreSQL;
    /// SQLite's single writer needs no row lock).
    public let selectTaskForUpdate: String
    /// Fails with a conflict when the id is taken (a concurrent insert of the
    /// same new id then retries as an update). Copies use `insertIfAbsent`.
    public let insertTask: String
    public let updateTask: String
    public let deleteTask = "DELETE FROM tasks WHERE id = $1"
    /// A task's agent (a log event names it, for `agent_name` filters).
    public let selectTaskAgent = "SELECT agent_name FROM tasks WHERE id = $1"
    public let updateTaskStatus: String

    public let logColumns: String
    /// One log entry (a live event too large for its NOTIFY is read back).
    public let selectLog: String
    public static let logColumnCount = 6
    /// Leaves a taken id alone: `save_log` with an id is idempotent.
    public let insertLog: String
    public let deleteOldLogs = "DELETE FROM logs WHERE created_at < $1"

    public let saveMetadata: String
    public let getMetadata: String

    init(_ d: SQLDialect) {
        dialect = d
        taskColumns = """
            id, agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, \
            \(d.readTime("created_at")), \(d.readTime("updated_at")), \(d.readTime("last_run")), \(d.readTime("next_run")), \
            status, \(d.readJSON("extra")), time_zone, attempts, max_attempts, lease_owner, \(d.readTime("lease_until")), \
            last_status, \(d.readJSON("last_result"))
            """
        selectTask = "SELECT \(taskColumns) FROM tasks WHERE id = $1"
        selectTaskForUpdate = selectTask + (d == .postgresql ? " FOR UPDATE" : "")
        insertTask = """
            INSERT INTO tasks (agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, \
            updated_at, last_run, next_run, status, extra, time_zone, attempts, max_attempts, lease_owner, lease_until, \
            last_status, last_result, id, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \(d.parameter(12, as: d.jsonType)), $13, $14, $15, $16, $17, \
            $18, \(d.parameter(19, as: d.jsonType)), $20, $21)
            """
        updateTask = """
            UPDATE tasks SET agent_name = $1, task_prompt = $2, schedule_type = $3, schedule_value = $4, repeat = $5, \
            repeat_interval = $6, enabled = $7, updated_at = $8, last_run = $9, next_run = $10, status = $11, \
            extra = \(d.parameter(12, as: d.jsonType)), time_zone = $13, attempts = $14, max_attempts = $15, lease_owner = $16, \
            lease_until = $17, last_status = $18, last_result = \(d.parameter(19, as: d.jsonType)) WHERE id = $20
            """
        updateTaskStatus = """
            UPDATE tasks SET status = $1, last_run = COALESCE(\(d.parameter(2, as: d.timeType)), last_run), \
            next_run = COALESCE(\(d.parameter(3, as: d.timeType)), next_run), updated_at = $4 WHERE id = $5
            """
        logColumns = "id, task_id, level, message, \(d.readJSON("metadata")), \(d.readTime("created_at"))"
        selectLog = "SELECT \(logColumns) FROM logs WHERE id = $1"
        insertLog = """
            INSERT INTO logs (id, task_id, level, message, metadata, created_at) \
            VALUES ($1, $2, $3, $4, \(d.parameter(5, as: d.jsonType)), $6) ON CONFLICT (id) DO NOTHING
            """
        saveMetadata = """
            INSERT INTO metadata (key, value) VALUES ($1, \(d.parameter(2, as: d.jsonType))) \
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """
        getMetadata = "SELECT \(d.readJSON("value")) FROM metadata WHERE key = $1"
    }

    // MARK: - Parameters

    /// Parameters $1…$19 of `insertTask` and `updateTask` (every column but id and created_at).
    public func values(_ t: TaskRecord) -> [SQLValue] {
        [.text(t.agentName), .text(t.taskPrompt), .text(t.scheduleType), .text(t.scheduleValue), dialect.value(t.repeats),
         dialect.value(t.repeatInterval), dialect.value(t.enabled), dialect.value(t.updatedAt), dialect.value(t.lastRun),
         dialect.value(t.nextRun), .text(t.status), dialect.value(json: t.extra.isEmpty ? nil : t.extra),
         dialect.value(t.timeZone), .int(Int64(t.attempts)), t.maxAttempts.map { .int(Int64($0)) } ?? .null,
         dialect.value(t.leaseOwner), dialect.value(t.leaseUntil), dialect.value(t.lastStatus),
         t.lastResult.map { .text($0.jsonText) } ?? .null]
    }

    /// Every parameter of `insertTask`.
    public func insertValues(_ t: TaskRecord) -> [SQLValue] { values(t) + [.text(t.id), dialect.value(t.createdAt)] }

    /// Every parameter of `updateTask`.
    public func updateValues(_ t: TaskRecord) -> [SQLValue] { values(t) + [.text(t.id)] }

    public func updateStatusValues(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?, now: Timestamp) -> [SQLValue] {
        [.text(status), dialect.value(lastRun), dialect.value(nextRun), dialect.value(now), .text(id)]
    }

    /// Every parameter of `insertLog`, in its order.
    public func values(_ l: LogEntry) -> [SQLValue] {
        [.text(l.id), .text(l.taskID), .text(l.level.rawValue), .text(l.message), dialect.value(json: l.metadata),
         dialect.value(l.createdAt)]
    }

    public func saveMetadataValues(key: String, value: JSONValue) -> [SQLValue] { [.text(key), .text(value.jsonText)] }

    // MARK: - Pages

    /// `list_tasks`: oldest first, filtered, one page.
    public func listTasks(_ q: TaskQuery) -> (sql: String, values: [SQLValue]) {
        var args: [SQLValue] = []
        var conditions: [String] = []
        if let a = q.agentName { args.append(.text(a)); conditions.append("agent_name = $\(args.count)") }
        if let s = q.status { args.append(.text(s)); conditions.append("status = $\(args.count)") }
        args += [.int(Int64(q.limit)), .int(Int64(q.offset))]
        let sql = dialect.page(columns: taskColumns, table: "tasks", conditions: conditions, order: "created_at, id",
                       limit: "LIMIT $\(args.count - 1) OFFSET $\(args.count)", budget: q.budget, &args)
        return (sql, args)
    }

    /// `count_tasks`: only the conditions asked for, so each shape has its own plan (an agent and a
    /// status: idx_tasks_agent_status).
    public func countTasks(agentName: String?, status: String?, leasedAt: Timestamp?, by field: String? = nil) -> (sql: String, values: [SQLValue]) {
        var args: [SQLValue] = []
        var conditions: [String] = []
        if let a = agentName { args.append(.text(a)); conditions.append("agent_name = $\(args.count)") }
        if let s = status { args.append(.text(s)); conditions.append("status = $\(args.count)") }
        if let t = leasedAt {
            args.append(dialect.value(t))
            conditions.append("status = 'running' AND lease_until >= \(dialect.parameter(args.count, as: dialect.timeType))")
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        // `field` is one of two column names, never the caller's text.
        guard let field, field == "status" || field == "agent_name" else { return ("SELECT count(*) FROM tasks" + filter, args) }
        return ("SELECT \(field), count(*) FROM tasks\(filter) GROUP BY \(field) ORDER BY count(*) DESC, \(field) LIMIT 1000", args)
    }

    /// `query_logs`: newest first, filtered, one page.
    public func queryLogs(_ q: LogQuery) -> (sql: String, values: [SQLValue]) {
        var args: [SQLValue] = []
        var conditions: [String] = []
        if let t = q.taskID { args.append(.text(t)); conditions.append("task_id = $\(args.count)") }
        if let l = q.level { args.append(.text(l.rawValue)); conditions.append("level = $\(args.count)") }
        if let s = q.startTime { args.append(dialect.value(s)); conditions.append("created_at >= $\(args.count)") }
        if let e = q.endTime { args.append(dialect.value(e)); conditions.append("created_at < $\(args.count)") }
        args.append(.int(Int64(q.limit)))
        let sql = dialect.page(columns: logColumns, table: "logs", conditions: conditions, order: "created_at DESC, id DESC",
                       limit: "LIMIT $\(args.count)", budget: q.budget, &args)
        return (sql, args)
    }

    /// PostgreSQL: what a budgeted page's last row says the page spent (the
    /// running total after the record's own columns).
    public static func budgetSpent(_ lastRow: some SQLRow, recordColumns: Int) -> Int? {
        lastRow.int(recordColumns + 2).map { Int($0) }
    }
}
