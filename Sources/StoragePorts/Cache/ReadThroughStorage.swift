import ProxyCore

/// Puts the proxy's read-through cache in front of a storage backend.
///
/// `get_task`/`list_tasks` answers outside a transaction (`getTaskJSON`,
/// `listTasksJSON`) are served from the cache, already encoded, when they
/// can be; a miss reads storage and fills the cache. Identical misses in
/// flight together share one storage read (single-flight: a stampede on a
/// hot key costs one query). The typed reads pass through.
///
/// Every committed write that touches tasks invalidates the entries it may
/// have changed after the commit succeeded and before it is acknowledged, so
/// a read sent after the acknowledgement, through any proxy sharing the
/// cache, cannot be served the old answer. A fill carries the versions its
/// lookup saw (`FillTicket`) and lands only if no invalidation came in
/// between: a reader that read a row before a concurrent writer committed
/// can never put it back after the writer's invalidation. Loop thread only.
public final class ReadThroughStorage: StorageAdapter, TaskAnswers {
    public let storage: StorageAdapter
    /// Encoded reads inside a transaction, and on a miss.
    private let direct: EncodedTaskReads
    public let cache: TaskCache
    /// Tasks written inside each open transaction: invalidated at commit.
    private var touched: [TransactionID: Set<String>] = [:]
    /// Storage reads in flight for a miss, and who else waits for each.
    private var flights: [FillTicket: [Completion<EncodedJSON>]] = [:]
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var storageReads = 0
    public private(set) var sharedReads = 0
    public private(set) var bypassed = 0

    public init(storage: StorageAdapter, cache: TaskCache) {
        self.storage = storage
        self.cache = cache
        direct = EncodedTaskReads(storage)
    }

    public var backendName: String { storage.backendName }
    /// Invalidation runs after each commit, before the answer: order is the storage's.
    public var appliesWritesInOrder: Bool { storage.appliesWritesInOrder }

    /// Runs `then` once the writes' entries are gone (at once inside a
    /// transaction: its writes are invalidated when it commits).
    private func wrote(_ ids: [String], in tx: TransactionID?, then: @escaping () -> Void) {
        if let tx {
            touched[tx, default: []].formUnion(ids)
            return then()
        }
        cache.invalidate(taskIDs: ids, then)
    }

    // MARK: - Cached reads

    public func getTaskJSON(id: String, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        guard tx == nil else { return direct.getTaskJSON(id: id, in: tx, done) }
        cache.lookupTask(id: id) { [self] lookup in
            serve(lookup, done) { [direct] in direct.getTaskJSON(id: id, in: nil, $0) }
        }
    }

    public func cachedTaskJSON(id: String) -> EncodedJSON? {
        guard let answer = cache.cachedTask(id: id) else { return nil }
        hits += 1
        return answer
    }

    public func listTasksJSON(_ query: TaskQuery, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        guard tx == nil else { return direct.listTasksJSON(query, in: tx, done) }
        cache.lookupTaskList(query) { [self] lookup in
            serve(lookup, done) { [direct] in direct.listTasksJSON(query, in: nil, $0) }
        }
    }

    private func serve(_ lookup: CacheLookup, _ done: @escaping Completion<EncodedJSON>,
                       read: (@escaping Completion<EncodedJSON>) -> Void) {
        switch lookup {
        case .hit(let answer):
            hits += 1
            done(.success(answer))
        case .unavailable:
            bypassed += 1
            storageReads += 1
            read(done)
        case .miss(let ticket):
            misses += 1
            if flights[ticket] != nil {
                sharedReads += 1
                flights[ticket]!.append(done)
                return
            }
            flights[ticket] = [done]
            storageReads += 1
            read { [self] result in
                guard case .success(let answer) = result else { return land(ticket, result) }
                // Answered once the entry is in: the next read of it, from
                // anyone, is a hit. Misses meanwhile join this flight.
                cache.fill(ticket, with: answer) { [self] in land(ticket, result) }
            }
        }
    }

    /// Ends a flight: everyone who waited for it gets its answer.
    private func land(_ ticket: FillTicket, _ result: Result<EncodedJSON, ProxyError>) {
        for w in flights.removeValue(forKey: ticket) ?? [] { w(result) }
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
        storage.commitTransaction(tx) { [self] result in
            let ids = touched.removeValue(forKey: tx) ?? []
            // Even a failed commit may have been applied: dropping entries is always safe.
            guard !ids.isEmpty else { return done(result) }
            wrote(Array(ids), in: nil) { done(result) }
        }
    }

    public func rollbackTransaction(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        touched[tx] = nil
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

    public func saveMetadata(key: String, value: JSONValue, in tx: TransactionID?, _ done: @escaping Completion<Void>) {
        storage.saveMetadata(key: key, value: value, in: tx, done)
    }

    public func getMetadata(key: String, in tx: TransactionID?, _ done: @escaping Completion<JSONValue?>) {
        storage.getMetadata(key: key, in: tx, done)
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
        report["read_through"] = ["hits": .int(Int64(hits)), "misses": .int(Int64(misses)),
                                  "storage_reads": .int(Int64(storageReads)), "shared_reads": .int(Int64(sharedReads)),
                                  "bypassed": .int(Int64(bypassed)), "cache": cache.statusReport()]
        return .object(report)
    }
}
