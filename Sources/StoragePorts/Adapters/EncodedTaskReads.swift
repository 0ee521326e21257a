import ProxyCore

/// The storage's typed reads, encoded: no cache in front.
public final class EncodedTaskReads: TaskAnswers {
    private let storage: StorageAdapter

    public init(_ storage: StorageAdapter) { self.storage = storage }

    public func getTaskJSON(id: String, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        storage.getTask(id: id, in: tx) { done($0.map { EncodedJSON(encoding: $0) }) }
    }

    public func listTasksJSON(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        storage.listTasks(query, in: tx) { done($0.map { EncodedJSON(encoding: $0) }) }
    }
}
