import ProxyCore

/// A backend's handle for an open transaction (the wire handle is the
/// server's own; it maps to this).
public struct TransactionID: Hashable, Sendable {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// The seed's `StorageAdapter`, one method per contract method. Every
/// method but health and the transaction calls takes an optional transaction.
/// Every backend also implements the claims and leases (`TaskClaims`) and
/// live events (`ChangeFeed`).
public protocol StorageAdapter: TaskClaims, ChangeFeed {
    /// `sqlite`, `postgresql`, … (status reports).
    var backendName: String { get }

    func healthCheck(_ done: @escaping Completion<Bool>)

    /// Insert, or merge into the stored task when `id` exists. Returns the id.
    func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>)
    func getTask(id: String, in tx: TransactionID?, _ done: @escaping Completion<TaskRecord?>)
    func listTasks(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<[TaskRecord]>)
    func deleteTask(id: String, in tx: TransactionID?, _ done: @escaping Completion<Bool>)
    func updateTaskStatus(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?,
                          in tx: TransactionID?, _ done: @escaping Completion<Bool>)

    /// Stores the entry (its id and time chosen by the caller) and returns its
    /// id. An id already stored is not written again: retries and re-imports
    /// are idempotent. An unknown task is `.notFound`.
    func saveLog(_ entry: LogEntry, in tx: TransactionID?, _ done: @escaping Completion<String>)
    func queryLogs(_ query: LogQuery, in tx: TransactionID?, _ done: @escaping Completion<[LogEntry]>)
    func deleteOldLogs(before: Timestamp, in tx: TransactionID?, _ done: @escaping Completion<Int>)

    func beginTransaction(_ done: @escaping Completion<TransactionID>)
    func commitTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>)
    func rollbackTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>)

    /// Finishes queued work, then closes every connection; `done` runs on the loop.
    func close(_ done: @escaping () -> Void)

    /// Pool and backend figures for `server.status`.
    func statusReport() -> JSONValue

    /// The vector store's tables (`vector.*`) in this backend.
    var vectors: VectorStorage { get }

    /// True when writes outside transactions are applied in the order they
    /// were called (SQLite: one writer thread takes them first in, first
    /// out). The server then starts a connection's next write without waiting
    /// for the answer to the one before, so pipelined writes share a group
    /// commit. False (the default) when they may be applied in any order
    /// (PostgreSQL: several pooled connections).
    var appliesWritesInOrder: Bool { get }
}

extension StorageAdapter {
    public var appliesWritesInOrder: Bool { false }
}
