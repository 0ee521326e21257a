#if canImport(Glibc)
import Glibc
#endif
import ProxyCore
import Synchronization

/// The async/await client of the wire contract: one connection that any
/// number of tasks share (pipelined, answered in order). The first connect
/// is tried once, for at most `firstConnectTimeout` (1 s): a proxy that is
/// not there is a configuration error, reported at once. A lost connection
/// is reopened by the next call, retrying for up to `connectTimeout`
/// seconds (the proxy may be restarting); a read that was in flight is sent
/// again. Errors the proxy answers are thrown
/// as `ProxyError` (the server's own enum); transport failures as `ClientError`.
///
///     let client = ProxyClient(.unix("storage/proxy.sock"))
///     let id = try await client.saveTask(["agent_name": "news", …])
///     try await client.withTransaction { tx in try await tx.updateTaskStatus(id, status: "done") }
public final class ProxyClient: StorageCalls, Sendable {
    public let address: ProxyAddress
    private let token: String?
    private let connectTimeout: Double
    private let firstConnectTimeout: Double
    private let current = Locked<PipelinedConnection?>(nil)
    private let hasConnected = Atomic<Bool>(false)
    private let ids = Atomic<Int64>(0)

    public init(_ address: ProxyAddress, token: String? = nil, connectTimeout: Double = 10, firstConnectTimeout: Double = 1) {
        self.address = address
        self.token = token
        self.connectTimeout = connectTimeout
        self.firstConnectTimeout = firstConnectTimeout
    }

    deinit { current.withLock { $0?.close() } }

    /// Connects now (calls connect by themselves when needed).
    public func connect() async throws { _ = try await connection() }

    public func close() { current.withLock { $0?.close(); $0 = nil } }

    /// Calls any method; returns its `result`, or throws its error.
    public func call(_ method: String, _ params: JSONObject = JSONObject()) async throws -> JSONValue {
        let answer: JSONObject
        do {
            answer = try await send(method, params)
        } catch let error as ClientError {
            guard RetrySafeMethods.names.contains(method), params["transaction"] == nil else { throw error }
            answer = try await send(method, params)
        }
        if case .object(let error)? = answer["error"] { throw Self.decode(error) }
        return answer["result"] ?? .null
    }

    public func storageCall(_ method: String, _ params: JSONObject) async throws -> JSONValue {
        try await call(method, params)
    }

    private func send(_ method: String, _ params: JSONObject) async throws -> JSONObject {
        try await connection().send(request(method, params))
    }

    private func request(_ method: String, _ params: JSONObject) -> [UInt8] {
        var r: JSONObject = ["jsonrpc": "2.0", "id": .int(ids.add(1, ordering: .relaxed).newValue), "method": .string(method)]
        if !params.isEmpty { r["params"] = .object(params) }
        var bytes = Array(JSONValue.object(r).jsonText.utf8)
        bytes.append(0x0A)
        return bytes
    }

    private static func decode(_ error: JSONObject) -> Error {
        let code = Int(error["code"]?.intValue ?? 0), message = error["message"]?.stringValue ?? "unknown error"
        return ProxyError(code: code, message: message, data: error["data"]) ?? ClientError("error \(code): \(message)")
    }

    /// The open connection, or a new one (retrying while the proxy restarts).
    func connection() async throws -> PipelinedConnection {
        if let c = current.withLock({ $0 }), !c.isClosed { return c }
        let reconnecting = hasConnected.load(ordering: .relaxed)
        let deadline = MonotonicClock.seconds() + (reconnecting ? connectTimeout : firstConnectTimeout)
        var delay = 0.05
        while true {
            do {
                let fresh = try PipelinedConnection(address, connectTimeout: max(0.1, deadline - MonotonicClock.seconds()))
                if let token {
                    let answer = try await fresh.send(request("auth", ["token": .string(token)]))
                    if case .object(let error)? = answer["error"] { fresh.close(); throw Self.decode(error) }
                }
                hasConnected.store(true, ordering: .relaxed)
                // Several callers may have connected at once: the first one installed wins.
                return current.withLock { installed in
                    if let other = installed, !other.isClosed { fresh.close(); return other }
                    installed = fresh
                    return fresh
                }
            } catch let error as ClientError {
                if !reconnecting || MonotonicClock.seconds() + delay > deadline { throw error }
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                delay = min(delay * 2, 1)
            }
        }
    }

    // MARK: - Methods that are not storage calls inside a transaction

    public func healthCheck() async throws -> Bool { try await call("health_check").boolValue ?? false }

