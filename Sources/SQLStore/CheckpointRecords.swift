import ProxyCore
import StoragePorts

/// `checkpoint.put`: the checkpoint without its channel values, and the
/// values of the channels it changed (`blobsJSON`: a JSON array of
/// `{channel, version, type, data}`, version as text).
public struct CheckpointPut {
    public var thread, namespace, id: String
    public var parentID: String?
    public var checkpoint: JSONValue
    public var metadata: JSONObject
    /// The metadata's `run_id` (for `delete_for_runs`).
    public var runID: String?
    public var blobsJSON: String
    public var now: Timestamp

    public init(thread: String, namespace: String, id: String, parentID: String?, checkpoint: JSONValue, metadata: JSONObject,
                blobsJSON: String, now: Timestamp) {
        self.thread = thread; self.namespace = namespace; self.id = id; self.parentID = parentID
        self.checkpoint = checkpoint; self.metadata = metadata; self.blobsJSON = blobsJSON; self.now = now
        self.runID = metadata["run_id"]?.stringValue
    }
}

/// `checkpoint.put_writes`: one task's writes (`writesJSON`: a JSON array of `{idx, channel, type, data}`).
public struct CheckpointWrites {
    public var thread, namespace, checkpointID, taskID, taskPath: String
    public var writesJSON: String

    public init(thread: String, namespace: String, checkpointID: String, taskID: String, taskPath: String, writesJSON: String) {
        self.thread = thread; self.namespace = namespace; self.checkpointID = checkpointID
        self.taskID = taskID; self.taskPath = taskPath; self.writesJSON = writesJSON
    }
}

/// Where a listing continues: after this checkpoint (newest-first order).
public struct CheckpointCursor: Equatable {
    public var checkpointID, thread, namespace: String
    public init(checkpointID: String, thread: String, namespace: String) {
        self.checkpointID = checkpointID; self.thread = thread; self.namespace = namespace
    }
}

/// `checkpoint.list`.
public struct CheckpointQuery {
    public var thread, namespace, checkpointID: String?
    public var filter: JSONObject?
    public var before: String?
    public var after: CheckpointCursor?
    public var limit: Int
    public var budget: AnswerBudget

    public init(thread: String?, namespace: String?, checkpointID: String?, filter: JSONObject?, before: String?,
                after: CheckpointCursor?, limit: Int, budget: AnswerBudget) {
        self.thread = thread; self.namespace = namespace; self.checkpointID = checkpointID; self.filter = filter
        self.before = before; self.after = after; self.limit = limit; self.budget = budget
    }

    /// Everything but the thread, for a read-through entry's name.
    var cacheName: String {
        let parts = [namespace, checkpointID, filter.map { JSONValue.object($0).jsonText }, before,
                     after.map { "\($0.checkpointID)/\($0.thread)/\($0.namespace)" }]
        return parts.map { $0.map(CacheKeys.escape) ?? "*" }.joined(separator: ":") + ":\(limit)"
    }
}

/// Checkpoints as read (`CheckpointStatements.tuples`): each with its channel
/// values and its pending writes (in LangGraph's order: task path, task id,
/// idx). Encoded as one tuple or null (`single`, `checkpoint.get`), or as a
/// page `{"checkpoints": [...], "next": cursor or null}`.
public struct CheckpointTuples: JSONWritable {
    struct Key: Hashable { let thread, namespace, id: String }
    struct Head { let key: Key; let parent: String?; let checkpoint: String; let metadata: String }
    struct Value { let channel, type, data: String }
    struct Write { let taskID, channel, type, data, taskPath: String; let idx: Int64 }

    private var budget: AnswerBudget
    private let single: Bool
    private let limit: Int
    private var heads: [Head] = []
    private var values: [Key: [Value]] = [:]
    private var writes: [Key: [Write]] = [:]

    init(budget: AnswerBudget, single: Bool, limit: Int = 1) {
        self.budget = budget
        self.single = single
        self.limit = limit
    }

    public var count: Int { heads.count }

