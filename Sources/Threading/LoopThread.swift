#if canImport(Glibc)
import Glibc
#endif

/// "Loop thread only", checked rather than only said: a thread that makes or
/// runs a `UVLoop` is marked, and the types that must only be touched there
/// (connections, the dispatcher, the pools, the caches, the backends' routing)
/// call `check()` where they are entered. In a debug build (the tests, the
/// sanitizer passes) a call from any other thread traps at once, naming the
/// place; a release build compiles the check away. As postgres-nio's
/// `preconditionInEventLoop` and GRDB's `SchedulingWatchdog` do.
public enum LoopThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// This thread makes or runs a loop (idempotent).
    public static func mark() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1)) }

    public static var isCurrent: Bool { pthread_getspecific(key) != nil }

    /// Traps in a debug build when not on a loop thread; nothing in a release build.
    @inlinable
    public static func check(_ file: StaticString = #fileID, _ line: UInt = #line) {
        assert(isCurrent, "loop-thread-only code entered from another thread", file: file, line: line)
    }
}
