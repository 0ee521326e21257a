/// The seed's `CacheAdapter`: the application's own key space (`cache.*`).
public protocol CacheAdapter: AnyObject {
    var cacheName: String { get }
    func get(_ key: String, _ done: @escaping Completion<JSONValue?>)
    /// `ttl` in seconds; `nil` clears an earlier ttl (as Redis `SET`).
    func set(_ key: String, _ value: JSONValue, ttl: Double?, _ done: @escaping Completion<Bool>)
    func delete(_ key: String, _ done: @escaping Completion<Bool>)
    func exists(_ key: String, _ done: @escaping Completion<Bool>)
    /// Glob as Redis (`*`, `?`, `[abc]`, `\x`); returns how many keys went.
    func clearPattern(_ pattern: String, _ done: @escaping Completion<Int>)
    func ping(_ done: @escaping Completion<Bool>)
    func statusReport() -> JSONValue
}

/// The proxy's own read-through entries, in a namespace `cache.*` cannot
/// reach. Values are the encoded answers (`null` for a task known absent):
/// what a client receives, ready to copy.
public protocol TaskCache: AnyObject {
    func task(id: String) -> EncodedJSON?
    func storeTask(_ answer: EncodedJSON, id: String)
    func taskList(_ query: TaskQuery) -> EncodedJSON?
    func storeTaskList(_ answer: EncodedJSON, for query: TaskQuery)
    /// Drops a task's entry and every list (any write may change any list).
    func invalidate(taskIDs: some Sequence<String>)
    func statusReport() -> JSONValue
}
