import ProxyCore

/// The proxy's read-through entries in process, as encoded answers.
/// TTLs are the seed's (`task:{id}` 300 s, `tasks:{agent}:{status}` 60 s).
/// A fill lands only if no invalidation happened since its lookup (one
/// generation for the whole cache: writes are rare next to reads).
/// Bounded by bytes (the answers plus their keys): an answer over an eighth
/// of the budget is not kept, and a fill that would pass the budget first
/// drops every list, then, if still needed, every task entry (both are only
/// a cache: the next read refills what it needs). Loop thread only.
public final class MemoryTaskCache: TaskCache {
    public static let taskTTL = 300.0
    public static let listTTL = 60.0
    public static let entryOverhead = 96
    private let maxBytes: Int
    private var taskBytes = 0, listBytes = 0
    private let clock: () -> Double
    private var generation: UInt64 = 0

    private var tasks: [String: (answer: EncodedJSON, expiresAt: Double)] = [:]
    private var lists: [String: (answer: EncodedJSON, expiresAt: Double)] = [:]

    public init(maxBytes: Int = 64 << 20, clock: @escaping () -> Double = MonotonicClock.coarseSeconds) {
        self.maxBytes = maxBytes
        self.clock = clock
    }

    private var ticketVersions: [String] { [String(generation)] }

    public func lookupTask(id: String, _ done: @escaping (CacheLookup) -> Void) {
        let key = CacheKeys.task(id)
        if let e = tasks[key] {
            if e.expiresAt > clock() { return done(.hit(e.answer)) }
            dropTask(key)
        }
        done(.miss(FillTicket(entry: key, versions: ticketVersions)))
    }

    public func cachedTask(id: String) -> EncodedJSON? {
        guard let e = tasks[CacheKeys.task(id)], e.expiresAt > clock() else { return nil }
        return e.answer
    }

    public func lookupTaskList(_ query: TaskQuery, _ done: @escaping (CacheLookup) -> Void) {
        let key = CacheKeys.taskList(query)
        if let e = lists[key] {
            if e.expiresAt > clock() { return done(.hit(e.answer)) }
            dropList(key)
        }
        done(.miss(FillTicket(entry: key, versions: ticketVersions)))
    }

    public func fill(_ ticket: FillTicket, with answer: EncodedJSON, _ done: @escaping () -> Void) {
        defer { done() }
        guard ticket.versions == ticketVersions else { return }  // a write came in between
        let size = Self.cost(ticket.entry, answer)
        guard size <= maxBytes / 8 else { return }
        let isList = CacheKeys.isTaskList(ticket.entry)
        if isList { dropList(ticket.entry) } else { dropTask(ticket.entry) }
        if usedBytes + size > maxBytes { dropAllLists() }
        if usedBytes + size > maxBytes { tasks.removeAll(keepingCapacity: true); taskBytes = 0 }
        if isList {
            lists[ticket.entry] = (answer, clock() + Self.listTTL)
            listBytes += size
        } else {
            tasks[ticket.entry] = (answer, clock() + Self.taskTTL)
            taskBytes += size
        }
    }

    public var usedBytes: Int { taskBytes + listBytes }

    private static func cost(_ key: String, _ answer: EncodedJSON) -> Int { key.utf8.count + answer.bytes.count + entryOverhead }

    private func dropTask(_ key: String) {
        if let old = tasks.removeValue(forKey: key) { taskBytes -= Self.cost(key, old.answer) }
    }

    private func dropList(_ key: String) {
        if let old = lists.removeValue(forKey: key) { listBytes -= Self.cost(key, old.answer) }
    }

    private func dropAllLists() {
        lists.removeAll(keepingCapacity: true)
        listBytes = 0
    }

    public func invalidate(taskIDs: [String], _ done: @escaping () -> Void) {
        generation &+= 1
        for id in taskIDs { dropTask(CacheKeys.task(id)) }
        dropAllLists()
        done()
    }

    public func statusReport() -> JSONValue {
        ["type": "memory", "tasks": .int(Int64(tasks.count)), "lists": .int(Int64(lists.count)),
         "used_bytes": .int(Int64(usedBytes)), "max_memory": .int(Int64(maxBytes))]
    }
}
