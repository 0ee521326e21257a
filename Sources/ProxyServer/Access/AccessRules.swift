/// What a method needs of a limited scope (`server.tokens`,
/// `server.unix_peers`). One table, every method in it (the server refuses to
/// start otherwise): reading it is reading the access policy.
enum Access {
    /// Any session that may call at all.
    case anyone
    /// Only an admin scope (`writes`: and not a read-only one).
    case admin(writes: Bool)
    case read(Target)
    case write(Target)

    /// What the call is about, and so what the scope must cover.
    enum Target {
        /// The shared vector store: any scope reads, a read-write scope writes.
        case shared
        /// An agent named by this parameter; a limited scope must name one of its agents.
        case agent(String)
        /// A task named by this parameter; its agent must be in scope, and a
        /// limited scope must name one (calls across tasks are not for it).
        case task(String)
        /// The same, but a task outside the scope reads as absent (null) rather than refused.
        case taskOrNull(String)
        /// `subscribe`: `agent_name` in scope, or `task_id` of a task in scope.
        case agentOrTask
        /// `save_task`: the task's agent, and the stored task's when it exists.
        case savedTask
        /// A `cache.*` key (or glob) or metadata key in this parameter: put in the scope's namespace.
        case key(String), glob(String)
    }

    static let table: [String: Access] = [
        "auth": .anyone, "health_check": .anyone, "rpc.discover": .anyone, "schedule.next_runs": .anyone,
        "begin_transaction": .anyone, "commit_transaction": .anyone, "rollback_transaction": .anyone, "unsubscribe": .anyone,
        "server.status": .admin(writes: false), "delete_old_logs": .admin(writes: true), "vector.drop_collection": .admin(writes: true),

        "get_task": .read(.taskOrNull("task_id")),
        "list_tasks": .read(.agent("agent_name")),
        "query_logs": .read(.task("task_id")),
        "subscribe": .read(.agentOrTask),
        "save_task": .write(.savedTask),
        "delete_task": .write(.task("task_id")),
        "update_task_status": .write(.task("task_id")),
        "save_log": .write(.task("task_id")),
        "claim_due_tasks": .write(.agent("agent_name")),
        "renew_lease": .write(.task("task_id")),
        "complete_task": .write(.task("task_id")),

        "cache.get": .read(.key("key")), "cache.exists": .read(.key("key")),
        "cache.set": .write(.key("key")), "cache.delete": .write(.key("key")), "cache.clear_pattern": .write(.glob("pattern")),
        "get_metadata": .read(.key("key")), "save_metadata": .write(.key("key")),

        "vector.list_collections": .read(.shared), "vector.search": .read(.shared),
        "vector.create_collection": .write(.shared), "vector.add_documents": .write(.shared),
        "vector.delete_documents": .write(.shared),
    ]
}
