#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import ProxyCore
import StoragePorts
import SQLStore
import ProxyConfig
import Scheduling

/// `StorageAdapter` on SQLite (the Personal Edition).
///
///     loop thread ──reads──▶ readQueue ──▶ N reader threads (own connection each),
///                            (a lane per client, served in turn; the health probe first)
///                 ──writes─▶ writeQueue ─▶ 1 writer thread: group commit
///                 ──tx ops─▶ one TransactionSession per open transaction
///     every worker ──results──▶ CompletionQueue (back on the loop thread)
///
/// Writes queued together share one `BEGIN IMMEDIATE … COMMIT` (each in its
/// own savepoint, so one failing write does not undo the others) and are
/// acknowledged only after that commit returned: with `synchronous=FULL`
/// an acknowledged write survives a crash, at one fsync per batch.
public final class SQLiteStorage: StorageAdapter {
    private let options: SQLiteConnection.Options
    private let completions: CompletionQueue
    private let readQueue = FairJobQueue<(SQLiteConnection) -> Void>()
    private let writeQueue = JobQueue<WriteJob>()
    private var threads: [pthread_t] = []
    /// Open transactions; loop thread only.
    private var sessions: [TransactionID: TransactionSession] = [:]
    private let readerCount: Int
    private let stats = WriterStats()
    private let changeLog: ChangeLog

    public var backendName: String { "sqlite" }
    /// The vector store's tables, by the shared operations (`SQLVectorStorage`).
    /// The vector workers' own connections come from `vectors.makeBlockingReader`.
    public private(set) lazy var vectors: VectorStorage = SQLVectorStorage(self) { [options] () throws(ProxyError) in
        try SQLiteConnection(options)
    }

    /// Opens the database (creating its folder), applies migrations, starts the workers.
    public init(config: ProxyConfig.SQLite, completions: CompletionQueue) throws(ProxyError) {
        try Self.createParentDirectory(of: config.path)
        options = SQLiteConnection.Options(path: config.path, synchronous: config.synchronous, busyTimeoutMs: config.busyTimeoutMs)
        self.completions = completions
        changeLog = ChangeLog(completions: completions)
        readerCount = max(1, config.poolSize)
        let writer = try SQLiteConnection(options)
        try MigrationRunner.apply(on: writer)
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount { readers.append(try SQLiteConnection(options)) }

        do {
            threads.append(try startThread { [writeQueue, completions, stats, changeLog] in
                Self.runWriter(writer, queue: writeQueue, completions: completions, stats: stats, changeLog: changeLog)
            })
            for reader in readers {
                threads.append(try startThread { [readQueue] in readQueue.serve { $0(reader) } })
            }
        } catch {
            readQueue.close()  // the threads that did start end
            writeQueue.close()
            throw error
        }
    }

    /// `storage-proxy migrate`: applies pending migrations and returns (applied, current version).
    public static func migrate(config: ProxyConfig.SQLite) throws(ProxyError) -> (applied: [Int], version: Int) {
        try createParentDirectory(of: config.path)
        let db = try SQLiteConnection(SQLiteConnection.Options(path: config.path, synchronous: config.synchronous,
                                                               busyTimeoutMs: config.busyTimeoutMs))
        return try MigrationRunner.apply(on: db)
    }

    /// A database file as the source or target of `copy`, `export` and
    /// `checksum`: one connection on the caller's thread. One to read must exist.
    public static func tableStore(path: String, writable: Bool) throws(ProxyError) -> TableStore {
        if writable { try createParentDirectory(of: path) }
        let db = try SQLiteConnection(.init(path: path, readOnly: !writable))
        do {
            return try SQLTableStore(db, writable: writable)
        } catch .notFound {
            throw .notFound("\(path) is not a storage-proxy database (no schema_migrations)")
        }
    }

    private static func createParentDirectory(of path: String) throws(ProxyError) {
        if let folder = createParentDirectories(of: path) {
            throw .backendUnavailable("cannot create the folder \(folder)", retryAfterMs: 1000)
        }
    }

    // MARK: - Routing

