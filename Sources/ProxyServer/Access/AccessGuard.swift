import ProxyCore
import SQLStore
import StoragePorts

/// Holds a request of a limited scope against its method's `access` before it runs:
/// refuses it (-32007, naming what the scope lacks), answers it without
/// running (a task outside the scope reads as absent), or lets it run, with
/// `cache.*` and metadata keys moved into the scope's namespace. A task named
/// by id is looked up first (in the call's transaction, so a task created in
/// it counts). Full scopes never come here. Loop thread only.
enum AccessGuard {
    enum Decision {
        case run(JSONObject)
        case answer(JSONValue)
        case refuse(ProxyError)
    }

    static func check(_ spec: MethodSpec, _ params: JSONObject, scope: Scope, session: Session, services: Services,
                      _ decided: @escaping (Decision) -> Void) {
        switch spec.access {
        case .anyone:
            decided(.run(params))
        case .admin(let writes):
            guard scope.admin else { return decided(.refuse(.unauthorized("\(spec.name) needs an admin token (scope \(scope.name))"))) }
            decided(writes && scope.readOnly ? .refuse(.unauthorized("\(spec.name) writes; scope \(scope.name) is read-only")) : .run(params))
        case .read(let target):
            check(target, spec, params, scope, session, services, decided)
        case .write(let target):
            guard !scope.readOnly else { return decided(.refuse(.unauthorized("\(spec.name) writes; scope \(scope.name) is read-only"))) }
            check(target, spec, params, scope, session, services, decided)
        }
    }

    private static func check(_ target: Access.Target, _ spec: MethodSpec, _ params: JSONObject, _ scope: Scope, _ session: Session,
                              _ services: Services, _ decided: @escaping (Decision) -> Void) {
        func outside(_ agent: String) -> Decision {
            .refuse(.unauthorized("agent \(agent) is outside scope \(scope.name)"))
        }
        switch target {
        case .shared:
            decided(.run(params))
        case .agent(let name):
            guard scope.agents != nil else { return decided(.run(params)) }
            guard let agent = params[name]?.stringValue else {
                return decided(.refuse(.unauthorized("scope \(scope.name) covers some agents only: name one in \(name)")))
            }
            decided(scope.allows(agent: agent) ? .run(params) : outside(agent))
        case .task(let name), .taskOrNull(let name):
            guard scope.agents != nil else { return decided(.run(params)) }
            guard let id = params[name]?.stringValue else {
                return decided(.refuse(.unauthorized("scope \(scope.name) covers some agents only: name a task in \(name)")))
            }
            owner(of: id, params, session, services) { agent in
                guard let agent else { return decided(.run(params)) }  // absent: the method says so itself
                if scope.allows(agent: agent) { return decided(.run(params)) }
                if case .taskOrNull = target { return decided(.answer(.null)) }
                decided(outside(agent))
            }
        case .agentOrTask:
            guard scope.agents != nil else { return decided(.run(params)) }
            if let agent = params["agent_name"]?.stringValue { return decided(scope.allows(agent: agent) ? .run(params) : outside(agent)) }
            check(.task("task_id"), spec, params, scope, session, services, decided)
        case .savedTask:
            guard scope.agents != nil else { return decided(.run(params)) }
            let task = params["task"]?.objectValue
            if let agent = task?["agent_name"]?.stringValue, !scope.allows(agent: agent) { return decided(outside(agent)) }
            guard let id = task?["id"]?.stringValue else {
                // A new task: it must name an agent (save_task itself requires one).
                return decided(task?["agent_name"]?.stringValue == nil ? .refuse(.invalidParams(field: "task.agent_name", reason: "is required"))
                               : .run(params))
            }
            owner(of: id, params, session, services) { stored in
                if let stored, !scope.allows(agent: stored) { return decided(outside(stored)) }
                if stored == nil && task?["agent_name"]?.stringValue == nil {
                    return decided(.refuse(.invalidParams(field: "task.agent_name", reason: "is required")))
                }
                decided(.run(params))
            }
        case .key(let name), .glob(let name):
            guard !scope.namespace.isEmpty, let key = params[name]?.stringValue else { return decided(.run(params)) }
            var moved = params
            moved[name] = .string(scope.namespace + key)  // names are [A-Za-z0-9_.-]: nothing in them is glob syntax
            decided(.run(moved))
        }
    }

    /// The agent of a stored task, nil when there is none (or it cannot be read: the method then meets the same failure).
    private static func owner(of id: String, _ params: JSONObject, _ session: Session, _ services: Services,
                              _ found: @escaping (String?) -> Void) {
        let tx = params["transaction"]?.stringValue.flatMap { try? session.transaction($0) }
        services.operations.run(TaskOperations.get(id: id), in: tx) { result in
            found((try? result.get())??.agentName)
        }
    }
}
