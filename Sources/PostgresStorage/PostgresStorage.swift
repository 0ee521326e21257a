import EventLoop
import ProxyCore
import Scheduling
import StoragePorts
import SQLStore

/// `StorageAdapter` on PostgreSQL (the Enterprise Edition), on the loop
/// thread with no blocking call. A one-statement read outside a transaction
/// runs on a connection it may share with other such calls (`PGPool.acquireShared`);
/// a write outside a transaction joins a group commit (`PGGroupCommit`;
/// `save_task` of an existing id as an optimistic write, `PGOptimisticUpsert`);
/// a call of several statements leases one for as long as it runs. A client
/// transaction pins one connection from `begin_transaction` to commit or
/// rollback; what runs in it uses savepoints where a call needs more than one
/// statement. Loop thread only.
public final class PostgresStorage: StorageAdapter {
    private let pool: PGPool
    /// Autocommit writes share commits; nil when `group_commit` is off.
    private let groupCommit: PGGroupCommit?
    private var pinned: [TransactionID: PGConnection] = [:]
    /// Live events: a LISTEN connection of its own, while somebody subscribes.
    private var changeFeed: PGChangeFeed!
    /// `health_check`'s own connection (one more than the pool's).
    private let probe: PGProbeConnection

    public var backendName: String { "postgresql" }
    /// The vector store's tables, by the shared operations (`SQLVectorStorage`).
    public private(set) lazy var vectors: VectorStorage = SQLVectorStorage(self)

    private var sql: Statements { .postgresql }

    /// Migrations must have run (`migrate`) before serving.
    public init(loop: UVLoop, settings: PGPool.Settings) {
        pool = PGPool(loop: loop, settings: settings)
        probe = PGProbeConnection(loop: loop, conninfo: settings.conninfo) { [pool] error, started in pool.probed(error, startedAt: started) }
        groupCommit = settings.groupCommit
            ? PGGroupCommit(loop: loop, pool: pool, concurrentGroups: settings.commitGroups, maxGroupWrites: settings.maxGroupWrites,
                            lockWaitMs: settings.groupLockWaitMs) : nil
        changeFeed = PGChangeFeed(loop: loop, conninfo: settings.conninfo,
                                  readTask: { [unowned self] id, done in run(TaskOperations.get(id: id), in: nil, done) },
                                  readLog: { [unowned self] id, done in
                                      run(nil, sql.selectLog, [.text(id)], done) { [sql] r in r.rows.first.map { sql.log($0) } }
                                  })
    }

    /// `storage-proxy migrate`, and start-up before serving: applies the
    /// missing schema versions over a blocking connection.
    public static func migrate(conninfo: String) throws(ProxyError) -> (applied: [Int], version: Int) {
        try MigrationRunner.apply(on: BlockingConnection(conninfo))
    }

    /// A database as the source or target of `copy`, `export` and `checksum`.
    public static func tableStore(conninfo: String, writable: Bool) throws(ProxyError) -> TableStore {
        try SQLTableStore(BlockingConnection(conninfo), writable: writable)
    }

    /// Told once when PostgreSQL becomes unreachable (with the reason) and
    /// once when it is back (nil); `server.status` shows the same as `state`.
    public var onReachabilityChange: ((_ lostBecause: String?) -> Void)? {
        get { pool.onReachabilityChange }
        set { pool.onReachabilityChange = newValue }
    }

    // MARK: - Leasing

    /// Runs `body` on the transaction's connection, or on a pooled one that
    /// goes back to the pool when `body` has answered: one it may share with
    /// other calls if `body` is a single autocommit statement.
    ///
    /// `idempotent` (a read outside a transaction): when the pooled connection
    /// turns out dead (the server ended it while idle, and its goodbye had not
    /// been read yet when it was lent), `body` runs again on another one, up to
    /// `deadConnectionRetries` times (a restarted server ends every idle
    /// connection at once). Repeating a read changes nothing; the pool drops
    /// the dead connections, and if the server is really gone a new lease fails
    /// at once (back-off).
    func withConnection<T>(_ tx: TransactionID?, oneStatement: Bool = false, writes: Bool = false, idempotent: Bool = false,
                           _ done: @escaping Completion<T>, _ body: @escaping (PGConnection, @escaping Completion<T>) -> Void) {
        withConnection(tx, oneStatement: oneStatement, writes: writes, retries: idempotent && !writes ? Self.deadConnectionRetries : 0,
                       done, body)
    }

    static let deadConnectionRetries = 3

    private func withConnection<T>(_ tx: TransactionID?, oneStatement: Bool, writes: Bool, retries: Int,
                                   _ done: @escaping Completion<T>, _ body: @escaping (PGConnection, @escaping Completion<T>) -> Void) {
        if let tx {
            guard let connection = pinned[tx] else { return done(.failure(.transactionInvalid("unknown transaction"))) }
            return body(connection, done)
        }
        let lend = oneStatement ? (writes ? pool.acquireSharedForWrite : pool.acquireShared) : pool.acquire
        let giveBack = oneStatement ? pool.releaseShared : pool.release
        lend { lease in
            switch lease {
            case .failure(let error): done(.failure(error))
            case .success(let connection):
                body(connection) { result in
                    giveBack(connection)
                    if retries > 0, case .failure = result, connection.isBroken {
                        return self.withConnection(nil, oneStatement: oneStatement, writes: false, retries: retries - 1, done, body)
                    }
                    done(result)
                }
            }
        }
    }

