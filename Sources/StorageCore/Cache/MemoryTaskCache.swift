/// The proxy's read-through entries in process: typed records, no encoding.
/// TTLs are the seed's (`task:{id}` 300 s, `tasks:{agent}:{status}` 60 s).
/// Loop thread only.
public final class MemoryTaskCache: TaskCache {
    public static let taskTTL = 300.0
    public static let listTTL = 60.0
    private let maxEntries: Int
    private let clock: () -> Double

    private var tasks: [String: (task: TaskRecord?, expiresAt: Double)] = [:]
    private var lists: [TaskQuery: (tasks: [TaskRecord], expiresAt: Double)] = [:]

    public init(maxEntries: Int = 100_000, clock: @escaping () -> Double = MonotonicClock.coarseSeconds) {
        self.maxEntries = maxEntries
        self.clock = clock
    }

    public func task(id: String) -> TaskRecord?? {
        guard let e = tasks[id] else { return nil }
        guard e.expiresAt > clock() else { tasks[id] = nil; return nil }
        return .some(e.task)
    }

    public func storeTask(_ task: TaskRecord?, id: String) {
        if tasks.count >= maxEntries { tasks.removeAll(keepingCapacity: true) }
        tasks[id] = (task, clock() + Self.taskTTL)
    }

    public func taskList(_ query: TaskQuery) -> [TaskRecord]? {
        guard let e = lists[query] else { return nil }
        guard e.expiresAt > clock() else { lists[query] = nil; return nil }
        return e.tasks
    }

    public func storeTaskList(_ list: [TaskRecord], for query: TaskQuery) {
        if lists.count >= maxEntries / 10 { lists.removeAll(keepingCapacity: true) }
        lists[query] = (list, clock() + Self.listTTL)
    }

    public func invalidate(taskIDs: some Sequence<String>) {
        for id in taskIDs { tasks[id] = nil }
        lists.removeAll(keepingCapacity: true)
    }

    public func statusReport() -> JSONValue {
        ["type": "memory", "tasks": .int(Int64(tasks.count)), "lists": .int(Int64(lists.count))]
    }
}
