/// The application's `cache.*` key space held in the proxy's process: the
/// default when no Redis is configured. Loop thread only.
public final class MemoryCache: CacheAdapter {
    private struct Entry {
        var value: JSONValue
        var expiresAt: Double?  // MonotonicClock seconds
    }

    private var entries: [String: Entry] = [:]
    private var writesSinceSweep = 0
    private let clock: () -> Double

    public init(clock: @escaping () -> Double = MonotonicClock.coarseSeconds) { self.clock = clock }

    public var cacheName: String { "memory" }

    private func live(_ key: String) -> Entry? {
        guard let e = entries[key] else { return nil }
        if let t = e.expiresAt, t <= clock() {
            entries[key] = nil
            return nil
        }
        return e
    }

    public func get(_ key: String, _ done: @escaping Completion<JSONValue?>) {
        done(.success(live(key)?.value))
    }

    public func set(_ key: String, _ value: JSONValue, ttl: Double?, _ done: @escaping Completion<Bool>) {
        entries[key] = Entry(value: value, expiresAt: ttl.map { clock() + $0 })
        writesSinceSweep += 1
        if writesSinceSweep >= 4096 { sweep() }
        done(.success(true))
    }

    public func delete(_ key: String, _ done: @escaping Completion<Bool>) {
        let existed = live(key) != nil
        entries[key] = nil
        done(.success(existed))
    }

    public func exists(_ key: String, _ done: @escaping Completion<Bool>) {
        done(.success(live(key) != nil))
    }

    public func clearPattern(_ pattern: String, _ done: @escaping Completion<Int>) {
        sweep()
        let glob = GlobPattern(pattern)
        let doomed = entries.keys.filter { glob.matches($0) }
        for key in doomed { entries[key] = nil }
        done(.success(doomed.count))
    }

    public func ping(_ done: @escaping Completion<Bool>) { done(.success(true)) }

    public func statusReport() -> JSONValue {
        ["type": "memory", "state": "up", "keys": .int(Int64(entries.count))]
    }

    /// Drops expired entries (amortised over writes, so memory stays bounded).
    private func sweep() {
        writesSinceSweep = 0
        let now = clock()
        entries = entries.filter { $0.value.expiresAt.map { $0 > now } ?? true }
    }
}
