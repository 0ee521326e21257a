import ProxyCore
import Scheduling
import SQLStore
import StoragePorts

/// Claims and leases: how several schedulers share the tasks (PROTOCOL.md,
/// "Claims and leases"). Each call is its own atomic unit, never inside a
/// client transaction: a claim must be committed before its worker starts.
enum ClaimMethods {
    static let all: [MethodSpec] = [
        MethodSpec("claim_due_tasks", .write(.agent("agent_name")), "Take up to `limit` due tasks for `worker`: enabled, and pending with next_run <= now, or running with a lease that ended (lease_until < now). "
                   + "Returns them, running under the worker's lease, attempts + 1. A task whose lease expired with no attempts left becomes failed instead.",
                   params: [.required("worker", Schema.string, "The claiming worker's id (1-128 printable characters), unique per process."),
                            .optional("agent_name", Schema.string, "Only this agent's tasks."),
                            .optional("agent_prefix", Schema.string, "Only the tasks of agents whose names start with this (not with agent_name)."),
                            .integer("limit", 1...1000, default: 1, "How many tasks at most."),
                            .optional("lease_seconds", Schema.number, "How long the lease lasts unless renewed; default 60, at most server.max_lease_seconds."),
                            nowParam,
                            .optional("max_running", .object(["type": "integer", "minimum": 1, "maximum": .int(Int64(maxRunningRange.upperBound))]),
                                      "With agent_name: the agent's tasks running under a live lease stay at most this many, counting the claimed ones "
                                      + "(claims with it take turns per agent).")],
                   result: Schema.array(Schema.task), ordering: .write, retrySafe: false) { call in
            let p = call.params
            let worker = try workerParam(p)
            let now = try callersNow(p)
            let agent = try p.optionalString("agent_name"), maxRunning = try p.optionalInt("max_running", in: maxRunningRange)
            let prefix = try p.optionalString("agent_prefix")
            if maxRunning != nil, agent == nil { throw ProxyError.invalidParams(field: "max_running", reason: "needs agent_name (the agent whose running tasks it limits)") }
            if prefix != nil, agent != nil { throw ProxyError.invalidParams(field: "agent_prefix", reason: "takes the place of agent_name: give one of them") }
            let request = ClaimRequest(worker: worker, agentName: agent, limit: try p.int("limit"),
                                       leaseUntil: try leaseEnd(p, from: now, call.services), now: now,
                                       defaultMaxAttempts: call.services.defaultMaxAttempts, maxRunning: maxRunning, agentPrefix: prefix)
            let claimed: Completion<[TaskRecord]> = { result in call.relay(result.map { $0.filter { $0.isClaimed(by: worker) } }) }
            if maxRunning == nil {
                call.services.operations.run(ClaimOperations.claim(request), in: nil, claimed)
            } else {
                call.services.operations.run(ClaimOperations.claimWithinLimit(request), in: nil, retiring: { .tasks($0.map(\.id)) }, claimed)
            }
        },
        MethodSpec("renew_lease", .write(.task("task_id")), "Extend the worker's lease to lease_seconds from now. Returns the task; -32002 (data.owner) when the worker does not hold it.",
                   params: [.required("task_id", Schema.string, "Task id."),
                            .required("worker", Schema.string, "The worker holding the lease."),
                            .optional("lease_seconds", Schema.number, "Default 60, at most server.max_lease_seconds."),
                            nowParam],
                   result: Schema.task, ordering: .write, retrySafe: true) { call in
            let p = call.params
            let now = try callersNow(p), id = try p.string("task_id"), worker = try workerParam(p)
            let renew = ClaimOperations.renew(taskID: id, worker: worker, until: try leaseEnd(p, from: now, call.services), now: now)
            held(renew, taskID: id, worker: worker, call.services.operations) { call.relay($0) }
        },
        MethodSpec("complete_task", .write(.task("task_id")), "End the worker's run with an outcome. With a next run (given, or computed from the schedule when absent) the task goes back to pending; "
                   + "without one (next_run null, or a finished once schedule) it keeps `status`. Returns the task; -32002 (data.owner) when the worker does not hold it.",
                   params: [.required("task_id", Schema.string, "Task id."),
                            .required("worker", Schema.string, "The worker holding the lease."),
                            .required("status", Schema.string, "The run's outcome, e.g. completed or failed (kept as last_status)."),
                            .optional("next_run", Schema.nullable(Schema.timestamp), "Absent: from the schedule; null: no next run."),
                            .optional("result", Schema.any, "Any JSON value, kept as last_result."),
                            nowParam],
                   result: Schema.task, ordering: .write, retrySafe: false) { call in
            let p = call.params
            let next: TaskCompletion.NextRun
            switch p.object["next_run"] {
            case nil: next = .fromSchedule
            case .null?: next = .none
            default: next = .at(try p.timestamp("next_run"))
            }
            let completion = TaskCompletion(taskID: try p.string("task_id"), worker: try workerParam(p), status: try p.string("status"),
                                            nextRun: next, result: p.object["result"], now: try callersNow(p))
            complete(completion, call.services.operations) { call.relay($0) }
        },
    ]

