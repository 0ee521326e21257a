import ProxyCore
import SQLStore
import StoragePorts

/// The PostgreSQL executor: a read on a pooled connection it may share
/// (pipelined), a write in the next group commit sorted by its row lock (a
/// bulk one alone), either inside the client's transaction when it names one
/// (a write then in a savepoint of its own).
extension PostgresStorage: OperationRunner {
    public func run<T>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        let (sql, values) = operation.statement(.postgresql)
        let decode = { (result: PGResult) throws(ProxyError) -> T in
            let rows = result.rows
            // A page: PostgreSQL sent nothing after the row that passed the budget (`SQLDialect.page`).
            if let page = operation.page, let last = rows.last,
               let total = Statements.budgetSpent(last, recordColumns: page.recordColumns) {
                var budget = page.budget
                try budget.spend(total)
            }
            return try operation.decode(.postgresql, rows: { each throws(ProxyError) in for row in rows { try each(row) } },
                                        changedRows: { result.affectedRows })
        }
        let answer = operation.missingParent == nil ? done : { done($0.mapError(operation.explain)) }
        switch operation.access {
        case .read: run(tx, sql, values, answer, decode)
        case .write(let lock): write(tx, sql, values, key: lock, manyRows: operation.manyRows, answer, decode)
        }
    }
}
