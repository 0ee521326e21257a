import ProxyConfig

/// What a session may touch: which agents' tasks and logs, whether it may
/// write, whether it may use the admin methods. `full` is the server's own
/// `auth_token` (and any connection that needs no token). A limited scope
/// also has its own `cache.*` and metadata namespace. Immutable.
struct Scope: Equatable {
    /// Shown in logs (never the token).
    let name: String
    /// nil: every agent.
    let agents: Set<String>?
    let readOnly: Bool
    let admin: Bool

    static let full = Scope(name: "full", agents: nil, readOnly: false, admin: true)

    init(name: String, agents: Set<String>?, readOnly: Bool, admin: Bool) {
        self.name = name; self.agents = agents; self.readOnly = readOnly; self.admin = admin
    }

    init(_ grant: ProxyConfig.Grant) {
        self.init(name: grant.name, agents: grant.agents.map(Set.init), readOnly: grant.readOnly, admin: grant.admin)
    }

    /// Nothing to check: the dispatcher skips the guard entirely.
    var isFull: Bool { agents == nil && !readOnly && admin }

    func allows(agent: String) -> Bool { agents?.contains(agent) ?? true }

    /// The prefix of this scope's `cache.*` keys and metadata keys; empty for a scope over every agent.
    var namespace: String { agents == nil ? "" : "~\(name)/" }
}
