import ProxyCore

/// The application's `cache.*` key space held in the proxy's process: the
/// default when no Redis is configured. Bounded like Redis with `maxmemory`
/// and `allkeys-lru`: each entry counts its key, its value's JSON text and a
/// fixed overhead; past `maxBytes` the least recently used entries go. A
/// value larger than the whole budget is refused (`-32602` naming `value`).
/// Loop thread only.
public final class MemoryCache: CacheAdapter {
    /// What an entry costs beyond its key and value bytes (node, hash slot).
    public static let entryOverhead = 96

    private struct Entry {
        var key: String
        var value: JSONValue
        var expiresAt: Double?  // MonotonicClock seconds
        var bytes: Int
        var newer: Int = -1, older: Int = -1  // the recency list, by slot
    }

    private var slots: [Entry?] = []
    private var freeSlots: [Int] = []
    private var index: [String: Int] = [:]
    private var newest = -1, oldest = -1
    public private(set) var usedBytes = 0
    private(set) var evictions = 0
    private var writesSinceSweep = 0
    private var sizing: [UInt8] = []  // reused to measure a value's JSON text
    private let maxBytes: Int
    private let clock: () -> Double

    public init(maxBytes: Int = 64 << 20, clock: @escaping () -> Double = MonotonicClock.coarseSeconds) {
        self.maxBytes = maxBytes
        self.clock = clock
    }

    public var cacheName: String { "memory" }

    /// The live entry's slot (an expired one is removed), marked as just used.
    private func live(_ key: String) -> Int? {
        guard let slot = index[key] else { return nil }
        if let t = slots[slot]!.expiresAt, t <= clock() {
            remove(slot)
            return nil
        }
        unlink(slot)
        pushNewest(slot)
        return slot
    }

    public func get(_ key: String, _ done: @escaping Completion<JSONValue?>) {
        done(.success(live(key).map { slots[$0]!.value }))
    }

    public func set(_ key: String, _ value: JSONValue, ttl: Double?, _ done: @escaping Completion<Bool>) {
        sizing.removeAll(keepingCapacity: sizing.capacity <= 64 << 10)
        value.writeJSON(into: &sizing)
        let bytes = key.utf8.count + sizing.count + Self.entryOverhead
        guard bytes <= maxBytes else {
            return done(.failure(.invalidParams(field: "value", reason: "with its key takes \(bytes) bytes, more than the cache's max_memory (\(maxBytes))")))
        }
        if let old = index[key] { remove(old) }
        let entry = Entry(key: key, value: value, expiresAt: ttl.map { clock() + $0 }, bytes: bytes)
        let slot: Int
        if let free = freeSlots.popLast() { slot = free; slots[slot] = entry } else { slot = slots.count; slots.append(entry) }
        index[key] = slot
        pushNewest(slot)
        usedBytes += bytes
        while usedBytes > maxBytes, oldest != -1, oldest != slot {
            remove(oldest)
            evictions += 1
        }
        writesSinceSweep += 1
        if writesSinceSweep >= 4096 { sweep() }
        done(.success(true))
    }

    public func delete(_ key: String, _ done: @escaping Completion<Bool>) {
        let existed = live(key)
        if let existed { remove(existed) }
        done(.success(existed != nil))
    }

    public func exists(_ key: String, _ done: @escaping Completion<Bool>) {
        done(.success(index[key].map { slots[$0]!.expiresAt.map { $0 > clock() } ?? true } ?? false))
    }

    public func clearPattern(_ pattern: String, _ done: @escaping Completion<Int>) {
        sweep()
        let glob = GlobPattern(pattern)
        let doomed = index.filter { glob.matches($0.key) }
        for (_, slot) in doomed { remove(slot) }
        done(.success(doomed.count))
    }

    public func ping(_ done: @escaping Completion<Bool>) { done(.success(true)) }

    public func statusReport() -> JSONValue {
        ["type": "memory", "state": "up", "keys": .int(Int64(index.count)), "used_bytes": .int(Int64(usedBytes)),
         "max_memory": .int(Int64(maxBytes)), "evicted_keys": .int(Int64(evictions))]
    }

    // MARK: - Entries and their recency

    private func remove(_ slot: Int) {
        let entry = slots[slot]!
        unlink(slot)
        index[entry.key] = nil
        usedBytes -= entry.bytes
        slots[slot] = nil
        freeSlots.append(slot)
    }

    private func unlink(_ slot: Int) {
        let e = slots[slot]!
        if e.newer != -1 { slots[e.newer]!.older = e.older } else { newest = e.older }
        if e.older != -1 { slots[e.older]!.newer = e.newer } else { oldest = e.newer }
        slots[slot]!.newer = -1
        slots[slot]!.older = -1
    }

    private func pushNewest(_ slot: Int) {
        slots[slot]!.older = newest
        if newest != -1 { slots[newest]!.newer = slot }
        newest = slot
        if oldest == -1 { oldest = slot }
    }

    /// Drops expired entries (amortised over writes).
    private func sweep() {
        writesSinceSweep = 0
        let now = clock()
        let expired = index.values.filter { slots[$0]!.expiresAt.map { $0 <= now } ?? false }
        for slot in expired { remove(slot) }
    }
}
