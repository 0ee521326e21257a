import ProxyCore
import Scheduling
import SQLStore
import StoragePorts

/// The contract's operations on one SQLite connection, with the shared SQL
/// (`Statements.sqlite`). Called on whichever worker owns the connection.
extension SQLiteConnection {
    private var sql: Statements { .sqlite }

    func fetchTask(id: String) throws(ProxyError) -> TaskRecord? {
        var found: TaskRecord?
        try query(sql.selectTask, [.text(id)]) { row in found = sql.task(row) }
        return found
    }

    /// Insert, or merge into the stored row (fields present replace, others
    /// stay). This thread is the only writer, so the lookup and the write
    /// need no lock between them.
    func saveTask(_ fields: JSONObject, id: String?, now: Timestamp) throws(ProxyError) -> String {
        if let id, let existing = try fetchTask(id: id) {
            try execute(sql.updateTask, sql.updateValues(try TaskRecord.saving(fields, over: existing, id: id, now: now)))
            try recordTask(id, .updated)
            return id
        }
        let task = try TaskRecord.saving(fields, over: nil, id: id ?? Identifier.make(), now: now)
        try execute(sql.insertTask, sql.insertValues(task))
        try recordTask(task.id, .created)
        return task.id
    }

    // MARK: - Live events (recorded only while someone subscribes)

    /// The task as stored now (what it was, for a deletion about to happen).
    private func recordTask(_ id: String, _ op: ChangeOperation) throws(ProxyError) {
        guard recordsChanges, let task = try fetchTask(id: id) else { return }
        changes.append(.task(task, op))
    }

    private func record(_ tasks: [TaskRecord]) {
        guard recordsChanges else { return }
        for task in tasks { changes.append(.task(task, .updated)) }
    }

    // MARK: - Claims and leases (the writer: one at a time)

    private var claims: ClaimStatements { .sqlite }

    func claimDueTasks(_ r: ClaimRequest) throws(ProxyError) -> [TaskRecord] {
        var tasks: [TaskRecord] = []
        try query(claims.claim, claims.claimValues(r)) { row in tasks.append(sql.task(row)) }
        tasks.sort(by: TaskRecord.dueFirst)
        record(tasks)
        return tasks
    }

    func renewLease(taskID: String, worker: String, until: Timestamp, now: Timestamp) throws(ProxyError) -> TaskRecord {
        var renewed: TaskRecord?
        try query(claims.renew, claims.renewValues(taskID: taskID, worker: worker, until: until, now: now)) { row in
            renewed = sql.task(row)
        }
        if let renewed {
            record([renewed])
            return renewed
        }
        guard let task = try fetchTask(id: taskID) else { throw .notFound("task \(taskID) does not exist") }
        throw .notLeaseOwner(task, worker: worker)
    }

    func completeTask(_ c: TaskCompletion) throws(ProxyError) -> TaskRecord {
        guard let task = try fetchTask(id: c.taskID) else { throw .notFound("task \(c.taskID) does not exist") }
        guard task.isClaimed(by: c.worker) else { throw .notLeaseOwner(task, worker: c.worker) }
        let done = task.completed(c)
        var stored: TaskRecord?
        try query(claims.complete, claims.completeValues(c, nextRun: done.nextRun)) { row in stored = sql.task(row) }
        record([stored ?? done])
        return stored ?? done
    }

    func listTasks(_ q: TaskQuery) throws(ProxyError) -> [TaskRecord] {
        try page(sql.listTasks(q), q.budget) { sql.task($0) }
    }

    /// A page of records; stops reading (-32005) once the rows pass the answer budget.
    private func page<T>(_ statement: (sql: String, values: [SQLValue]), _ budget: AnswerBudget, _ decode: (Row) -> T) throws(ProxyError) -> [T] {
        var out: [T] = []
        var budget = budget
        try query(statement.sql, statement.values) { row throws(ProxyError) in
            try budget.spend(row.byteCount)
            out.append(decode(row))
        }
        return out
    }

    func deleteTask(id: String) throws(ProxyError) -> Bool {
        let before = recordsChanges ? try fetchTask(id: id) : nil
        let deleted = try execute(sql.deleteTask, [.text(id)]) > 0
        if deleted, let before { changes.append(.task(before, .deleted)) }
        return deleted
    }

    func updateTaskStatus(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?, now: Timestamp) throws(ProxyError) -> Bool {
        let updated = try execute(sql.updateTaskStatus,
                                  sql.updateStatusValues(id: id, status: status, lastRun: lastRun, nextRun: nextRun, now: now)) > 0
        if updated { try recordTask(id, .updated) }
        return updated
    }

    /// Inserts unless the id is taken (`save_log` with an id is idempotent); returns whether it did.
    @discardableResult
    func insertLog(_ entry: LogEntry) throws(ProxyError) -> Bool {
        let inserted: Bool
        do {
            inserted = try execute(sql.insertLog, sql.values(entry)) > 0
        } catch .notFound {
            throw .notFound("task \(entry.taskID) does not exist")
        }
        if inserted && recordsChanges {
            var agent: String?
            try query(sql.selectTaskAgent, [.text(entry.taskID)]) { row in agent = row.text(0) }
            changes.append(.log(entry, agentName: agent))
        }
        return inserted
    }

    func queryLogs(_ q: LogQuery) throws(ProxyError) -> [LogEntry] {
        try page(sql.queryLogs(q), q.budget) { sql.log($0) }
    }

    func deleteOldLogs(before: Timestamp) throws(ProxyError) -> Int {
        try execute(sql.deleteOldLogs, [.text(before.rfc3339)])
    }
}
