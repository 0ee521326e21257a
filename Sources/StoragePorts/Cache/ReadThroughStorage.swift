import ProxyCore

/// Puts the proxy's read-through cache behind a storage backend's own
/// task writes (`save_task`, the claims, a transaction's end): each retires
/// what it changed through `ReadThrough`, the same instance the operations'
/// cache policies use (`SQLStore.Operations`). Everything else passes
/// through. Loop thread only.
public final class ReadThroughStorage: StorageAdapter {
    public let storage: StorageAdapter
    public let readThrough: ReadThrough

    public init(storage: StorageAdapter, cache: ReadCache) {
        self.storage = storage
        readThrough = ReadThrough(cache: cache)
    }

    public var backendName: String { storage.backendName }
    /// Invalidation runs after each commit, before the answer: order is the storage's.
    public var appliesWritesInOrder: Bool { storage.appliesWritesInOrder }

    private func wrote(_ ids: [String], in tx: TransactionID?, then: @escaping () -> Void) {
        readThrough.wrote(.tasks(ids), in: tx, then: then)
    }

    // MARK: - Writes that invalidate

    public func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>) {
        storage.saveTask(fields, id: id, in: tx) { [self] result in
            guard case .success(let savedID) = result else { return done(result) }
            wrote([savedID], in: tx) { done(result) }
        }
    }

    public func commitTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        storage.commitTransaction(tx) { [self] result in readThrough.ended(tx, committed: true) { done(result) } }
    }

    public func rollbackTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        readThrough.ended(tx, committed: false) {}
        storage.rollbackTransaction(tx, done)
    }

    // MARK: - Passed through

    public func healthCheck(_ done: @escaping Completion<Bool>) { storage.healthCheck(done) }

    public func beginTransaction(_ done: @escaping Completion<TransactionID>) { storage.beginTransaction(done) }

    public func close(_ done: @escaping () -> Void) { storage.close(done) }

    public func startChanges(_ sink: @escaping ChangeSink, lost: @escaping (String) -> Void, ready: @escaping Completion<Void>) {
        storage.startChanges(sink, lost: lost, ready: ready)
    }

    public func stopChanges() { storage.stopChanges() }

    /// Vector documents are not cached here (the proxy keeps its matrices).
    public var vectors: VectorStorage { storage.vectors }

    public func statusReport() -> JSONValue {
        guard case .object(var report) = storage.statusReport() else { return storage.statusReport() }
        report["read_through"] = readThrough.statusReport()
        return .object(report)
    }
}
