import ProxyCore
import SQLStore
import StoragePorts

/// LangGraph's checkpointer (`checkpoint.*`, PROTOCOL.md "Checkpoints"): the
/// proxy stores what the client's serializer made (a type name and base64
/// bytes per value) and never decodes it. Shared like the vector store: any
/// scope reads, a read-write scope writes.
enum CheckpointMethods {
    static let thread = ParamSpec.required("thread_id", Schema.string, "The thread.")
    static let namespace = ParamSpec.optional("checkpoint_ns", Schema.string, "The namespace in the thread (default \"\": the root graph).")
    static let tuple: JSONValue = ["$ref": "#/components/schemas/CheckpointTuple"]
    static let stored: JSONValue = [
        "type": "object", "required": ["thread_id", "checkpoint_ns", "checkpoint_id"],
        "properties": ["thread_id": Schema.string, "checkpoint_ns": Schema.string, "checkpoint_id": Schema.string],
    ]
    static let value: JSONValue = [
        "type": "object", "required": ["channel", "version", "type", "data"],
        "properties": ["channel": Schema.string, "version": ["type": ["string", "integer", "number"]], "type": Schema.string,
                       "data": ["type": "string", "contentEncoding": "base64"]],
    ]
    static let write: JSONValue = [
        "type": "object", "required": ["idx", "channel", "type", "data"],
        "properties": ["idx": Schema.integer, "channel": Schema.string, "type": Schema.string,
                       "data": ["type": "string", "contentEncoding": "base64"]],
    ]
    static let cursor: JSONValue = [
        "type": "object", "required": ["checkpoint_id", "thread_id", "checkpoint_ns"],
        "properties": ["checkpoint_id": Schema.string, "thread_id": Schema.string, "checkpoint_ns": Schema.string],
    ]

