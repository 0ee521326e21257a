import ProxyCore
import SQLStore

/// The seed's `StorageAdapter` methods, as the contract names them.
enum StorageMethods {
    static let all: [MethodSpec] = [
        MethodSpec("health_check", .anyone, "true when storage answers, else false (the cache does not count; see server.status).",
                   result: Schema.boolean, ordering: .read) { call in
            if let up = call.services.health.recent { return call.reply(.success(up)) }
            call.services.health.check(storage: call.storage) { up in call.reply(.success(up)) }
        },
        MethodSpec("save_task", .write(.savedTask), "Insert a task, or update the stored one with the fields present. Returns the task id.",
                   params: [.required("task", Schema.task, "The task; `id` optional (1-128 printable characters).")],
                   result: Schema.string, ordering: .write, transactional: true) { call in
            let task = try call.params.objectParam("task")
            var id: String?
            if let raw = task["id"], raw != .null {
                guard case .string(let s) = raw, Identifier.isValidClientID(s) else {
                    throw ProxyError.invalidParams(field: "task.id", reason: "must be a string of 1 to 128 printable characters")
                }
                id = s
            }
            call.services.operations.saveTask(task, id: id, in: try call.transaction()) { call.relay($0) }
        },
        MethodSpec("get_task", .read(.taskOrNull("task_id")), "The task, or null.",
                   params: [.required("task_id", Schema.string, "Task id.")],
                   result: Schema.nullable(Schema.task), ordering: .read, transactional: true) { call in
            try call.answer(TaskOperations.get(id: try call.params.string("task_id")))
        },
        MethodSpec("list_tasks", .read(.agent("agent_name")), "Tasks, oldest created_at first, then id.",
                   params: [.optional("agent_name", Schema.string, "Only this agent's tasks."),
                            .optional("status", Schema.string, "Only tasks with this status."),
                            .integer("limit", 1...10_000, default: 100, "How many tasks at most."),
                            .integer("offset", 0...Int(Int32.max), default: 0, "How many to skip.")],
                   result: Schema.array(Schema.task), ordering: .read, transactional: true) { call in
            let p = call.params
            let query = TaskQuery(agentName: try p.optionalString("agent_name"), status: try p.optionalString("status"),
                                  limit: try p.int("limit"), offset: try p.int("offset"),
                                  budget: AnswerBudget(limit: call.services.maxAnswerBytes))
            try call.answer(TaskOperations.list(query))
        },
        MethodSpec("count_tasks", .read(.agent("agent_name")), "How many tasks match: a number, whatever how many (no page, no cache).",
                   params: [.optional("agent_name", Schema.string, "Only this agent's tasks."),
                            .optional("status", Schema.string, "Only tasks with this status."),
                            .optional("leased_at", Schema.timestamp, "Only tasks running under a lease live at this instant (lease_until >= it): what a claim's max_running counts."),
                            .optional("group_by", ["enum": ["status", "agent_name"]],
                                      "Counts by this field instead: an object of value → count, the 1,000 largest groups.")],
                   result: ["oneOf": [Schema.integer, Schema.object]], ordering: .read, transactional: true) { call in
            let p = call.params
            let agent = try p.optionalString("agent_name"), status = try p.optionalString("status"), leasedAt = try p.optionalTimestamp("leased_at")
            switch try p.optionalString("group_by") {
            case nil: try call.answer(TaskOperations.count(agentName: agent, status: status, leasedAt: leasedAt))
            case let field? where field == "status" || field == "agent_name":
                try call.answer(TaskOperations.count(agentName: agent, status: status, leasedAt: leasedAt, by: field))
            default: throw ProxyError.invalidParams(field: "group_by", reason: "must be \"status\" or \"agent_name\"")
            }
        },
        MethodSpec("delete_task", .write(.task("task_id")), "true if the task existed; its logs go with it.",
                   params: [.required("task_id", Schema.string, "Task id.")],
                   result: Schema.boolean, ordering: .write, transactional: true) { call in
            try call.answer(TaskOperations.delete(id: try call.params.string("task_id")))
        },
        MethodSpec("update_task_status", .write(.task("task_id")), "Set status (and last_run/next_run when given). true if the task exists.",
                   params: [.required("task_id", Schema.string, "Task id."),
                            .required("status", Schema.string, "New status."),
                            .optional("last_run", Schema.timestamp, "Kept when absent."),
                            .optional("next_run", Schema.timestamp, "Kept when absent.")],
                   result: Schema.boolean, ordering: .write, transactional: true) { call in
            let p = call.params
            try call.answer(TaskOperations.updateStatus(id: try p.string("task_id"), status: try p.string("status"),
                                                        lastRun: try p.optionalTimestamp("last_run"),
                                                        nextRun: try p.optionalTimestamp("next_run"), now: .now()))
        },
        MethodSpec("save_log", .write(.task("task_id")), "Append a log line to a task. Returns the log id; an unknown task is -32001.",
                   params: [.required("task_id", Schema.string, "Task id."),
                            .required("level", Schema.string, "DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)."),
                            .required("message", Schema.string, "The message."),
                            .optional("metadata", Schema.nullable(Schema.object), "Any JSON object."),
                            .optional("id", Schema.string, "The client's own log id (1–128 printable characters); a log with this id already stored is not written again."),
                            .optional("created_at", Schema.timestamp, "When it happened (default: now), e.g. for imported logs.")],
                   result: Schema.string, ordering: .write, transactional: true) { call in
            let p = call.params
            let id = try p.optionalString("id") ?? Identifier.make()
            guard Identifier.isValidClientID(id) else { throw ProxyError.invalidParams(field: "id", reason: "must be 1–128 printable characters") }
            let entry = LogEntry(id: id, taskID: try p.string("task_id"), level: try p.logLevel("level"), message: try p.string("message"),
                                 metadata: try p.optionalObject("metadata"), createdAt: try p.optionalTimestamp("created_at") ?? .now())
            try call.answer(LogOperations.save(entry))
        },
        MethodSpec("query_logs", .read(.task("task_id")), "Logs, newest first.",
                   params: [.optional("task_id", Schema.string, "Only this task's logs."),
                            .optional("level", Schema.string, "Only this level."),
                            .optional("start_time", Schema.timestamp, "Inclusive."),
                            .optional("end_time", Schema.timestamp, "Exclusive."),
                            .integer("limit", 1...10_000, default: 100, "How many logs at most.")],
                   result: Schema.array(Schema.log), ordering: .read, transactional: true) { call in
            let p = call.params
            let query = LogQuery(taskID: try p.optionalString("task_id"), level: try p.optionalLogLevel("level"),
                                 startTime: try p.optionalTimestamp("start_time"), endTime: try p.optionalTimestamp("end_time"),
                                 limit: try p.int("limit"),
                                 budget: AnswerBudget(limit: call.services.maxAnswerBytes))
            try call.answer(LogOperations.query(query))
        },
        MethodSpec("delete_old_logs", .admin(writes: true), "Delete logs strictly older than `before`. Returns how many.",
                   params: [.required("before", Schema.timestamp, "Cut-off time.")],
                   result: Schema.integer, ordering: .write, transactional: true) { call in
            try call.answer(LogOperations.deleteOld(before: try call.params.timestamp("before")))
        },
        MethodSpec("begin_transaction", .anyone, "Open a transaction on this connection. Returns its handle.",
                   result: Schema.string, ordering: .write) { call in
            try call.session.reserveTransaction()
            call.storage.beginTransaction { result in
                switch result {
                case .success(let tx):
                    if let handle = call.session.transactionOpened(tx) { return call.reply(.success(handle)) }
                    // Its connection closed while it opened: nobody could ever use or end it.
                    call.services.rollback(tx)
                    call.reply(.failure(.transactionInvalid("the connection closed while the transaction opened")))
                case .failure(let error):
                    call.session.transactionFailedToOpen()
                    call.reply(.failure(error))
                }
            }
        },
        MethodSpec("commit_transaction", .anyone, "Commit; the handle is then gone.",
                   params: [.required("transaction", Schema.string, "Handle from begin_transaction.")],
                   result: Schema.null, ordering: .write) { call in
            let tx = try call.session.endTransaction(try call.params.string("transaction"))
            call.services.commit(tx) { call.relay($0) }
        },
        MethodSpec("rollback_transaction", .anyone, "Roll back; the handle is then gone.",
                   params: [.required("transaction", Schema.string, "Handle from begin_transaction.")],
                   result: Schema.null, ordering: .write) { call in
            let tx = try call.session.endTransaction(try call.params.string("transaction"))
            call.services.rollback(tx) { call.relay($0) }
        },
    ]
}