    /// One row of any kind; past the answer budget, -32005.
    mutating func add(_ row: any SQLRow) throws(ProxyError) {
        func text(_ i: Int) -> String { row.text(i) ?? "" }
        let key = Key(thread: text(1), namespace: text(2), id: text(3))
        var bytes = 0
        func read(_ i: Int) -> String { let s = text(i); bytes += s.utf8.count; return s }
        switch row.int(0) {
        case 0:
            heads.append(Head(key: key, parent: row.text(4), checkpoint: read(5), metadata: read(6)))
        case 1:
            values[key, default: []].append(Value(channel: read(4), type: read(5), data: read(6)))
        default:
            writes[key, default: []].append(Write(taskID: read(4), channel: read(5), type: read(6), data: read(7), taskPath: read(8),
                                                  idx: row.int(9) ?? 0))
        }
        try budget.spend(bytes + 64)
    }

    /// Newest first; writes in the order LangGraph applies them.
    mutating func finish() {
        func before(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        heads.sort { x, y in
            x.key.id != y.key.id ? before(y.key.id, x.key.id)
                : x.key.thread != y.key.thread ? before(y.key.thread, x.key.thread) : before(y.key.namespace, x.key.namespace)
        }
        for key in writes.keys {
            writes[key]!.sort { x, y in
                x.taskPath != y.taskPath ? before(x.taskPath, y.taskPath) : x.taskID != y.taskID ? before(x.taskID, y.taskID) : x.idx < y.idx
            }
        }
    }

    public func writeJSON(into out: inout [UInt8]) {
        if single {
            guard let head = heads.first else { return JSONWriter.raw("null", into: &out) }
            return write(head, into: &out)
        }
        JSONWriter.raw("{\"checkpoints\":[", into: &out)
        for (i, head) in heads.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            write(head, into: &out)
        }
        JSONWriter.raw("],\"next\":", into: &out)
        if heads.count == limit, let last = heads.last {
            JSONWriter.raw("{\"checkpoint_id\":", into: &out)
            JSONWriter.string(last.key.id, into: &out)
            JSONWriter.raw(",\"thread_id\":", into: &out)
            JSONWriter.string(last.key.thread, into: &out)
            JSONWriter.raw(",\"checkpoint_ns\":", into: &out)
            JSONWriter.string(last.key.namespace, into: &out)
            out.append(UInt8(ascii: "}"))
        } else {
            JSONWriter.raw("null", into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private func write(_ head: Head, into out: inout [UInt8]) {
        func field(_ name: String, _ value: String) {
            out.append(contentsOf: ",\"\(name)\":".utf8)
            JSONWriter.string(value, into: &out)
        }
        JSONWriter.raw("{\"thread_id\":", into: &out)
        JSONWriter.string(head.key.thread, into: &out)
        field("checkpoint_ns", head.key.namespace)
        field("checkpoint_id", head.key.id)
        JSONWriter.raw(",\"parent_checkpoint_id\":", into: &out)
        if let parent = head.parent { JSONWriter.string(parent, into: &out) } else { JSONWriter.raw("null", into: &out) }
        // Stored as the proxy wrote it (SQLite) or as PostgreSQL prints JSONB: JSON either way.
        JSONWriter.raw(",\"checkpoint\":", into: &out)
        out.append(contentsOf: head.checkpoint.utf8)
        JSONWriter.raw(",\"metadata\":", into: &out)
        out.append(contentsOf: head.metadata.utf8)
        JSONWriter.raw(",\"channel_values\":{", into: &out)
        for (i, v) in (values[head.key] ?? []).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(v.channel, into: &out)
            JSONWriter.raw(":{\"type\":", into: &out)
            JSONWriter.string(v.type, into: &out)
            field("data", v.data)
            out.append(UInt8(ascii: "}"))
        }
        JSONWriter.raw("},\"pending_writes\":[", into: &out)
        for (i, w) in (writes[head.key] ?? []).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.raw("{\"task_id\":", into: &out)
            JSONWriter.string(w.taskID, into: &out)
            field("channel", w.channel)
            field("type", w.type)
            field("data", w.data)
            field("task_path", w.taskPath)
            out.append(contentsOf: ",\"idx\":\(w.idx)}".utf8)
        }
        JSONWriter.raw("]}", into: &out)
    }
}
