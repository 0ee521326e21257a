import ProxyCore

/// One read-through entry: the name its answer is kept under, what retires
/// it, and how long it may live. An operation's cache policy names these
/// (`SQLStore.CachePolicy`); the caches only know entries and groups, so any
/// read can be cached without a line in them.
public struct CacheEntry: Hashable, Sendable {
    /// The entry's name, e.g. `task:{id}`, `tasks:{agent}:{status}:{limit}:{offset}`, `meta:{key}`.
    public let key: String
    /// nil: the entry has a version of its own, bumped by every write of that
    /// key. A name: the entry belongs to this group (a listing), and every
    /// write to the group retires all of its entries at once.
    public let group: String?
    /// Seconds it may be served without being read again.
    public let ttl: Int

    public init(key: String, group: String? = nil, ttl: Int) {
        self.key = key
        self.group = group
        self.ttl = ttl
    }

    /// The seed's `task:{id}` (300 s).
    public static func task(_ id: String) -> CacheEntry { CacheEntry(key: CacheKeys.task(id), ttl: 300) }
    /// The seed's `tasks:{agent}:{status}` (60 s), in the `lists` group: any task write retires every list.
    public static func taskList(_ q: TaskQuery) -> CacheEntry { CacheEntry(key: CacheKeys.taskList(q), group: taskLists, ttl: 60) }
    public static let taskLists = "lists"
}

/// What a committed write retires: entries by key (their versions are
/// bumped, so a fill that read before the write cannot land) and whole groups.
public struct CacheInvalidation: Sendable, Equatable {
    public var keys: [String]
    public var groups: [String]

    public init(keys: [String] = [], groups: [String] = []) {
        self.keys = keys
        self.groups = groups
    }

    /// A task write: its entry, and every task list.
    public static func tasks(_ ids: [String]) -> CacheInvalidation {
        ids.isEmpty ? CacheInvalidation() : CacheInvalidation(keys: ids.map(CacheKeys.task), groups: [CacheEntry.taskLists])
    }

    public var isEmpty: Bool { keys.isEmpty && groups.isEmpty }
}
