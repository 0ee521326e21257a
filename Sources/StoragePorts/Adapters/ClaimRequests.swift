import ProxyCore

/// `claim_due_tasks`: what a worker asks for.
public struct ClaimRequest: Sendable {
    public var worker: String
    public var agentName: String?
    public var limit: Int
    public var leaseUntil: Timestamp
    /// The instant tasks must be due by (the proxy's clock unless the caller gave one).
    public var now: Timestamp
    /// Claims a task whose own `max_attempts` is null may take (0: no limit).
    public var defaultMaxAttempts: Int
    /// At most this many of the agent's tasks running under a live lease once claimed (nil: no limit;
    /// `agentName` then names the agent).
    public var maxRunning: Int?
    /// Only tasks of the agents whose names start with this (instead of `agentName`).
    public var agentPrefix: String?

    public init(worker: String, agentName: String?, limit: Int, leaseUntil: Timestamp, now: Timestamp, defaultMaxAttempts: Int,
                maxRunning: Int? = nil, agentPrefix: String? = nil) {
        self.worker = worker; self.agentName = agentName; self.limit = limit
        self.leaseUntil = leaseUntil; self.now = now; self.defaultMaxAttempts = defaultMaxAttempts; self.maxRunning = maxRunning
        self.agentPrefix = agentPrefix
    }
}

/// `complete_task`: the outcome a lease owner reports.
public struct TaskCompletion: Sendable {
    public enum NextRun: Sendable, Equatable {
        /// From the task's schedule (the proxy computes it).
        case fromSchedule
        /// None: the task stays with the reported status.
        case none
        case at(Timestamp)
    }

    public var taskID: String
    public var worker: String
    public var status: String
    public var nextRun: NextRun
    public var result: JSONValue?
    public var now: Timestamp

    public init(taskID: String, worker: String, status: String, nextRun: NextRun, result: JSONValue?, now: Timestamp) {
        self.taskID = taskID; self.worker = worker; self.status = status; self.nextRun = nextRun; self.result = result; self.now = now
    }
}

extension TaskRecord {
    /// Running under this worker's lease.
    public func isClaimed(by worker: String) -> Bool { status == "running" && leaseOwner == worker }

    /// A claim's order: oldest due first (the database returns updated rows in no order).
    public static func dueFirst(_ a: TaskRecord, _ b: TaskRecord) -> Bool {
        (a.nextRun?.microseconds ?? 0, a.id) < (b.nextRun?.microseconds ?? 0, b.id)
    }
}

extension ProxyError {
    /// The lease is not the caller's: who holds the task now, for the client to decide.
    public static func notLeaseOwner(_ task: TaskRecord, worker: String) -> ProxyError {
        let holder = task.leaseOwner.map { "is held by \($0)" } ?? "is not leased (status \(task.status))"
        return .conflict("task \(task.id) \(holder), not by \(worker)",
                         fields: ["task_id": .string(task.id), "owner": task.leaseOwner.map { .string($0) } ?? .null,
                                  "status": .string(task.status)])
    }
}
