import ProxyCore
import Scheduling
import StoragePorts
import SQLStore

/// `save_task` for a client-chosen id: lock the row, then merge into it or
/// insert, as one unit (`PGUnit`: a transaction, or a savepoint inside the
/// client's). Two connections inserting the same new id at once: the loser
/// gets a unique violation and tries once more, finding the row to merge into.
struct PGUpsert {
    let connection: PGConnection
    let inTransaction: Bool
    let fields: JSONObject
    let id: String

    func run(retries: Int, _ done: @escaping Completion<String>) {
        PGUnit(connection: connection, inTransaction: inTransaction).run({ [fields, id] (connection, done: @escaping Completion<String>) in
            let sql = Statements.postgresql
            connection.query(sql.selectTaskForUpdate, [.text(id)]) { selected in
                let write: (String, [SQLValue])
                do throws(ProxyError) {
                    let stored = try selected.get().rows.first.map { sql.task($0) }
                    let task = try TaskRecord.saving(fields, over: stored, id: id, now: .now())
                    write = stored == nil ? (sql.insertTask, sql.insertValues(task)) : (sql.updateTask, sql.updateValues(task))
                } catch {
                    return done(.failure(error))
                }
                connection.query(write.0, write.1) { written in done(written.map { _ in id }) }
            }
        }, { (result: Result<String, ProxyError>) in
            if case .failure(.conflict) = result, retries > 0 { return run(retries: retries - 1, done) }
            done(result)
        })
    }
}
