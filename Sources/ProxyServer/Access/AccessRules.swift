/// What a method needs of a limited scope (`server.tokens`,
/// `server.unix_peers`): a column of the method table (`MethodSpec.access`),
/// so no method can be added without saying it.
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
}
