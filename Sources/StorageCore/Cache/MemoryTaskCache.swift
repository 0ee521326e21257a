/// The proxy's read-through entries in process, as encoded answers.
/// TTLs are the seed's (`task:{id}` 300 s, `tasks:{agent}:{status}` 60 s).
/// A fill lands only if no invalidation happened since its lookup (one
/// generation for the whole cache: writes are rare next to reads).
/// Loop thread only.
public final class MemoryTaskCache: TaskCache {
    public static let taskTTL = 300.0
    public static let listTTL = 60.0
    private let maxEntries: Int
    private let clock: () -> Double
    private var generation: UInt64 = 0

    private var tasks: [String: (answer: EncodedJSON, expiresAt: Double)] = [:]
    private var lists: [String: (answer: EncodedJSON, expiresAt: Double)] = [:]

    public init(maxEntries: Int = 100_000, clock: @escaping () -> Double = MonotonicClock.coarseSeconds) {
        self.maxEntries = maxEntries
        self.clock = clock
    }

    private var ticketVersions: [String] { [String(generation)] }

    public func lookupTask(id: String, _ done: @escaping (CacheLookup) -> Void) {
        let key = CacheKeys.task(id)
        if let e = tasks[key] {
            if e.expiresAt > clock() { return done(.hit(e.answer)) }
            tasks[key] = nil
        }
        done(.miss(FillTicket(entry: key, versions: ticketVersions)))
    }

    public func lookupTaskList(_ query: TaskQuery, _ done: @escaping (CacheLookup) -> Void) {
        let key = CacheKeys.taskList(query)
        if let e = lists[key] {
            if e.expiresAt > clock() { return done(.hit(e.answer)) }
            lists[key] = nil
        }
        done(.miss(FillTicket(entry: key, versions: ticketVersions)))
    }

    public func fill(_ ticket: FillTicket, with answer: EncodedJSON, _ done: @escaping () -> Void) {
        defer { done() }
        guard ticket.versions == ticketVersions else { return }  // a write came in between
        if CacheKeys.isTaskList(ticket.entry) {
            if lists.count >= maxEntries / 10 { lists.removeAll(keepingCapacity: true) }
            lists[ticket.entry] = (answer, clock() + Self.listTTL)
        } else {
            if tasks.count >= maxEntries { tasks.removeAll(keepingCapacity: true) }
            tasks[ticket.entry] = (answer, clock() + Self.taskTTL)
        }
    }

    public func invalidate(taskIDs: [String], _ done: @escaping () -> Void) {
        generation &+= 1
        for id in taskIDs { tasks[CacheKeys.task(id)] = nil }
        lists.removeAll(keepingCapacity: true)
        done()
    }

    public func statusReport() -> JSONValue {
        ["type": "memory", "tasks": .int(Int64(tasks.count)), "lists": .int(Int64(lists.count))]
    }
}
