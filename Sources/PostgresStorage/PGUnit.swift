import ProxyCore

/// Several statements as one unit on one connection: a transaction of their
/// own, or a savepoint inside the client's (so a failure undoes only this
/// call and the client's transaction goes on). The closing statement is
/// queued right behind the last one `body` sends, and `done` runs once it
/// answered: an acknowledged unit has committed.
struct PGUnit {
    let connection: PGConnection
    let inTransaction: Bool

    func run<T>(_ body: @escaping (PGConnection, @escaping Completion<T>) -> Void, _ done: @escaping Completion<T>) {
        let connection = self.connection
        let inTransaction = self.inTransaction
        connection.query(inTransaction ? "SAVEPOINT proxy_unit" : "BEGIN") { _ in }  // a failure fails what follows
        body(connection) { result in
            switch result {
            case .success(let value):
                connection.query(inTransaction ? "RELEASE SAVEPOINT proxy_unit" : "COMMIT") { closed in
                    done(closed.map { _ in value })
                }
            case .failure(let error):
                if inTransaction { connection.query("ROLLBACK TO SAVEPOINT proxy_unit") { _ in } }
                connection.query(inTransaction ? "RELEASE SAVEPOINT proxy_unit" : "ROLLBACK") { _ in done(.failure(error)) }
            }
        }
    }
}