    static let all: [MethodSpec] = [
        MethodSpec("checkpoint.put", .write(.shared), "Save a checkpoint (the same id again replaces its document and metadata) and the values "
                   + "of the channels it changed; a value already stored for a channel's version is kept. Returns its config.",
                   params: [thread, namespace,
                            .required("checkpoint", Schema.object, "The checkpoint without `channel_values`: `id` (its checkpoint id), "
                                      + "`channel_versions` (which stored values it holds), and whatever else it carries, kept as sent."),
                            .optional("parent_checkpoint_id", Schema.string, "The checkpoint it follows."),
                            .optional("metadata", Schema.object, "JSON metadata (`checkpoint.list` filters on it; `run_id` is for `delete_for_runs`)."),
                            .optional("values", Schema.array(value), "The changed channels' values at their new versions; `type` \"empty\": the channel has none.")],
                   result: stored, ordering: .write, transactional: true, retrySafe: true) { call in
            let p = call.params
            let put = try checkpointPut(p)
            call.services.operations.run(CheckpointOperations.put(put), in: try call.transaction()) { result in
                call.relay(result.map {
                    ["thread_id": .string(put.thread), "checkpoint_ns": .string(put.namespace), "checkpoint_id": .string(put.id)] as JSONValue
                })
            }
        },
        MethodSpec("checkpoint.put_writes", .write(.shared), "Store one task's pending writes for a checkpoint. A negative `idx` (LangGraph's "
                   + "special channels: errors, interrupts, resumes) overwrites; any other keeps what is stored under it.",
                   params: [thread, namespace, .required("checkpoint_id", Schema.string, "The checkpoint."),
                            .required("task_id", Schema.string, "The task that wrote."),
                            .optional("task_path", Schema.string, "The task's path (pending writes are ordered by it, then task and idx)."),
                            .required("writes", Schema.array(write), "The writes.")],
                   result: Schema.null, ordering: .write, transactional: true, retrySafe: true) { call in
            let p = call.params
            let writes = CheckpointWrites(thread: try p.string("thread_id"), namespace: try p.optionalString("checkpoint_ns") ?? "",
                                          checkpointID: try p.string("checkpoint_id"), taskID: try p.string("task_id"),
                                          taskPath: try p.optionalString("task_path") ?? "", writesJSON: try records(p, "writes", write: true))
            try call.answer(CheckpointOperations.putWrites(writes))
        },
        MethodSpec("checkpoint.get", .read(.shared), "A checkpoint with its channel values, pending writes and parent: the thread's newest in "
                   + "the namespace, or the one with `checkpoint_id`. null when there is none.",
                   params: [thread, namespace, .optional("checkpoint_id", Schema.string, "This checkpoint rather than the newest.")],
                   result: Schema.nullable(tuple), ordering: .read, transactional: true) { call in
            let p = call.params
            try call.answer(CheckpointOperations.get(thread: try p.string("thread_id"), namespace: try p.optionalString("checkpoint_ns") ?? "",
                                                     id: try p.optionalString("checkpoint_id"),
                                                     budget: AnswerBudget(limit: call.services.maxAnswerBytes)))
        },
        MethodSpec("checkpoint.list", .read(.shared), "Checkpoints newest first (by id), with their values and pending writes: one page. "
                   + "Returns {checkpoints, next}; `next` (when the page is full) is the `after` of the next page.",
                   params: [.optional("thread_id", Schema.string, "Only this thread's (default: every thread's)."),
                            .optional("checkpoint_ns", Schema.string, "Only this namespace's (default: every namespace's)."),
                            .optional("checkpoint_id", Schema.string, "Only this checkpoint."),
                            .optional("filter", Schema.object, "Only checkpoints whose metadata has each of these keys with an equal value."),
                            .optional("before", Schema.string, "Only checkpoints with a smaller (older) id."),
                            .optional("after", cursor, "Where the page before ended (its `next`)."),
                            .integer("limit", 1...1000, default: 100, "How many at most.")],
                   result: ["type": "object", "properties": ["checkpoints": Schema.array(tuple), "next": Schema.nullable(cursor)]],
                   ordering: .read, transactional: true) { call in
            let p = call.params
            let after = try p.optionalObject("after").map { o throws(ProxyError) in
                guard let id = o["checkpoint_id"]?.stringValue, let thread = o["thread_id"]?.stringValue, let ns = o["checkpoint_ns"]?.stringValue else {
                    throw ProxyError.invalidParams(field: "after", reason: "must be a page's `next`: {checkpoint_id, thread_id, checkpoint_ns}")
                }
                return CheckpointCursor(checkpointID: id, thread: thread, namespace: ns)
            }
            try call.answer(CheckpointOperations.list(CheckpointQuery(
                thread: try p.optionalString("thread_id"), namespace: try p.optionalString("checkpoint_ns"),
                checkpointID: try p.optionalString("checkpoint_id"), filter: try p.optionalObject("filter"), before: try p.optionalString("before"),
                after: after, limit: try p.int("limit"), budget: AnswerBudget(limit: call.services.maxAnswerBytes))))
        },
        MethodSpec("checkpoint.delete_thread", .write(.shared), "Delete a thread's checkpoints, values and writes (every namespace). Returns how many checkpoints.",
                   params: [thread], result: Schema.integer, ordering: .write, transactional: true, retrySafe: true) { call in
            try bulk(call, CheckpointOperations.deleteThread(try call.params.string("thread_id")))
        },
        MethodSpec("checkpoint.delete_for_runs", .write(.shared), "Delete the checkpoints whose metadata's `run_id` is one of these, and their "
                   + "pending writes. Returns how many checkpoints.",
                   params: [.required("run_ids", Schema.array(Schema.string), "The runs.")],
                   result: Schema.integer, ordering: .write, transactional: true, retrySafe: true) { call in
            try bulk(call, CheckpointOperations.deleteForRuns(try strings(call.params, "run_ids")))
        },
        MethodSpec("checkpoint.copy_thread", .write(.shared), "Copy a thread's checkpoints, values and writes to another thread id (ids kept; "
                   + "rows the target already has stay). Returns how many checkpoints were copied.",
                   params: [.required("source_thread_id", Schema.string, "From."), .required("target_thread_id", Schema.string, "To.")],
                   result: Schema.integer, ordering: .write, transactional: true, retrySafe: true) { call in
            let p = call.params
            try bulk(call, CheckpointOperations.copyThread(from: try p.string("source_thread_id"), to: try p.string("target_thread_id")))
        },
        MethodSpec("checkpoint.prune", .write(.shared), "Prune threads: `keep_latest` keeps each namespace's newest checkpoint (with its writes "
                   + "and values; it loses its parent), `delete` removes them whole. Returns how many checkpoints were removed.",
                   params: [.required("thread_ids", Schema.array(Schema.string), "The threads."),
                            .optional("strategy", Schema.string, "keep_latest (default) or delete.")],
                   result: Schema.integer, ordering: .write, transactional: true, retrySafe: true) { call in
            let p = call.params
            let name = try p.optionalString("strategy") ?? "keep_latest"
            guard let strategy = CheckpointOperations.PruneStrategy(rawValue: name) else {
                throw ProxyError.invalidParams(field: "strategy", reason: "must be keep_latest or delete")
            }
            try bulk(call, CheckpointOperations.prune(try strings(p, "thread_ids"), strategy: strategy))
        },
    ]

