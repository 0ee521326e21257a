import ProxyCore

/// What `subscribe` can listen to.
public enum ChangeTopic: String, CaseIterable, Sendable {
    case tasks, logs
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

    public var topic: ChangeTopic {
        switch self {
        case .task: return .tasks
        case .log: return .logs
        }
    }

    public var operation: ChangeOperation {
        switch self {
        case .task(_, let op): return op
        case .log: return .created
        }
    }

    public var taskID: String {
        switch self {
        case .task(let t, _): return t.id
        case .log(let l, _): return l.taskID
        }
    }

    public var agentName: String? {
        switch self {
        case .task(let t, _): return t.agentName
        case .log(_, let agent): return agent
        }
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
