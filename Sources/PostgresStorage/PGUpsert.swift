import ProxyCore
import Scheduling
import StoragePorts
import SQLStore

/// `save_task` for a client-chosen id: lock the row, then merge into it or
/// insert, as one unit (a transaction, or a savepoint inside the client's).
/// Two connections inserting the same new id at once: the loser gets a
/// unique violation and tries once more, finding the row to merge into.
struct PGUpsert {
    let connection: PGConnection
    let inTransaction: Bool
    let fields: JSONObject
    let id: String

    private var begin: String { inTransaction ? "SAVEPOINT save_task" : "BEGIN" }
    private var commit: String { inTransaction ? "RELEASE SAVEPOINT save_task" : "COMMIT" }
    // One statement per query: pipeline mode takes no multi-statement strings.
    private var rollback: [String] { inTransaction ? ["ROLLBACK TO SAVEPOINT save_task", "RELEASE SAVEPOINT save_task"] : ["ROLLBACK"] }

    func run(retries: Int, _ done: @escaping Completion<String>) {
        var beginError: ProxyError?
        connection.query(begin) { if case .failure(let e) = $0 { beginError = e } }
        let sql = Statements.postgresql
        connection.query(sql.selectTaskForUpdate, [.text(id)]) { selected in
            if let beginError { return done(.failure(beginError)) }
            let write: (String, [SQLValue])
            do throws(ProxyError) {
                let stored = try selected.get().rows.first.map { sql.task($0) }
                let task = try TaskRecord.saving(fields, over: stored, id: id, now: .now())
                write = stored == nil ? (sql.insertTask, sql.insertValues(task)) : (sql.updateTask, sql.updateValues(task))
            } catch {
                return abort(error, retries: 0, done)
            }
            connection.query(write.0, write.1) { written in
                if case .failure(let error) = written { return abort(error, retries: retries, done) }
                connection.query(commit) { committed in done(committed.map { _ in id }) }
            }
        }
    }

    private func abort(_ error: ProxyError, retries: Int, _ done: @escaping Completion<String>) {
        for step in rollback.dropLast() { connection.query(step) { _ in } }
        connection.query(rollback.last!) { _ in
            if case .conflict = error, retries > 0 { return run(retries: retries - 1, done) }
            done(.failure(error))
        }
    }
}
