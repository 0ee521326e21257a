import ProxyCore

/// A backend's handle for an open transaction (the wire handle is the
/// server's own; it maps to this).
public struct TransactionID: Hashable, Sendable {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// What a backend is beyond the operations it runs (`SQLStore.OperationRunner`):
/// health, transactions, live events (`ChangeFeed`), the vector store's
/// tables, status and shutdown.
public protocol StorageAdapter: ChangeFeed {
    /// `sqlite`, `postgresql`, … (status reports).
    var backendName: String { get }

    func healthCheck(_ done: @escaping Completion<Bool>)

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
