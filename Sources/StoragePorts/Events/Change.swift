import ProxyCore

/// What `subscribe` can listen to.
public enum ChangeTopic: String, CaseIterable, Sendable {
    case tasks, logs, checkpoints
}

public enum ChangeOperation: String, Sendable {
    case created, updated, deleted
}

/// One committed change to a task or a log, as subscribers see it: the
/// task's state right after the write (before it, for a deletion), or the
/// stored log entry.
public enum Change: Sendable {
    case task(TaskRecord, ChangeOperation)
    /// A new log entry, with its task's agent (for `agent_name` filters;
    /// nil when the backend could not tell).
    case log(LogEntry, agentName: String?)
    /// A LangGraph checkpoint saved, its pending writes stored, or a thread's checkpoints deleted.
    case checkpoint(CheckpointChange)

    public var topic: ChangeTopic {
        switch self {
        case .task: return .tasks
        case .log: return .logs
        case .checkpoint: return .checkpoints
        }
    }

    public var operation: ChangeOperation {
        switch self {
        case .task(_, let op): return op
        case .log: return .created
        case .checkpoint(let c): return c.operation
        }
    }

    public var taskID: String? {
        switch self {
        case .task(let t, _): return t.id
        case .log(let l, _): return l.taskID
        case .checkpoint: return nil
        }
    }

    public var agentName: String? {
        switch self {
        case .task(let t, _): return t.agentName
        case .log(_, let agent): return agent
        case .checkpoint: return nil
        }
    }

    /// A task update after which it is running: a claim, a lease renewal (or a status set by hand).
    public var leavesRunning: Bool {
        if case .task(let t, .updated) = self { return t.status == "running" }
        return false
    }

    public var threadID: String? {
        if case .checkpoint(let c) = self { return c.threadID }
        return nil
    }
}

/// A checkpoint event: `created` (a checkpoint saved: its ids, parent and
/// metadata), `updated` (pending writes of one task stored for it),
/// `deleted` (checkpoints of the thread and namespace removed: ids nil).
public struct CheckpointChange: Sendable, Equatable {
    public var operation: ChangeOperation
    public var threadID: String
    public var namespace: String
    public var checkpointID: String?
    public var parentID: String?
    public var metadata: JSONValue?
    /// `updated`: the task whose writes were stored.
    public var taskID: String?

    public init(_ operation: ChangeOperation, thread: String, namespace: String, checkpointID: String? = nil, parentID: String? = nil,
                metadata: JSONValue? = nil, taskID: String? = nil) {
        self.operation = operation
        self.threadID = thread
        self.namespace = namespace
        self.checkpointID = checkpointID
        self.parentID = parentID
        self.metadata = metadata
        self.taskID = taskID
    }
}

/// Where a backend delivers committed changes: on the loop thread, a batch
/// at a time, batches in commit order.
public typealias ChangeSink = ([Change]) -> Void

/// Live events from a backend. The server starts them when its first
/// subscriber comes and stops them after the last one leaves, so that no
/// write pays for events nobody reads.
public protocol ChangeFeed: AnyObject {
    /// From now on every committed change reaches `sink`. `ready` runs (on
    /// the loop) once every write that starts after it will be reported.
    /// `lost` says why changes may have been missed (a listener that had to
    /// reconnect); the feed goes on by itself.
    func startChanges(_ sink: @escaping ChangeSink, lost: @escaping (String) -> Void, ready: @escaping Completion<Void>)
    /// No more changes are recorded or delivered.
    func stopChanges()
}