    /// A read on a reader thread, in the lane of the client that asked
    /// (`CallerLane.current`, set by the dispatcher), or in `lane`.
    func read<T>(_ tx: TransactionID?, lane: CallerLane.ID = CallerLane.current, _ done: @escaping Completion<T>,
                 _ body: @escaping (SQLiteConnection) throws(ProxyError) -> T) {
        LoopThread.check()  // `sessions` is the loop's
        if let tx { return inTransaction(tx, isWrite: false, done, body) }
        let completions = self.completions
        let queued = readQueue.push({ db in
            let r = Result { () throws(ProxyError) in try body(db) }
            completions.post { done(r) }
        }, lane: lane)
        if !queued { done(.failure(.backendUnavailable("storage is shutting down", retryAfterMs: 1000))) }
    }

    func write<T>(_ tx: TransactionID?, _ done: @escaping Completion<T>,
                          _ body: @escaping (SQLiteConnection) throws(ProxyError) -> T) {
        LoopThread.check()
        if let tx { return inTransaction(tx, isWrite: true, done, body) }
        let queued = writeQueue.push(WriteJob(
            run: { db in
                let r = Self.inSavepoint(db, body)
                return { done(self.namingLockHolder(r)) }
            },
            fail: { error in { done(self.namingLockHolder(.failure(error))) } }))
        if !queued { done(.failure(.backendUnavailable("storage is shutting down", retryAfterMs: 1000))) }
    }

    private func inTransaction<T>(_ tx: TransactionID, isWrite: Bool, _ done: @escaping Completion<T>,
                                  _ body: @escaping (SQLiteConnection) throws(ProxyError) -> T) {
        guard let session = sessions[tx] else { return done(.failure(.transactionInvalid("unknown transaction"))) }
        session.run(isWrite: isWrite, completions: completions, { r in done(self.namingLockHolder(r)) }) { db throws(ProxyError) in
            try Self.inSavepoint(db, body).get()
        }
    }

    /// A "busy" failure says how long the transaction holding the write lock
    /// has had it, and asks the client to wait about that long (at least
    /// 100 ms, at most 30 s): a long holder is likely to go on. Loop thread.
    private func namingLockHolder<T>(_ result: Result<T, ProxyError>) -> Result<T, ProxyError> {
        guard case .failure(.backendUnavailable(SQLiteConnection.busyDetail, _)) = result else { return result }
        let now = MonotonicClock.nanoseconds()
        let since = sessions.values.map { $0.writeLockSince.load(ordering: .relaxed) }.filter { $0 != 0 }.min()
        guard let since, now > since else { return result }
        let heldMs = Int((now - since) / 1_000_000)
        return .failure(.backendUnavailable("the database is busy: a transaction has held the write lock for \(heldMs) ms",
                                            retryAfterMs: min(max(100, heldMs), 30_000)))
    }

    /// Runs one write in a savepoint: its failure undoes only itself (and
    /// the changes it recorded for live events).
    static func inSavepoint<T>(_ db: SQLiteConnection, _ body: (SQLiteConnection) throws(ProxyError) -> T) -> Result<T, ProxyError> {
        do {
            try db.execute("SAVEPOINT op")
        } catch {
            return .failure(error)
        }
        let recorded = db.changes.count
        do {
            let value = try body(db)
            try db.execute("RELEASE op")
            return .success(value)
        } catch {
            _ = try? db.execute("ROLLBACK TO op")
            _ = try? db.execute("RELEASE op")
            db.changes.removeSubrange(recorded...)
            return .failure(error)
        }
    }

    // MARK: - The writer

    private static func runWriter(_ db: SQLiteConnection, queue: JobQueue<WriteJob>, completions: CompletionQueue,
                                  stats: WriterStats, changeLog: ChangeLog) {
        while true {
            let batch = queue.take(max: 512)
            if batch.isEmpty { return }
            var deliveries: [() -> Void] = []
            deliveries.reserveCapacity(batch.count)
            do {
                try db.execute("BEGIN IMMEDIATE")
            } catch {
                completions.post(all: batch.map { $0.fail(error) })
                continue
            }
            db.recordsChanges = changeLog.isOn
            for job in batch { deliveries.append(job.run(db)) }
            do {
                try changeLog.commit(db) { () throws(ProxyError) in _ = try db.execute("COMMIT") }
                stats.record(batch: batch.count)
                completions.post(all: deliveries)
            } catch {
                _ = try? db.execute("ROLLBACK")
                db.changes.removeAll()
                completions.post(all: batch.map { $0.fail(error) })
            }
        }
    }

