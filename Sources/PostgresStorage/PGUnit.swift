import ProxyCore
import SQLStore

/// Statements as one unit on one connection: a transaction of their own, or
/// a savepoint inside the client's (so a failure undoes only this call and
/// the client's transaction goes on, as on SQLite; PostgreSQL would
/// otherwise refuse every later statement of it). The one place the proxy
/// opens and closes them. An acknowledged unit has committed (or released).
struct PGUnit {
    let connection: PGConnection
    let inTransaction: Bool

    private var open: String { inTransaction ? "SAVEPOINT proxy_unit" : "BEGIN" }
    private var close: String { inTransaction ? "RELEASE SAVEPOINT proxy_unit" : "COMMIT" }

    /// Several statements: the closing one is queued right behind the last one
    /// `body` sends, and `done` runs once it answered.
    func run<T>(_ body: @escaping (PGConnection, @escaping Completion<T>) -> Void, _ done: @escaping Completion<T>) {
        let connection = self.connection, close = self.close
        connection.query(open) { _ in }  // a failure fails what follows
        body(connection) { result in
            switch result {
            case .success(let value): connection.query(close) { closed in done(closed.map { _ in value }) }
            case .failure(let error): abandon { done(.failure(error)) }
            }
        }
    }

    /// One statement in a savepoint of the client's transaction: the three are
    /// queued at once (pipelined); on a failure the savepoint is rolled back
    /// before the error is answered.
    func one<T>(_ sql: String, _ values: [SQLValue], _ done: @escaping Completion<T>, _ map: @escaping (PGResult) throws(ProxyError) -> T) {
        precondition(inTransaction, "one statement outside a transaction commits by itself")
        connection.query(open) { _ in }
        connection.query(sql, values) { [self] result in
            switch result.flatMap({ r in Result { () throws(ProxyError) in try map(r) } }) {
            case .success(let value): done(.success(value))  // its RELEASE is already queued before anything later
            case .failure(let error): abandon { done(.failure(error)) }
            }
        }
        connection.query(close) { _ in }  // fails harmlessly after an error: rolled back by `abandon`
    }

    /// Undoes the unit (one statement per query: pipeline mode takes no multi-statement strings).
    func abandon(then: @escaping () -> Void) {
        if inTransaction { connection.query("ROLLBACK TO SAVEPOINT proxy_unit") { _ in } }
        connection.query(inTransaction ? "RELEASE SAVEPOINT proxy_unit" : "ROLLBACK") { _ in then() }
    }
}