    private static func checkpointPut(_ p: Params) throws(ProxyError) -> CheckpointPut {
        var checkpoint = try p.objectParam("checkpoint")
        guard let id = checkpoint["id"]?.stringValue, !id.isEmpty else {
            throw ProxyError.invalidParams(field: "checkpoint.id", reason: "is required: the checkpoint's id, a non-empty string")
        }
        if let versions = checkpoint["channel_versions"], versions.objectValue == nil {
            throw ProxyError.invalidParams(field: "checkpoint.channel_versions", reason: "must be an object")
        }
        checkpoint.members.removeAll { $0.key == "channel_values" }  // values are stored apart, once per version
        return CheckpointPut(thread: try p.string("thread_id"), namespace: try p.optionalString("checkpoint_ns") ?? "", id: id,
                             parentID: try p.optionalString("parent_checkpoint_id"), checkpoint: .object(checkpoint),
                             metadata: try p.optionalObject("metadata") ?? JSONObject(), blobsJSON: try records(p, "values", write: false),
                             now: .now())
    }

    /// The `values` or `writes` array checked and written back as the JSON
    /// the statement reads (a value's version as text, as the checkpoint's
    /// `channel_versions` compare it).
    private static func records(_ p: Params, _ name: String, write: Bool) throws(ProxyError) -> String {
        guard let given = p.object[name], given != .null else { return "[]" }
        guard case .array(let items) = given else { throw ProxyError.invalidParams(field: name, reason: "must be an array") }
        var rows: [JSONValue] = []
        rows.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            func field(_ key: String) throws(ProxyError) -> String {
                guard let s = item.objectValue?[key]?.stringValue else {
                    throw ProxyError.invalidParams(field: "\(name)[\(i)].\(key)", reason: "must be a string")
                }
                return s
            }
            var row: JSONObject = ["channel": .string(try field("channel")), "type": .string(try field("type")), "data": .string(try field("data"))]
            if write {
                guard let idx = item.objectValue?["idx"]?.intValue, abs(idx) < 1 << 31 else {
                    throw ProxyError.invalidParams(field: "\(name)[\(i)].idx", reason: "must be an integer")
                }
                row["idx"] = .int(idx)
            } else {
                row["version"] = .string(try versionText(item.objectValue?["version"], field: "\(name)[\(i)].version"))
            }
            rows.append(.object(row))
        }
        return JSONValue.array(rows).jsonText
    }

    /// A channel version as text, as both databases print the JSON number or
    /// string in `channel_versions`. A fractional one only when they print it
    /// alike (SQLite keeps 15 significant digits and writes exponents its own
    /// way): else its value would be stored and never found again.
    private static func versionText(_ v: JSONValue?, field: String) throws(ProxyError) -> String {
        switch v {
        case .string(let s)?: return s
        case .int(let n)?: return String(n)
        case .double(let d)?:
            let text = String(d)
            guard !text.contains("e"), text.filter(\.isNumber).drop(while: { $0 == "0" }).count <= 15 else {
                throw ProxyError.invalidParams(field: field, reason: "a fractional version needs at most 15 significant digits and no exponent "
                                               + "(LangGraph's own versions are strings)")
            }
            return text
        default: throw ProxyError.invalidParams(field: field, reason: "must be a string or a number")
        }
    }

    private static func strings(_ p: Params, _ name: String) throws(ProxyError) -> [String] {
        guard case .array(let items)? = p.object[name] else { throw ProxyError.invalidParams(field: name, reason: "must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw ProxyError.invalidParams(field: name, reason: "must be an array of strings") }
            out.append(s)
        }
        return out
    }

    /// A bulk unit, answered with how many checkpoints it touched once their threads' entries are retired.
    private static func bulk(_ call: Call, _ unit: Unit<CheckpointsTouched>) throws(ProxyError) {
        call.services.operations.run(unit, in: try call.transaction(), retiring: \.retired) { call.relay($0.map { JSONValue.int(Int64($0.count)) }) }
    }
}
