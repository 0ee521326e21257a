import ProxyCore
import StoragePorts

/// Live events (PROTOCOL.md, "Live events"): a connection subscribes, then
/// committed changes arrive on it as `event` notifications.
enum EventMethods {
    static let all: [MethodSpec] = [
        MethodSpec("subscribe", .read(.agentOrTask), "Receive committed changes as `event` notifications on this connection, in commit order per task, until unsubscribe "
                   + "or disconnect. Returns {subscription}. A connection that reads too slowly loses events and is told with one `lagged` event.",
                   params: [.optional("topics", Schema.array(Schema.string),
                                      "Any of \"tasks\", \"logs\" and \"checkpoints\"; default \"tasks\" and \"logs\" (\"checkpoints\" with `thread_id`)."),
                            .optional("agent_name", Schema.string, "Only changes to this agent's tasks (and their logs)."),
                            .optional("task_id", Schema.string, "Only changes to this task (and its logs)."),
                            .optional("thread_id", Schema.string, "Only this LangGraph thread's checkpoints."),
                            .optional("agent_prefix", Schema.string, "Only changes to the tasks (and their logs) of agents whose name starts with this."),
                            .optional("leases", Schema.boolean, "false: without the updates after which a task is running (claims, lease renewals); default true.")],
                   result: Schema.object, ordering: .write, retrySafe: true) { call in
            let thread = try call.params.optionalString("thread_id")
            let filter = Subscription.Filter(topics: try topics(call.params, thread: thread), agentName: try call.params.optionalString("agent_name"),
                                             taskID: try call.params.optionalString("task_id"), threadID: thread,
                                             agentPrefix: try call.params.optionalString("agent_prefix"),
                                             leases: try call.params.optionalBool("leases") ?? true)
            let events = call.services.events
            events.subscribe(filter, for: call.session) { result in
                switch result {
                case .failure(let error): call.reply(.failure(error))
                case .success(let subscription):
                    call.reply(.success(["subscription": .string(subscription.id)] as JSONValue))
                    events.activate(subscription)  // after the answer: no event comes before it
                }
            }
        },
        MethodSpec("unsubscribe", .anyone, "End a subscription of this connection. Returns false when it has none by that id.",
                   params: [.required("subscription", Schema.string, "The id subscribe returned.")],
                   result: Schema.boolean, ordering: .write, retrySafe: true) { call in
            call.reply(.success(call.services.events.unsubscribe(try call.params.string("subscription"), for: call.session)))
        },
    ]

    /// Checkpoint events only when asked for (or a thread named): a subscriber from before them gets what it got.
    private static func topics(_ p: Params, thread: String?) throws(ProxyError) -> Set<ChangeTopic> {
        guard let value = p.object["topics"], value != .null else { return thread == nil ? [.tasks, .logs] : [.checkpoints] }
        guard case .array(let items) = value, !items.isEmpty else {
            throw .invalidParams(field: "topics", reason: "must be a non-empty array of \"tasks\", \"logs\" and \"checkpoints\"")
        }
        var topics = Set<ChangeTopic>()
        for item in items {
            guard case .string(let name) = item, let topic = ChangeTopic(rawValue: name) else {
                throw .invalidParams(field: "topics", reason: "must hold only \"tasks\", \"logs\" and \"checkpoints\"")
            }
            topics.insert(topic)
        }
        return topics
    }
}