    // MARK: - StorageAdapter

    /// Writes outside transactions go through one FIFO to one writer thread.
    public var appliesWritesInOrder: Bool { true }

    /// On the urgent lane: the next free reader takes it, before any client's reads.
    public func healthCheck(_ done: @escaping Completion<Bool>) {
        read(nil, lane: CallerLane.urgent, { r in done(.success((try? r.get()) == true)) }) { db throws(ProxyError) in
            var ok = false
            try db.query("SELECT 1") { _ in ok = true }
            return ok
        }
    }


    // MARK: - Transactions

    public func beginTransaction(_ done: @escaping Completion<TransactionID>) {
        let tx = TransactionID(Identifier.randomToken())
        let session = TransactionSession(options: options, changeLog: changeLog)
        sessions[tx] = session
        session.begin(completions: completions) { [self] result in
            switch result {
            case .success: done(.success(tx))
            case .failure(let e):
                sessions[tx] = nil
                done(.failure(e))
            }
        }
    }

    public func commitTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        finish(tx, sql: "COMMIT", done)
    }

    public func rollbackTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        finish(tx, sql: "ROLLBACK", done)
    }

    private func finish(_ tx: TransactionID, sql: String, _ done: @escaping Completion<Void>) {
        guard let session = sessions.removeValue(forKey: tx) else {
            return done(.failure(.transactionInvalid("unknown transaction")))
        }
        session.end(sql: sql, completions: completions, done)
    }

    // MARK: - Live events

    /// Ready once a write queued after this call has run: the writer reads
    /// `isOn` at the start of each batch. Nothing is ever lost in between.
    public func startChanges(_ sink: @escaping ChangeSink, lost: @escaping (String) -> Void, ready: @escaping Completion<Void>) {
        changeLog.start(sink)
        write(nil, ready) { _ throws(ProxyError) in }
    }

    public func stopChanges() { changeLog.stop() }

    // MARK: - Lifecycle

    public func close(_ done: @escaping () -> Void) {
        for (_, session) in sessions { session.end(sql: "ROLLBACK", completions: completions) { _ in } }
        sessions.removeAll()
        readQueue.close()
        writeQueue.close()
        let threads = self.threads
        self.threads = []
        let completions = self.completions
        let joinAll = {
            for t in threads { pthread_join(t, nil) }
            completions.post(done)
        }
        // Joins the workers off the loop; detached, as nobody joins it. With
        // no thread to spare, on the loop: shutdown waits, but it finishes.
        do { pthread_detach(try startThread(joinAll)) } catch { joinAll() }
    }

    public func statusReport() -> JSONValue {
        [
            "type": "sqlite", "state": "up", "path": .string(options.path),
            "readers": .int(Int64(readerCount)), "read_queue": .int(Int64(readQueue.count)),
            "write_queue": .int(Int64(writeQueue.count)), "open_transactions": .int(Int64(sessions.count)),
            "commits": .int(Int64(stats.commits.load(ordering: .relaxed))),
            "writes_committed": .int(Int64(stats.writes.load(ordering: .relaxed))),
        ]
    }
}

/// A queued write: `run` executes it inside the writer's open transaction and
/// returns its delivery (sent only after COMMIT); `fail` builds the delivery
/// when the batch could not start or commit.
struct WriteJob {
    let run: (SQLiteConnection) -> (() -> Void)
    let fail: (ProxyError) -> (() -> Void)
}

/// Group-commit figures; written by the writer thread, read by the loop.
final class WriterStats: Sendable {
    let commits = Atomic<Int>(0)
    let writes = Atomic<Int>(0)

    func record(batch: Int) {
        commits.add(1, ordering: .relaxed)
        writes.add(batch, ordering: .relaxed)
    }
}
