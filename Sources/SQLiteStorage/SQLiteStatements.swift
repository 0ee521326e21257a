import ProxyCore
import SQLStore
import StoragePorts

/// A task read on one SQLite connection (live events record tasks as they
/// are), with the shared SQL. Called on whichever worker owns the connection.
extension SQLiteConnection {
    private var sql: Statements { .sqlite }

    func fetchTask(id: String) throws(ProxyError) -> TaskRecord? {
        var found: TaskRecord?
        try query(sql.selectTask, [.text(id)]) { row in found = sql.task(row) }
        return found
    }
}
