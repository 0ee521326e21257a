import ProxyCore

/// The proxy's read-through entries in process, as encoded answers, each
/// living its entry's TTL (the seed's: `task:{id}` 300 s, `tasks:…` 60 s).
/// A fill lands only if no invalidation happened since its lookup (one
/// generation for the whole cache: writes are rare next to reads).
/// Bounded by bytes (the answers plus their keys): an answer over an eighth
/// of the budget is not kept, and a fill that would pass the budget first
/// drops every group's entries (listings), then, if still needed, every
/// entry (it is only a cache: the next read refills what it needs). Loop
/// thread only.
public final class MemoryReadCache: ReadCache {
    public static let taskTTL = Double(CacheEntry.task("").ttl)
    public static let listTTL = Double(CacheEntry.taskList(TaskQuery()).ttl)
    public static let entryOverhead = 96
    private let maxBytes: Int
    private var ownBytes = 0, groupBytes = 0
    private let clock: () -> Double
    private var generation: UInt64 = 0

    private typealias Stored = (answer: EncodedJSON, expiresAt: Double)
    /// Entries with a version of their own, by key.
    private var own: [String: Stored] = [:]
    /// Entries of a group, by group, then key.
    private var groups: [String: [String: Stored]] = [:]

    public init(maxBytes: Int = 64 << 20, clock: @escaping () -> Double = MonotonicClock.coarseSeconds) {
        self.maxBytes = maxBytes
        self.clock = clock
    }

    private var ticketVersions: [String] { [String(generation)] }

    public func lookup(_ entry: CacheEntry, _ done: @escaping (CacheLookup) -> Void) {
        if let answer = cached(entry) { return done(.hit(answer)) }
        drop(entry)  // expired, if it was there
        done(.miss(FillTicket(entry: entry, versions: ticketVersions)))
    }

    public func cached(_ entry: CacheEntry) -> EncodedJSON? {
        let stored = entry.group.map { groups[$0]?[entry.key] } ?? own[entry.key]
        guard let stored, stored.expiresAt > clock() else { return nil }
        return stored.answer
    }

    public func fill(_ ticket: FillTicket, with answer: EncodedJSON, _ done: @escaping () -> Void) {
        defer { done() }
        guard ticket.versions == ticketVersions else { return }  // a write came in between
        let entry = ticket.entry
        let size = Self.cost(entry.key, answer)
        guard size <= maxBytes / 8 else { return }
        drop(entry)
        if usedBytes + size > maxBytes { dropAllGroups() }
        if usedBytes + size > maxBytes { own.removeAll(keepingCapacity: true); ownBytes = 0 }
        let stored = (answer, clock() + Double(entry.ttl))
        if let group = entry.group {
            groups[group, default: [:]][entry.key] = stored
            groupBytes += size
        } else {
            own[entry.key] = stored
            ownBytes += size
        }
    }

    public var usedBytes: Int { ownBytes + groupBytes }

    private static func cost(_ key: String, _ answer: EncodedJSON) -> Int { key.utf8.count + answer.bytes.count + entryOverhead }

    private func drop(_ entry: CacheEntry) {
        if let group = entry.group {
            if let old = groups[group]?.removeValue(forKey: entry.key) { groupBytes -= Self.cost(entry.key, old.answer) }
        } else {
            dropOwn(entry.key)
        }
    }

    private func dropOwn(_ key: String) {
        if let old = own.removeValue(forKey: key) { ownBytes -= Self.cost(key, old.answer) }
    }

    private func dropGroup(_ group: String) {
        for (key, old) in groups.removeValue(forKey: group) ?? [:] { groupBytes -= Self.cost(key, old.answer) }
    }

    private func dropAllGroups() {
        groups.removeAll(keepingCapacity: true)
        groupBytes = 0
    }

    public func invalidate(_ what: CacheInvalidation, _ done: @escaping () -> Void) {
        generation &+= 1
        for key in what.keys { dropOwn(key) }
        for group in what.groups { dropGroup(group) }
        done()
    }

    public func statusReport() -> JSONValue {
        ["type": "memory", "entries": .int(Int64(own.count)), "listings": .int(Int64(groups.values.reduce(0) { $0 + $1.count })),
         "used_bytes": .int(Int64(usedBytes)), "max_memory": .int(Int64(maxBytes))]
    }
}
