#if canImport(Glibc)
import Glibc
#endif

/// Heap allocations since start, when the process preloads the bench's
/// counter (`libAllocationCounter.so`, LD_PRELOAD): `bench` divides the
/// difference by the requests served. Found by name, so nothing links it
/// and an ordinary proxy reports nothing and pays nothing.
enum AllocationCount {
    private typealias Counter = @convention(c) () -> UInt64
    private static let counter: Counter? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "storage_proxy_allocations")
        .map { unsafeBitCast($0, to: Counter.self) }

    static var current: UInt64? { counter?() }
}
