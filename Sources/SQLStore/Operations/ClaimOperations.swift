import ProxyCore
import StoragePorts

/// Claims and leases (`ClaimStatements`), each one statement that updates
/// only what the caller may (see STORAGE.md, "Claims and leases"); every
/// task it changed is retired from the read-through cache and seen by
/// subscribers. A renewal or completion that matched no row was refused:
/// the caller reads the task to say why (`ClaimMethods`).
public enum ClaimOperations {
    /// Up to `limit` due tasks, due first. Its row lock sorts last in a group
    /// commit: a claim skips locked rows and never waits.
    public static func claim(_ r: ClaimRequest) -> Operation<[TaskRecord]> {
        claiming(r, r.agentPrefix == nil ? \.claim : \.claimByPrefix, cache: .retire { tasks in .tasks(tasks.map(\.id)) })
    }

    /// `claim` within the agent's running limit (`r.maxRunning`): the agent's turn (a lock on
    /// PostgreSQL), then the claim counting its running tasks, in one transaction of their own
    /// (not a group commit's: a lock wait there would hold up the group's other writes). The
    /// caller retires the claimed tasks from the cache.
    public static func claimWithinLimit(_ r: ClaimRequest) -> Unit<[TaskRecord]> {
        Unit(.write) { steps, done in
            let turn = Operation<Void>(.read, statement: { d in (ClaimStatements[d].claimLock, [.text(r.agentName ?? "")]) }, initial: ())
            let failure = FirstFailure()
            steps.run(turn) { failure.note($0) }
            steps.run(claiming(r, \.claimWithinLimit, cache: nil)) { done(failure.answer($0)) }
        }
    }

    private static func claiming(_ r: ClaimRequest, _ sql: KeyPath<ClaimStatements, String>,
                                 cache: CachePolicy<[TaskRecord]>?) -> Operation<[TaskRecord]> {
        var op = Operation<[TaskRecord]>(.write(.unordered), cache: cache,
                                         statement: { d in (ClaimStatements[d][keyPath: sql], ClaimStatements[d].claimValues(r)) }, initial: [],
                                         eachRow: { row, d, out in out.append(Statements[d].task(row)) },
                                         finish: { out, _ in out.sort(by: TaskRecord.dueFirst) })
        op.change = .tasksReturned
        return op
    }

    /// The task with its lease extended; nil when the worker does not hold it.
    public static func renew(taskID: String, worker: String, until: Timestamp, now: Timestamp) -> Operation<TaskRecord?> {
        leaseUpdate(taskID) { d in (ClaimStatements[d].renew, ClaimStatements[d].renewValues(taskID: taskID, worker: worker, until: until, now: now)) }
    }

    /// The task with the outcome written; nil when the worker does not hold it.
    public static func complete(_ c: TaskCompletion, nextRun: Timestamp?) -> Operation<TaskRecord?> {
        leaseUpdate(c.taskID) { d in (ClaimStatements[d].complete, ClaimStatements[d].completeValues(c, nextRun: nextRun)) }
    }

    private static func leaseUpdate(_ id: String, _ statement: @escaping (SQLDialect) -> BoundStatement) -> Operation<TaskRecord?> {
        var op = Operation<TaskRecord?>(.write(.task(id)), cache: .retire { t in t == nil ? CacheInvalidation() : .tasks([id]) },
                                        statement: statement, initial: nil,
                                        eachRow: { row, d, out in if out == nil { out = Statements[d].task(row) } })
        op.change = .tasksReturned
        return op
    }
}

extension ClaimStatements {
    public static subscript(_ dialect: SQLDialect) -> ClaimStatements { dialect == .sqlite ? sqlite : postgresql }
}
