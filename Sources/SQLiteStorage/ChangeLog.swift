import Synchronization
import ProxyCore
import StoragePorts

/// SQLite's live events. While they are on, each write records what it
/// changed on its connection (`SQLiteConnection.changes`); a failed write's
/// savepoint drops its records, a rollback drops them all, and a commit hands
/// them to the loop. The writer and every transaction commit on their own
/// threads, so a commit that carries changes holds `order` from COMMIT until
/// its changes are queued: batches reach subscribers in commit order (SQLite
/// lets only one writer commit at a time anyway).
final class ChangeLog: @unchecked Sendable {  // `on` and `order` are what threads share; `sink` is the loop's
    private let on = Atomic<Bool>(false)
    /// A pthread mutex (`Locked`), as all state shared between threads here: ThreadSanitizer sees it.
    private let order = Locked(())
    private let completions: CompletionQueue
    /// Loop thread only (it is read where the posted work runs).
    private var sink: ChangeSink?

    init(completions: CompletionQueue) { self.completions = completions }

    /// Whether writes starting now record their changes; any thread.
    var isOn: Bool { on.load(ordering: .acquiring) }

    /// Loop thread.
    func start(_ sink: @escaping ChangeSink) {
        self.sink = sink
        on.store(true, ordering: .releasing)
    }

    /// Loop thread.
    func stop() {
        on.store(false, ordering: .releasing)
        sink = nil
    }

    /// Commits with `commit` and queues what the connection recorded, in commit order.
    func commit(_ db: SQLiteConnection, _ commit: () throws(ProxyError) -> Void) throws(ProxyError) {
        guard !db.changes.isEmpty else { return try commit() }
        let changes = db.changes
        db.changes.removeAll()
        var failure: ProxyError?
        order.withLock { _ in
            do throws(ProxyError) {
                try commit()
                completions.post { [self] in sink?(changes) }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }
}
