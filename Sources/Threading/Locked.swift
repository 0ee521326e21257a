#if canImport(Glibc)
import Glibc
#endif

/// A value shared between threads, behind a pthread mutex.
///
/// Used instead of `Synchronization.Mutex`, which on Linux locks with raw
/// futexes that ThreadSanitizer cannot see: every access it guards would be
/// reported as a race, and `scripts/sanitize thread` could not tell a real
/// one. An uncontended pthread lock costs about the same.
public final class Locked<State>: @unchecked Sendable {
    // @unchecked: `state` is touched only between lock and unlock.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var state: State

    public init(_ initial: State) {
        state = initial
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
