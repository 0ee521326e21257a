import ProxyCore
import Scheduling
import StoragePorts
import SQLStore

/// `save_task` for a client-chosen id outside a transaction, as one write
/// that can share a group commit: read the row and its version (`xmin`),
/// merge in Swift, then write only if nobody wrote the row in between (an
/// UPDATE that names the version read; an INSERT that fails if the id was
/// taken meanwhile). Either way the write changed nothing, so it is simply
/// tried again from the read; after `attempts` such races it falls back to
/// the locking `PGUpsert` (which always ends). The merge is every backend's:
/// `TaskRecord.saving`.
struct PGOptimisticUpsert {
    let fields: JSONObject
    let id: String
    /// The shared read (a pooled connection) and the group's write.
    let read: (String, [SQLValue], @escaping PGConnection.QueryDone) -> Void
    let write: (String, [SQLValue], @escaping PGConnection.QueryDone) -> Void
    /// The locking unit, when racing writers keep winning.
    let fallback: (@escaping Completion<String>) -> Void

    func run(attempts: Int, _ done: @escaping Completion<String>) {
        guard attempts > 0 else { return fallback(done) }
        let sql = Statements.postgresql
        read(PGStatements.selectTaskVersion, [.text(id)]) { selected in
            let statement: (sql: String, values: [SQLValue])
            do throws(ProxyError) {
                let row = try selected.get().rows.first
                let task = try TaskRecord.saving(fields, over: row.map { sql.task($0) }, id: id, now: .now())
                if let row {
                    let version = row.text(Statements.taskColumnCount).map(SQLValue.text) ?? .null
                    statement = (PGStatements.updateTaskIfUnchanged, sql.updateValues(task) + [version])
                } else {
                    statement = (sql.insertTask, sql.insertValues(task))
                }
            } catch {
                return done(.failure(error))
            }
            write(statement.sql, statement.values) { written in
                switch written {
                case .success(let r) where r.affectedRows == 1: done(.success(id))
                case .success, .failure(.conflict): run(attempts: attempts - 1, done)  // changed or taken meanwhile
                case .failure(let error): done(.failure(error))
                }
            }
        }
    }
}