    public func beginTransaction() async throws -> Transaction {
        Transaction(client: self, handle: try await call("begin_transaction").stringValue ?? "")
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    public func withTransaction<T>(_ body: (Transaction) async throws -> T) async throws -> T {
        let tx = try await beginTransaction()
        let result: T
        do {
            result = try await body(tx)
        } catch {
            try? await tx.rollback()
            throw error
        }
        try await tx.commit()
        return result
    }

    // MARK: - Claims and leases (never in a transaction)

    /// Due tasks leased to `worker` for `leaseSeconds`.
    public func claimDueTasks(worker: String, limit: Int = 1, leaseSeconds: Double = 60, agentName: String? = nil,
                              now: Timestamp? = nil, maxRunning: Int? = nil, agentPrefix: String? = nil) async throws -> [JSONObject] {
        var p: JSONObject = ["worker": .string(worker), "limit": .int(Int64(limit)), "lease_seconds": .double(leaseSeconds)]
        if let agentName { p["agent_name"] = .string(agentName) }
        if let now { p["now"] = .string(now.rfc3339) }
        if let maxRunning { p["max_running"] = .int(Int64(maxRunning)) }
        if let agentPrefix { p["agent_prefix"] = .string(agentPrefix) }
        return try await call("claim_due_tasks", p).arrayValue?.compactMap(\.objectValue) ?? []
    }

    /// `ProxyError.conflict` (its `data` names the holder) when `worker` does not hold the task.
    @discardableResult
    public func renewLease(taskID: String, worker: String, leaseSeconds: Double = 60, now: Timestamp? = nil) async throws -> JSONObject {
        var p: JSONObject = ["task_id": .string(taskID), "worker": .string(worker), "lease_seconds": .double(leaseSeconds)]
        if let now { p["now"] = .string(now.rfc3339) }
        return try await call("renew_lease", p).objectValue ?? JSONObject()
    }

    public enum NextRun: Sendable { case fromSchedule, none, at(Timestamp) }

    /// Ends `worker`'s run; the proxy computes the next run from the schedule unless told otherwise.
    @discardableResult
    public func completeTask(taskID: String, worker: String, status: String, nextRun: NextRun = .fromSchedule,
                             result: JSONValue? = nil, now: Timestamp? = nil) async throws -> JSONObject {
        var p: JSONObject = ["task_id": .string(taskID), "worker": .string(worker), "status": .string(status)]
        if let now { p["now"] = .string(now.rfc3339) }
        switch nextRun {
        case .fromSchedule: break
        case .none: p["next_run"] = .null
        case .at(let t): p["next_run"] = .string(t.rfc3339)
        }
        if let result { p["result"] = result }
        return try await call("complete_task", p).objectValue ?? JSONObject()
    }

    /// Live events: committed changes as they happen, in commit order
    /// (`EventSubscription`). `topics`: any of "tasks" and "logs" (nil: both).
    public func subscribe(topics: [String]? = nil, agentName: String? = nil, taskID: String? = nil,
                          agentPrefix: String? = nil, leases: Bool? = nil) async throws -> EventSubscription {
        var params = JSONObject()
        if let topics { params["topics"] = .array(topics.map { .string($0) }) }
        if let agentName { params["agent_name"] = .string(agentName) }
        if let taskID { params["task_id"] = .string(taskID) }
        if let agentPrefix { params["agent_prefix"] = .string(agentPrefix) }
        if let leases { params["leases"] = .bool(leases) }
        let subscription = EventSubscription(client: self, params: params)
        try await subscription.start()
        return subscription
    }

    public func cacheGet(_ key: String) async throws -> JSONValue { try await call("cache.get", ["key": .string(key)]) }

    @discardableResult
    public func cacheSet(_ key: String, _ value: JSONValue, ttl: Double? = nil) async throws -> Bool {
        var p: JSONObject = ["key": .string(key), "value": value]
        if let ttl { p["ttl"] = .double(ttl) }
        return try await call("cache.set", p).boolValue ?? false
    }

    @discardableResult
    public func cacheDelete(_ key: String) async throws -> Bool { try await call("cache.delete", ["key": .string(key)]).boolValue ?? false }

    public func cacheExists(_ key: String) async throws -> Bool { try await call("cache.exists", ["key": .string(key)]).boolValue ?? false }

    @discardableResult
    public func cacheClearPattern(_ pattern: String) async throws -> Int {
        Int(try await call("cache.clear_pattern", ["pattern": .string(pattern)]).intValue ?? 0)
    }
}

/// A transaction on the client's connection: the storage methods, run inside it.
public struct Transaction: StorageCalls, Sendable {
    public let client: ProxyClient
    public let handle: String

    public func storageCall(_ method: String, _ params: JSONObject) async throws -> JSONValue {
        var p = params
        p["transaction"] = .string(handle)
        return try await client.call(method, p)
    }

    public func commit() async throws { _ = try await client.call("commit_transaction", ["transaction": .string(handle)]) }
    public func rollback() async throws { _ = try await client.call("rollback_transaction", ["transaction": .string(handle)]) }
}