    /// One statement, its result mapped.
    func run<T>(_ tx: TransactionID?, _ statement: String, _ values: [SQLValue], writes: Bool = false,
                        _ done: @escaping Completion<T>, _ map: @escaping (PGResult) throws(ProxyError) -> T) {
        withConnection(tx, oneStatement: true, writes: writes, idempotent: !writes, done) { connection, done in
            connection.query(statement, values) { result in
                done(result.flatMap { r in Result { () throws(ProxyError) in try map(r) } })
            }
        }
    }

    /// One writing statement. Outside a transaction it joins the next group
    /// commit (`PGGroupCommit`; `key`: the row it locks; nil: a bulk statement,
    /// which commits alone rather than hold up a group). Inside a client's
    /// transaction it runs in a savepoint (`PGUnit.one`), so that its failure
    /// (an unknown task, a constraint) is its own and the transaction goes on.
    func write<T>(_ tx: TransactionID?, _ statement: String, _ values: [SQLValue], key: PGGroupCommit.LockKey?,
                          manyRows: String? = nil, _ done: @escaping Completion<T>, _ map: @escaping (PGResult) throws(ProxyError) -> T) {
        guard tx != nil else {
            guard let groupCommit, let key else { return run(tx, statement, values, writes: true, done, map) }
            return groupCommit.submit(statement, values, key: key, manyRows: manyRows) { result in
                done(result.flatMap { r in Result { () throws(ProxyError) in try map(r) } })
            }
        }
        withConnection(tx, done) { connection, done in
            PGUnit(connection: connection, inTransaction: true).one(statement, values, done, map)
        }
    }

    /// `save_task` of a client's id outside a transaction: an optimistic
    /// write that shares a group commit (`PGOptimisticUpsert`), the shared
    /// locking merge after racing writers kept winning; otherwise the shared one.
    public func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>) {
        let shared = { [self] (done: @escaping Completion<String>) in
            TaskOperations.save(fields, id: id, on: self, in: tx, retryingConflicts: true, done)
        }
        guard tx == nil, let id, let groupCommit else { return shared(done) }
        PGOptimisticUpsert(fields: fields, id: id,
                           read: { [self] statement, values, done in run(nil, statement, values, done) { $0 } },
                           write: { statement, values, done in groupCommit.submit(statement, values, key: .task(id), done) },
                           fallback: shared).run(attempts: 3, done)
    }

    /// On a connection of its own: never behind clients' statements.
    public func healthCheck(_ done: @escaping Completion<Bool>) {
        probe.check { done(.success($0)) }
    }

    // MARK: - Transactions

    public func beginTransaction(_ done: @escaping Completion<TransactionID>) {
        pool.acquire { [self] lease in
            let connection: PGConnection
            switch lease {
            case .success(let c): connection = c
            case .failure(let error): return done(.failure(error))
            }
            connection.query("BEGIN") { [self] result in
                if case .failure(let error) = result {
                    pool.release(connection)
                    return done(.failure(error))
                }
                let tx = TransactionID(Identifier.randomToken())
                pinned[tx] = connection
                done(.success(tx))
            }
        }
    }

    public func commitTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        finish(tx, "COMMIT", done)
    }

    public func rollbackTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        finish(tx, "ROLLBACK", done)
    }

    /// Ends the transaction; the connection returns to the pool clean (a failed
    /// COMMIT is rolled back first; a broken connection is discarded by the pool).
    private func finish(_ tx: TransactionID, _ sql: String, _ done: @escaping Completion<Void>) {
        guard let connection = pinned.removeValue(forKey: tx) else { return done(.failure(.transactionInvalid("unknown transaction"))) }
        connection.query(sql) { [pool] result in
            if case .failure = result {
                connection.query("ROLLBACK") { _ in pool.release(connection) }
            } else {
                pool.release(connection)
            }
            done(result.map { _ in () })
        }
    }

    // MARK: - Lifecycle

    public func close(_ done: @escaping () -> Void) {
        for (_, connection) in pinned { connection.close() }  // closing rolls back on the server
        pinned = [:]
        changeFeed.stop()
        probe.close()
        groupCommit?.close()
        pool.close()
        done()
    }

    public func statusReport() -> JSONValue {
        ["type": "postgresql", "state": pool.isReachable ? "up" : "down", "pool": pool.figures,
         "group_commit": groupCommit?.figures ?? .null,
         "open_transactions": .int(Int64(pinned.count))]
    }
}

extension PostgresStorage {
    public func startChanges(_ sink: @escaping ChangeSink, lost: @escaping (String) -> Void, ready: @escaping Completion<Void>) {
        changeFeed.onGap = lost
        changeFeed.start(sink, ready: ready)
    }

    public func stopChanges() { changeFeed.stop() }
}
