/// Puts the proxy's read-through cache in front of a storage backend.
///
/// `get_task`/`list_tasks` answers outside a transaction (`getTaskJSON`,
/// `listTasksJSON`) are served from the cache, already encoded, when they can
/// be; a miss reads storage and fills the cache. The typed reads pass through. Every committed write that
/// touches tasks drops the entries it may have changed, after the commit
/// succeeded. A fill is only stored if no task write completed while the
/// read was in flight (`generation`): a reader that read a row before a
/// concurrent writer committed can never put it back after the writer's
/// invalidation. Loop thread only.
public final class ReadThroughStorage: StorageAdapter {
    public let storage: StorageAdapter
    public let cache: TaskCache
    private var generation: UInt64 = 0
    /// Tasks written inside each open transaction: invalidated at commit.
    private var touched: [TransactionID: Set<String>] = [:]
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(storage: StorageAdapter, cache: TaskCache) {
        self.storage = storage
        self.cache = cache
    }

    public var backendName: String { storage.backendName }

    private func wrote(_ ids: [String], in tx: TransactionID?) {
        if let tx {
            touched[tx, default: []].formUnion(ids)
        } else {
            generation &+= 1
            cache.invalidate(taskIDs: ids)
        }
    }

    // MARK: - Cached reads

    public func getTaskJSON(id: String, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        if tx == nil, let cached = cache.task(id: id) {
            hits += 1
            return done(.success(cached))
        }
        if tx == nil { misses += 1 }
        let started = generation
        storage.getTaskJSON(id: id, in: tx) { [self] result in
            if tx == nil, case .success(let answer) = result, generation == started { cache.storeTask(answer, id: id) }
            done(result)
        }
    }

    public func listTasksJSON(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        if tx == nil, let cached = cache.taskList(query) {
            hits += 1
            return done(.success(cached))
        }
        if tx == nil { misses += 1 }
        let started = generation
        storage.listTasksJSON(query, in: tx) { [self] result in
            if tx == nil, case .success(let answer) = result, generation == started { cache.storeTaskList(answer, for: query) }
            done(result)
        }
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
            if case .success(let savedID) = result { wrote([savedID], in: tx) }
            done(result)
        }
    }

    public func deleteTask(id: String, in tx: TransactionID?, _ done: @escaping Completion<Bool>) {
        storage.deleteTask(id: id, in: tx) { [self] result in
            if case .success = result { wrote([id], in: tx) }
            done(result)
        }
    }

    public func updateTaskStatus(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?,
                                 in tx: TransactionID?, _ done: @escaping Completion<Bool>) {
        storage.updateTaskStatus(id: id, status: status, lastRun: lastRun, nextRun: nextRun, in: tx) { [self] result in
            if case .success = result { wrote([id], in: tx) }
            done(result)
        }
    }

    public func commitTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        storage.commitTransaction(tx) { [self] result in
            let ids = touched.removeValue(forKey: tx) ?? []
            // Even a failed commit may have been applied: dropping entries is always safe.
            if !ids.isEmpty { wrote(Array(ids), in: nil) }
            done(result)
        }
    }

    public func rollbackTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        touched[tx] = nil
        storage.rollbackTransaction(tx, done)
    }

    // MARK: - Passed through

    public func healthCheck(_ done: @escaping Completion<Bool>) { storage.healthCheck(done) }

    public func saveLog(taskID: String, level: LogLevel, message: String, metadata: JSONObject?,
                        in tx: TransactionID?, _ done: @escaping Completion<String>) {
        storage.saveLog(taskID: taskID, level: level, message: message, metadata: metadata, in: tx, done)
    }

    public func queryLogs(_ query: LogQuery, in tx: TransactionID?, _ done: @escaping Completion<[LogEntry]>) {
        storage.queryLogs(query, in: tx, done)
    }

    public func deleteOldLogs(before: Timestamp, in tx: TransactionID?, _ done: @escaping Completion<Int>) {
        storage.deleteOldLogs(before: before, in: tx, done)
    }

    public func saveMetadata(key: String, value: JSONValue, in tx: TransactionID?, _ done: @escaping Completion<Void>) {
        storage.saveMetadata(key: key, value: value, in: tx, done)
    }

    public func getMetadata(key: String, in tx: TransactionID?, _ done: @escaping Completion<JSONValue?>) {
        storage.getMetadata(key: key, in: tx, done)
    }

    public func beginTransaction(_ done: @escaping Completion<TransactionID>) { storage.beginTransaction(done) }

    public func close(_ done: @escaping () -> Void) { storage.close(done) }

    public func statusReport() -> JSONValue {
        guard case .object(var report) = storage.statusReport() else { return storage.statusReport() }
        report["read_through"] = ["hits": .int(Int64(hits)), "misses": .int(Int64(misses)), "entries": cache.statusReport()]
        return .object(report)
    }
}
