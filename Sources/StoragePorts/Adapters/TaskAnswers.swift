import ProxyCore

/// Where the answers of `get_task` and `list_tasks` come from, already
/// encoded: the read-through cache keeps and serves these bytes
/// (`ReadThroughStorage`); without one they are the storage's typed reads,
/// encoded (`EncodedTaskReads`). The server picks one at start-up.
public protocol TaskAnswers: AnyObject {
    func getTaskJSON(id: String, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>)
    func listTasksJSON(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>)
    /// A task's answer if a cache in this process holds it: answered at once,
    /// with no callback to create (the hot path of a cached `get_task`).
    func cachedTaskJSON(id: String) -> EncodedJSON?
}

extension TaskAnswers {
    public func cachedTaskJSON(id: String) -> EncodedJSON? { nil }
}
