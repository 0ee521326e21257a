#if canImport(Glibc)
import Glibc
#endif
import StorageCore

/// One client transaction: its own connection on its own thread, holding
/// SQLite's write lock (`BEGIN IMMEDIATE`) from begin to commit/rollback, so
/// the statements in it run in order and see each other. Other writers wait
/// up to `busy_timeout` for it, then get `backend unavailable`.
final class TransactionSession {
    private let options: SQLiteConnection.Options
    private let queue = JobQueue<(SQLiteConnection) -> Void>()
    private var thread: pthread_t?

    init(options: SQLiteConnection.Options) {
        self.options = options
    }

    func begin(completions: CompletionQueue, _ done: @escaping Completion<Void>) {
        let options = self.options
        thread = startThread { [queue] in
            // Jobs queued before the connection is open wait in the queue, in order.
            let db: SQLiteConnection
            do throws(ProxyError) {
                db = try SQLiteConnection(options)
                try db.execute("BEGIN IMMEDIATE")
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
                for job in jobs { job(db) }
            }
        }
        pthread_detach(thread!)
    }

    func run<T>(completions: CompletionQueue, _ done: @escaping Completion<T>,
                _ body: @escaping (SQLiteConnection) throws(ProxyError) -> T) {
        let queued = queue.push { db in
            let r = Result { () throws(ProxyError) in try body(db) }
            completions.post { done(r) }
        }
        if !queued { done(.failure(.transactionInvalid("the transaction has ended"))) }
    }

    /// Commits or rolls back, then lets the thread and its connection go.
    func end(sql: String, completions: CompletionQueue, _ done: @escaping Completion<Void>) {
        let queued = queue.push { db in
            var result: Result<Void, ProxyError> = .success(())
            do throws(ProxyError) {
                try db.execute(sql)
            } catch {
                _ = try? db.execute("ROLLBACK")
                result = .failure(error)
            }
            completions.post { done(result) }
        }
        queue.close()
        if !queued { done(.failure(.transactionInvalid("the transaction has ended"))) }
    }
}
