import CSQLite
import ProxyCore
import SQLStore
import StoragePorts

/// The SQLite executor: a read on a reader thread (in its client's lane), a
/// write in the writer's next group commit (in a savepoint of its own), either
/// inside the client's transaction when it names one.
extension SQLiteStorage: OperationRunner {
    public func run<T>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        if operation.writes {
            write(tx, done) { db throws(ProxyError) in try db.run(operation) }
        } else {
            read(tx, done) { db throws(ProxyError) in try db.run(operation) }
        }
    }
}

extension SQLiteConnection {
    /// Steps the statement, decoding each row where it lies; a page stops
    /// (-32005) once its rows pass the answer budget.
    func run<T>(_ operation: Operation<T>) throws(ProxyError) -> T {
        let (sql, values) = operation.statement(.sqlite)
        var budget = operation.page?.budget
        return try operation.decode(.sqlite, rows: { each throws(ProxyError) in
            try query(sql, values) { row throws(ProxyError) in
                if budget != nil { try budget!.spend(row.byteCount) }
                try each(row)
            }
        }, changedRows: { Int(sqlite3_changes(handle)) })
    }
}
