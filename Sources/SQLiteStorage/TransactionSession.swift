#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import ProxyCore
import StoragePorts

/// One client transaction: its own connection on its own thread, so the
/// statements in it run in order and see each other.
///
/// SQLite's write lock is taken at the transaction's first write, not at
/// `begin_transaction`: a transaction that only reads (or has not started)
/// never blocks other writers. One that began with a read holds a snapshot;
/// its first write then waits for the lock up to `busy_timeout` (SQLite does
/// not wait by itself there), and if another writer committed since the
/// snapshot it gets `-32002` (roll back and retry), as a serialization
/// failure would on PostgreSQL.
final class TransactionSession: @unchecked Sendable {  // `queue` and the atomic are the only shared state
    private let options: SQLiteConnection.Options
    private let changeLog: ChangeLog
    private let queue = JobQueue<(Worker) -> Void>()
    /// When this transaction took the write lock (monotonic ns); 0 while it holds none.
    let writeLockSince = Atomic<UInt64>(0)

    init(options: SQLiteConnection.Options, changeLog: ChangeLog) {
        self.options = options
        self.changeLog = changeLog
    }

    /// The connection and how far its transaction has gone; session thread only.
    final class Worker {
        enum State { case notStarted, reading, writing }
        let db: SQLiteConnection
        var state = State.notStarted
        unowned let session: TransactionSession

        init(db: SQLiteConnection, session: TransactionSession) { self.db = db; self.session = session }

        /// Starts the transaction, or takes the write lock, as the next statement needs.
        func prepare(forWrite: Bool) throws(ProxyError) {
            switch state {
            case .notStarted:
                try db.execute(forWrite ? "BEGIN IMMEDIATE" : "BEGIN")
                state = forWrite ? .writing : .reading
                if forWrite { session.writeLockSince.store(MonotonicClock.nanoseconds(), ordering: .relaxed) }
            case .reading where forWrite:
                try takeWriteLock()
                state = .writing
                session.writeLockSince.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
            default:
                break
            }
        }

        private func takeWriteLock() throws(ProxyError) {
            let deadline = MonotonicClock.nanoseconds() + UInt64(session.options.busyTimeoutMs) * 1_000_000
            while true {
                do {
                    try db.execute("DELETE FROM metadata WHERE 0")  // writes nothing; takes the lock
                    return
                } catch {
                    let busySnapshot = Int32(5 | (2 << 8))  // SQLITE_BUSY_SNAPSHOT, a macro Swift cannot import
                    if db.lastErrorCode == busySnapshot {
                        throw .conflict("another writer changed the database since this transaction first read it; roll back and retry")
                    }
                    guard db.lastErrorCode == 5 /* SQLITE_BUSY */, MonotonicClock.nanoseconds() < deadline else { throw error }
                    usleep(2_000)
                }
            }
        }

        /// Commits or rolls back what was started (nothing, if nothing was);
        /// a commit hands on the changes recorded for live events.
        func end(_ sql: String) throws(ProxyError) {
            defer {
                session.writeLockSince.store(0, ordering: .relaxed)
                db.changes.removeAll()
            }
            guard state != .notStarted else { return }
            state = .notStarted
            do {
                if sql == "COMMIT" {
                    try session.changeLog.commit(db) { () throws(ProxyError) in _ = try db.execute(sql) }
                } else {
                    try db.execute(sql)
                }
            } catch {
                _ = try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    func begin(completions: CompletionQueue, _ done: @escaping Completion<Void>) {
        do throws(ProxyError) {
            pthread_detach(try startThread { [self] in serve(completions: completions, done) })
        } catch {
            queue.close()
            completions.post { done(.failure(error)) }
        }
    }

    /// The session's thread: opens its connection, then runs the jobs in order
    /// until the queue closes. Jobs queued before the connection is open wait.
    private func serve(completions: CompletionQueue, _ done: @escaping Completion<Void>) {
        let worker: Worker
        do throws(ProxyError) {
            worker = Worker(db: try SQLiteConnection(options), session: self)
        } catch {
            queue.close()
            completions.post { done(.failure(error)) }
            while !queue.take(max: 64).isEmpty {}  // drop what was queued meanwhile
            return
        }
        completions.post { done(.success(())) }
        while true {
            let jobs = queue.take(max: 16)
            if jobs.isEmpty { return }
            for job in jobs { job(worker) }
        }
    }

    func run<T>(isWrite: Bool, completions: CompletionQueue, _ done: @escaping Completion<T>,
                _ body: @escaping (SQLiteConnection) throws(ProxyError) -> T) {
        let queued = queue.push { worker in
            let r = Result { () throws(ProxyError) in
                try worker.prepare(forWrite: isWrite)
                worker.db.recordsChanges = self.changeLog.isOn
                return try body(worker.db)
            }
            completions.post { done(r) }
        }
        if !queued { done(.failure(.transactionInvalid("the transaction has ended"))) }
    }

    /// Commits or rolls back, then lets the thread and its connection go.
    func end(sql: String, completions: CompletionQueue, _ done: @escaping Completion<Void>) {
        let queued = queue.push { worker in
            let result = Result { () throws(ProxyError) in try worker.end(sql) }
            completions.post { done(result) }
        }
        queue.close()
        if !queued { done(.failure(.transactionInvalid("the transaction has ended"))) }
    }
}
