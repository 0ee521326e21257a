import ProxyCore
import Scheduling
import StoragePorts

/// The task reads and the one-statement task writes. Reads are the seed's
/// read-through entries (`task:{id}` 300 s, `tasks:{agent}:{status}` 60 s);
/// every write retires its task's entry and every list.
public enum TaskOperations {
    /// `save_task` of a new id: one INSERT (it cannot exist yet), in a group commit.
    public static func insert(_ task: TaskRecord) -> Operation<String> {
        var op = Operation<String>(.write(.task(task.id)), cache: .retiring(.tasks([task.id])),
                                   statement: { d in (Statements[d].insertTask, Statements[d].insertValues(task)) }, initial: task.id)
        op.change = .taskCreated(task.id)
        return op
    }

    /// `save_task` of a client's id: read the row (locking it on PostgreSQL),
    /// merge the fields present into it (`TaskRecord.saving`), write it back
    /// or insert it, as one unit. Two connections inserting the same new id at
    /// once: the loser's insert is a conflict, and `save` runs it again, this
    /// time merging into the winner's row.
    public static func merge(_ fields: JSONObject, id: String, now: Timestamp) -> Unit<String> {
        Unit(.write) { steps, done in
            let read = Operation<TaskRecord?>(.read, sql: { d in Statements[d].selectTaskForUpdate }, key: id, initial: nil,
                                              eachRow: { row, d, out in if out == nil { out = Statements[d].task(row) } })
            steps.run(read) { stored in
                let found: TaskRecord?, task: TaskRecord
                do throws(ProxyError) {
                    found = try stored.get()
                    task = try TaskRecord.saving(fields, over: found, id: id, now: now)
                } catch {
                    return done(.failure(error))
                }
                let isNew = found == nil
                var write = Operation<Void>(.write(.task(id)), statement: { d in
                    isNew ? (Statements[d].insertTask, Statements[d].insertValues(task)) : (Statements[d].updateTask, Statements[d].updateValues(task))
                }, initial: ())
                write.change = isNew ? .taskCreated(id) : .taskWritten(id)
                steps.run(write) { written in done(written.map { id }) }
            }
        }
    }

    /// `save_task` on any executor: a new id is inserted, a client's id merged.
    /// `retryingConflicts`: once more after a racing insert of the same id won
    /// (PostgreSQL's connections race; SQLite's single writer never does).
    public static func save(_ fields: JSONObject, id: String?, on runner: OperationRunner, in tx: TransactionID?,
                            retryingConflicts: Bool = false, _ done: @escaping Completion<String>) {
        guard let id else {
            do {
                return runner.run(insert(try TaskRecord.saving(fields, over: nil, id: Identifier.make(), now: .now())), in: tx, done)
            } catch {
                return done(.failure(error))
            }
        }
        guard retryingConflicts else { return runner.run(merge(fields, id: id, now: .now()), in: tx, done) }
        runner.run(merge(fields, id: id, now: .now()), in: tx) { result in
            guard case .failure(.conflict) = result else { return done(result) }
            runner.run(merge(fields, id: id, now: .now()), in: tx, done)
        }
    }

    /// The hot read: its fold captures nothing (no allocation of its own).
    public static func get(id: String) -> Operation<TaskRecord?> {
        Operation(.read, cache: .keep(.task(id)), sql: { d in Statements[d].selectTask }, key: id, initial: nil,
                  eachRow: { row, d, out in if out == nil { out = Statements[d].task(row) } })
    }

    /// Oldest `created_at` first, then id; a page under the answer budget.
    public static func list(_ q: TaskQuery) -> Operation<[TaskRecord]> {
        .all(page: (q.budget, Statements.taskColumnCount), cache: .keep(.taskList(q))) { d in Statements[d].listTasks(q) } decode: { row, d in
            Statements[d].task(row)
        }
    }

    /// How many tasks match (idx_tasks_agent_status for an agent and a status).
    public static func count(agentName: String?, status: String?, leasedAt: Timestamp?) -> Operation<Int> {
        Operation<Int>(.read, statement: { d in Statements[d].countTasks(agentName: agentName, status: status, leasedAt: leasedAt) }, initial: 0,
                       eachRow: { row, _, out in out = Int(row.int(0) ?? 0) })
    }

    /// How many tasks match, by `field` (`status` or `agent_name`): the 1,000 largest groups.
    public static func count(agentName: String?, status: String?, leasedAt: Timestamp?, by field: String) -> Operation<JSONValue> {
        Operation<JSONValue>(.read, statement: { d in Statements[d].countTasks(agentName: agentName, status: status, leasedAt: leasedAt, by: field) },
                             initial: .object([:]),
                             eachRow: { row, _, out in
                                 guard case .object(var groups) = out else { return }
                                 groups[row.text(0) ?? ""] = .int(row.int(1) ?? 0)
                                 out = .object(groups)
                             })
    }

    /// True if the task existed; its logs go with it (a foreign key).
    public static func delete(id: String) -> Operation<Bool> {
        .changed(.task(id), cache: .retiring(.tasks([id])), change: .taskDeleted(id)) { d in (Statements[d].deleteTask, [.text(id)]) }
    }

    /// Absent times are kept. True if the task exists.
    public static func updateStatus(id: String, status: String, lastRun: Timestamp?, nextRun: Timestamp?, now: Timestamp) -> Operation<Bool> {
        .changed(.task(id), cache: .retiring(.tasks([id])), change: .taskWritten(id)) { d in
            let s = Statements[d]
            return (s.updateTaskStatus, s.updateStatusValues(id: id, status: status, lastRun: lastRun, nextRun: nextRun, now: now))
        }
    }
}

/// A task's logs: appended, read newest first, pruned by age. Not cached.
public enum LogOperations {
    /// Stores the entry unless its id is taken (retries and re-imports add
    /// nothing); answers its id. An unknown task is `-32001`.
    public static func save(_ entry: LogEntry) -> Operation<String> {
        var op = Operation<String>(.write(.task(entry.taskID)), statement: { d in (Statements[d].insertLog, Statements[d].values(entry)) },
                                   initial: entry.id)
        op.change = .logAdded(entry)
        op.manyRows = manyRows
        op.missingParent = "task " + entry.taskID
        return op
    }

    /// `insertLog` for many rows: each parameter an array of one column; the same casts, conflicts and triggers.
    static let manyRows = """
        INSERT INTO logs (id, task_id, level, message, metadata, created_at) \
        SELECT id, task_id, level, message, metadata::jsonb, created_at::timestamptz \
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
        AS r(id, task_id, level, message, metadata, created_at) ON CONFLICT (id) DO NOTHING
        """

    /// Newest first; a page under the answer budget.
    public static func query(_ q: LogQuery) -> Operation<[LogEntry]> {
        .all(page: (q.budget, Statements.logColumnCount)) { d in Statements[d].queryLogs(q) } decode: { row, d in Statements[d].log(row) }
    }

    /// Deletes the logs strictly older than `before`; answers how many. A
    /// statement over many rows: it commits alone.
    public static func deleteOld(before: Timestamp) -> Operation<Int> {
        .count(nil) { d in (Statements[d].deleteOldLogs, [d.value(before)]) }
    }
}
