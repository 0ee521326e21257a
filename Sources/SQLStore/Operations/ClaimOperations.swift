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
        var op = Operation<[TaskRecord]>(.write(.unordered), cache: .retire { tasks in .tasks(tasks.map(\.id)) },
                                         statement: { d in (ClaimStatements[d].claim, ClaimStatements[d].claimValues(r)) }, initial: [],
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