    /// Writes the outcome only if the worker still holds the lease. With the
    /// next run given (or none), one statement; from the schedule, the task is
    /// read first to compute it: two steps, no lock held between them (the
    /// write applies only under the same lease; a schedule edited in between
    /// is read again at the next completion).
    private static func complete(_ c: TaskCompletion, _ operations: Operations, _ done: @escaping Completion<TaskRecord>) {
        let write = { (next: Timestamp?) in held(ClaimOperations.complete(c, nextRun: next), taskID: c.taskID, worker: c.worker, operations, done) }
        switch c.nextRun {
        case .none: return write(nil)
        case .at(let t): return write(t)
        case .fromSchedule: break
        }
        operations.run(TaskOperations.get(id: c.taskID), in: nil) { read in
            let next: Timestamp?
            do throws(ProxyError) {
                guard let found = try read.get() else { throw .notFound("task \(c.taskID) does not exist") }
                guard found.isClaimed(by: c.worker) else { throw .notLeaseOwner(found, worker: c.worker) }
                next = found.completed(c).nextRun
            } catch {
                return done(.failure(error))
            }
            write(next)
        }
    }

    /// Runs a lease update; one that matched no row was refused: the task is
    /// read to say who holds it (or that it is gone).
    private static func held(_ update: Operation<TaskRecord?>, taskID: String, worker: String, _ operations: Operations,
                             _ done: @escaping Completion<TaskRecord>) {
        operations.run(update, in: nil) { result in
            guard case .success(nil) = result else { return done(result.map { $0! }) }
            operations.run(TaskOperations.get(id: taskID), in: nil) { read in
                switch read {
                case .failure(let error): done(.failure(error))
                case .success(nil): done(.failure(.notFound("task \(taskID) does not exist")))
                case .success(let task?): done(.failure(.notLeaseOwner(task, worker: worker)))
                }
            }
        }
    }

    private static let maxRunningRange = 1...1_000_000

    /// The caller's clock, for the three alike: a scheduler that keeps its own time (APScheduler under
    /// a test's moved clock, a backfill) decides dues and leases by it, never by the proxy's.
    private static let nowParam = ParamSpec.optional("now", Schema.timestamp,
                                                     "This instant instead of the proxy's clock, for dues, lease ends and next runs.")

    private static func callersNow(_ p: Params) throws(ProxyError) -> Timestamp {
        try p.optionalTimestamp("now") ?? .now()
    }

    private static func workerParam(_ p: Params) throws(ProxyError) -> String {
        let worker = try p.string("worker")
        guard Identifier.isValidClientID(worker) else { throw .invalidParams(field: "worker", reason: "must be 1 to 128 printable characters") }
        return worker
    }

    private static func leaseEnd(_ p: Params, from now: Timestamp, _ services: Services) throws(ProxyError) -> Timestamp {
        let seconds = try p.optionalNumber("lease_seconds", in: 0...services.maxLeaseSeconds, exclusiveLowerBound: true) ?? 60
        let end = Timestamp(microseconds: now.microseconds + Int64(seconds * 1_000_000))
        guard end.isRepresentable else { throw .invalidParams(field: "lease_seconds", reason: "would end the lease after year 9999") }
        return end
    }
}
