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
}
