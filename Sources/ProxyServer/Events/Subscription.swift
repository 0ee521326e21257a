import StoragePorts

/// One `subscribe`: what it listens to, the connection it delivers to, and
/// what it lost while that connection read too slowly. Loop thread only.
final class Subscription {
    struct Filter {
        var topics: Set<ChangeTopic>
        var agentName: String?
        var taskID: String?
        var threadID: String?
        var agentPrefix: String? = nil
        /// false: without the updates that leave a task running (claims, lease renewals), the
        /// busiest kind a listener waiting for tasks to arrive and finish has no use for.
        var leases = true

        func matches(_ change: Change) -> Bool {
            topics.contains(change.topic)
                && (agentName == nil || agentName == change.agentName)
                && (taskID == nil || taskID == change.taskID)
                && (threadID == nil || threadID == change.threadID)
                && (agentPrefix.map { change.agentName?.hasPrefix($0) ?? false } ?? true)
                && (leases || !change.leavesRunning)
        }
    }

    let id: String
    let filter: Filter
    unowned let session: Session
    /// Events dropped since the last `lagged` event, by topic, and why
    /// others may be missing (the storage's listener reconnected).
    private(set) var dropped: [ChangeTopic: Int] = [:]
    private(set) var gap: String?
    var hasDropped: Bool { !dropped.isEmpty || gap != nil }

    init(id: String, filter: Filter, session: Session) {
        self.id = id
        self.filter = filter
        self.session = session
    }

    func drop(_ topic: ChangeTopic) { dropped[topic, default: 0] += 1 }
    func missed(_ reason: String) { gap = reason }

    /// What the `lagged` event says; clears it.
    func takeDropped() -> (counts: [ChangeTopic: Int], reason: String?) {
        defer { dropped = [:]; gap = nil }
        return (dropped, gap)
    }
}
