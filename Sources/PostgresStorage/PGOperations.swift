import ProxyCore
import SQLStore
import StoragePorts

/// The PostgreSQL executor: a read on a pooled connection it may share
/// (pipelined), a write in the next group commit sorted by its row lock (a
/// bulk one alone), either inside the client's transaction when it names one
/// (a write then in a savepoint of its own). A unit leases one connection
/// (or uses the transaction's) and sends its steps as they come (pipelined).
extension PostgresStorage: OperationRunner {
    public func run<T>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        let (sql, values) = operation.statement(.postgresql)
        let answer = operation.missingParent == nil ? done : { done($0.mapError(operation.explain)) }
        switch operation.access {
        case .read: run(tx, sql, values, answer) { r throws(ProxyError) in try Self.decode(operation, r) }
        case .write(let lock):
            write(tx, sql, values, key: lock, manyRows: operation.manyRows, answer) { r throws(ProxyError) in try Self.decode(operation, r) }
        }
    }

    /// A write unit: a transaction of its own on a leased connection, or a
    /// savepoint in the client's (`PGUnit`). A snapshot: REPEATABLE READ READ
    /// ONLY on a leased connection (a client's transaction is its snapshot).
    public func run<T>(_ unit: Unit<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        withConnection(tx, idempotent: unit.access == .snapshot, done) { connection, done in
            let steps = PGSteps(connection)
            switch unit.access {
            case .write:
                PGUnit(connection: connection, inTransaction: tx != nil).run({ _, done in unit.body(steps, done) }, done)
            case .snapshot:
                guard tx == nil else { return unit.body(steps, done) }
                connection.query(SQLDialect.postgresql.beginSnapshot) { _ in }  // a failure fails what follows
                unit.body(steps) { result in connection.query("COMMIT") { _ in done(result) } }
            }
        }
    }

    /// The operation's fold over a result's rows.
    static func decode<T>(_ operation: Operation<T>, _ result: PGResult) throws(ProxyError) -> T {
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
}

/// A unit's steps on one PostgreSQL connection: each sent at once, answered in order.
private final class PGSteps: UnitSteps {
    let connection: PGConnection
    init(_ connection: PGConnection) { self.connection = connection }

    func run<T>(_ step: Operation<T>, _ done: @escaping Completion<T>) {
        let (sql, values) = step.statement(.postgresql)
        connection.query(sql, values) { result in
            done(result.flatMap { r in Result { () throws(ProxyError) in try PostgresStorage.decode(step, r) } }.mapError(step.explain))
        }
    }
}
