import ProxyCore
import StoragePorts

/// The task reads and the one-statement task writes. Reads are the seed's
/// read-through entries (`task:{id}` 300 s, `tasks:{agent}:{status}` 60 s);
/// every write retires its task's entry and every list. (`save_task` is a
/// merge whose statements differ per backend, `StorageAdapter.saveTask`: on
/// SQLite's single writer, or optimistically in PostgreSQL's group commit.)
public enum TaskOperations {
    /// The hot read: its fold captures nothing (no allocation of its own).
    public static func get(id: String) -> Operation<TaskRecord?> {
        Operation(.read, cache: .keep(.task(id)), statement: { d in (Statements[d].selectTask, [.text(id)]) }, initial: nil,
                  eachRow: { row, d, out in if out == nil { out = Statements[d].task(row) } })
    }

    /// Oldest `created_at` first, then id; a page under the answer budget.
    public static func list(_ q: TaskQuery) -> Operation<[TaskRecord]> {
        .all(page: (q.budget, Statements.taskColumnCount), cache: .keep(.taskList(q))) { d in Statements[d].listTasks(q) } decode: { row, d in
            Statements[d].task(row)
        }
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
