import ProxyCore
import StoragePorts

/// One change as an `event` notification, encoded once for every
/// subscriber: only the subscription id differs between their copies.
///
///     {"jsonrpc":"2.0","method":"event","params":{"subscription":"<id>","topic":"tasks","op":"updated","task":{…}}}
struct EventFrame {
    let topic: ChangeTopic
    /// Everything after the subscription id, newline included.
    let tail: [UInt8]

    init(_ change: Change) {
        topic = change.topic
        var out: [UInt8] = []
        JSONWriter.raw("\",\"topic\":", into: &out)
        JSONWriter.string(change.topic.rawValue, into: &out)
        JSONWriter.raw(",\"op\":", into: &out)
        JSONWriter.string(change.operation.rawValue, into: &out)
        switch change {
        case .task(let task, _):
            JSONWriter.raw(",\"task\":", into: &out)
            task.writeJSON(into: &out)
        case .log(let log, _):
            JSONWriter.raw(",\"log\":", into: &out)
            log.writeJSON(into: &out)
        case .checkpoint(let c):
            JSONWriter.raw(",\"checkpoint\":", into: &out)
            c.writeJSON(into: &out)
        }
        JSONWriter.raw("}}\n", into: &out)
        tail = out
    }

    var byteCount: Int { Self.head.count + 32 + tail.count }
    /// Room kept for a `lagged` event (a reason is at most a line of text).
    static let laggedBytes = 512

    func write(for subscription: Subscription, into out: inout [UInt8]) {
        out.append(contentsOf: Self.head)
        out.append(contentsOf: subscription.id.utf8)
        out.append(contentsOf: tail)
    }

    /// What a subscriber that read too slowly gets before its next event:
    /// how many it lost, by topic, and a reason when the proxy itself may
    /// have missed changes (it should re-read what it follows).
    static func lagged(_ subscription: Subscription, into out: inout [UInt8]) {
        out.append(contentsOf: head)
        out.append(contentsOf: subscription.id.utf8)
        let (dropped, reason) = subscription.takeDropped()
        JSONWriter.raw("\",\"op\":\"lagged\",", into: &out)
        if let reason {
            JSONWriter.raw("\"reason\":", into: &out)
            JSONWriter.string(reason, into: &out)
            out.append(UInt8(ascii: ","))
        }
        JSONWriter.raw("\"dropped\":{", into: &out)
        let counts = dropped.sorted { $0.key.rawValue < $1.key.rawValue }
        for (i, (topic, n)) in counts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(topic.rawValue, into: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: String(n).utf8)
        }
        JSONWriter.raw("}}}\n", into: &out)
    }

    private static let head = Array("{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"subscription\":\"".utf8)
}

extension CheckpointChange {
    /// `{"thread_id","checkpoint_ns"}`, then what the operation knows: the
    /// checkpoint's id, parent and metadata (`created`), its id and the task
    /// (`updated`).
    func writeJSON(into out: inout [UInt8]) {
        JSONWriter.raw("{\"thread_id\":", into: &out)
        JSONWriter.string(threadID, into: &out)
        JSONWriter.raw(",\"checkpoint_ns\":", into: &out)
        JSONWriter.string(namespace, into: &out)
        if let checkpointID {
            JSONWriter.raw(",\"checkpoint_id\":", into: &out)
            JSONWriter.string(checkpointID, into: &out)
        }
        if operation == .created {
            JSONWriter.raw(",\"parent_checkpoint_id\":", into: &out)
            if let parentID { JSONWriter.string(parentID, into: &out) } else { JSONWriter.raw("null", into: &out) }
            if let metadata {
                JSONWriter.raw(",\"metadata\":", into: &out)
                metadata.writeJSON(into: &out)
            }
        }
        if let taskID {
            JSONWriter.raw(",\"task_id\":", into: &out)
            JSONWriter.string(taskID, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
