import ProxyCore

/// Puts the proxy's read-through cache in front of a storage backend's
/// task methods: `get_task`/`list_tasks` answers outside a transaction
/// (`getTaskJSON`, `listTasksJSON`) come from the cache, already encoded,
/// when they can, and every task write invalidates what it changed, with the
/// guarantees `ReadThrough` keeps (operations with a cache policy share the
/// same instance). The typed reads pass through. Loop thread only.
public final class ReadThroughStorage: StorageAdapter, TaskAnswers {
    public let storage: StorageAdapter
    /// Encoded reads inside a transaction, and on a miss.
    private let direct: EncodedTaskReads
    public let readThrough: ReadThrough

    public init(storage: StorageAdapter, cache: ReadCache) {
        self.storage = storage
        readThrough = ReadThrough(cache: cache)
        direct = EncodedTaskReads(storage)
    }

    public var backendName: String { storage.backendName }
    /// Invalidation runs after each commit, before the answer: order is the storage's.
    public var appliesWritesInOrder: Bool { storage.appliesWritesInOrder }

    private func wrote(_ ids: [String], in tx: TransactionID?, then: @escaping () -> Void) {
        readThrough.wrote(.tasks(ids), in: tx, then: then)
    }

    // MARK: - Cached reads

    public func getTaskJSON(id: String, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        guard tx == nil else { return direct.getTaskJSON(id: id, in: tx, done) }
        readThrough.answer(.task(id), done) { [direct] in direct.getTaskJSON(id: id, in: nil, $0) }
    }

    public func cachedTaskJSON(id: String) -> EncodedJSON? { readThrough.cached(.task(id)) }

    public func listTasksJSON(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        guard tx == nil else { return direct.listTasksJSON(query, in: tx, done) }
        readThrough.answer(.taskList(query), done) { [direct] in direct.listTasksJSON(query, in: nil, $0) }
    }

    public func getTask(id: String, in tx: TransactionID?, _ done: @escaping Completion<TaskRecord?>) {
        storage.getTask(id: id, in: tx, done)
    }

    public func listTasks(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<[TaskRecord]>) {
        storage.listTasks(query, in: tx, done)
    }

    // MARK: - Writes that invalidate

    public func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>) {
        storage.saveTask(fields, id: id, in: tx) { [self] result in
            guard case .success(let savedID) = result else { return done(result) }
            wrote([savedID], in: tx) { done(result) }
        }
    }

    public func deleteTask(id: String, in tx: TransactionID?, _ done: @escaping Completion<Bool>) {
        storage.deleteTask(id: id, in: tx) { [self] result in
            guard case .success = result else { return done(result) }
            wrote([id], in: tx) { done(result) }
        }
    }

    public func updateTaskStatus(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?,
                                 in tx: TransactionID?, _ done: @escaping Completion<Bool>) {
        storage.updateTaskStatus(id: id, status: status, lastRun: lastRun, nextRun: nextRun, in: tx) { [self] result in
            guard case .success = result else { return done(result) }
            wrote([id], in: tx) { done(result) }
        }
    }

    public func claimDueTasks(_ request: ClaimRequest, _ done: @escaping Completion<[TaskRecord]>) {
        storage.claimDueTasks(request) { [self] result in
            guard case .success(let tasks) = result, !tasks.isEmpty else { return done(result) }
            wrote(tasks.map(\.id), in: nil) { done(result) }
        }
    }

    public func renewLease(taskID: String, worker: String, until: Timestamp, now: Timestamp, _ done: @escaping Completion<TaskRecord>) {
        storage.renewLease(taskID: taskID, worker: worker, until: until, now: now) { [self] result in
            guard case .success = result else { return done(result) }
            wrote([taskID], in: nil) { done(result) }
        }
    }

    public func completeTask(_ completion: TaskCompletion, _ done: @escaping Completion<TaskRecord>) {
        storage.completeTask(completion) { [self] result in
            guard case .success = result else { return done(result) }
            wrote([completion.taskID], in: nil) { done(result) }
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

    public func saveLog(_ entry: LogEntry, in tx: TransactionID?, _ done: @escaping Completion<String>) {
        storage.saveLog(entry, in: tx, done)
    }

    public func queryLogs(_ query: LogQuery, in tx: TransactionID?, _ done: @escaping Completion<[LogEntry]>) {
        storage.queryLogs(query, in: tx, done)
    }

    public func deleteOldLogs(before: Timestamp, in tx: TransactionID?, _ done: @escaping Completion<Int>) {
        storage.deleteOldLogs(before: before, in: tx, done)
    }

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
