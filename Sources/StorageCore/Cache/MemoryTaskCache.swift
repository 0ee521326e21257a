/// The proxy's read-through entries in process, as encoded answers.
/// TTLs are the seed's (`task:{id}` 300 s, `tasks:{agent}:{status}` 60 s).
/// Loop thread only.
public final class MemoryTaskCache: TaskCache {
    public static let taskTTL = 300.0
    public static let listTTL = 60.0
    private let maxEntries: Int
    private let clock: () -> Double

    private var tasks: [String: (answer: EncodedJSON, expiresAt: Double)] = [:]
    private var lists: [TaskQuery: (answer: EncodedJSON, expiresAt: Double)] = [:]

    public init(maxEntries: Int = 100_000, clock: @escaping () -> Double = MonotonicClock.coarseSeconds) {
        self.maxEntries = maxEntries
        self.clock = clock
    }

    public func task(id: String) -> EncodedJSON? {
        guard let e = tasks[id] else { return nil }
        guard e.expiresAt > clock() else { tasks[id] = nil; return nil }
        return e.answer
    }

    public func storeTask(_ answer: EncodedJSON, id: String) {
        if tasks.count >= maxEntries { tasks.removeAll(keepingCapacity: true) }
        tasks[id] = (answer, clock() + Self.taskTTL)
    }

    public func taskList(_ query: TaskQuery) -> EncodedJSON? {
        guard let e = lists[query] else { return nil }
        guard e.expiresAt > clock() else { lists[query] = nil; return nil }
        return e.answer
    }

    public func storeTaskList(_ answer: EncodedJSON, for query: TaskQuery) {
        if lists.count >= maxEntries / 10 { lists.removeAll(keepingCapacity: true) }
        lists[query] = (answer, clock() + Self.listTTL)
    }

    public func invalidate(taskIDs: some Sequence<String>) {
        for id in taskIDs { tasks[id] = nil }
        lists.removeAll(keepingCapacity: true)
    }

    public func statusReport() -> JSONValue {
        ["type": "memory", "tasks": .int(Int64(tasks.count)), "lists": .int(Int64(lists.count))]
    }
}
