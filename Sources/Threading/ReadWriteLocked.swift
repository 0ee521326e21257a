#if canImport(Glibc)
import Glibc
#endif

/// State many threads read at once and one at a time changes (a vector
/// collection's matrix: searches side by side, an update alone).
public final class ReadWriteLocked<State>: @unchecked Sendable {
    // @unchecked: `state` is touched only under the lock (shared to read, exclusive to write).
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    public func reading<R, E: Error>(_ body: (State) throws(E) -> R) throws(E) -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(state)
    }

    public func writing<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(&state)
    }
}
