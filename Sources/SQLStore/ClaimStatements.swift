import ProxyCore
import StoragePorts

/// The SQL of claims and leases, written once for both dialects (see
/// STORAGE.md, "Claims and leases", for the plans at a million tasks).
///
/// A claim is one statement: the due tasks (`next_run <= now`,
/// `idx_tasks_due`) and the ended leases (`lease_until < now`: a lease holds
/// through its last instant, as APScheduler's `acquired_until` does;
/// `idx_tasks_leased`), each an index range scan in due
/// order, locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL so that
/// concurrent claimers pass each other's rows by instead of waiting (on
/// SQLite the single writer runs claims one at a time), then updated and
/// returned. Renewing and completing update only while the caller still
/// holds the lease, so a worker whose lease was taken over cannot overwrite
/// the new holder's run.
public final class ClaimStatements: Sendable {
    public let dialect: SQLDialect
    public static let sqlite = ClaimStatements(.sqlite)
    public static let postgresql = ClaimStatements(.postgresql)

    /// $1 now, $2 agent name or NULL, $3 limit, $4 default max attempts, $5 worker, $6 lease end.
    public let claim: String
    /// $1 lease end, $2 now, $3 task id, $4 worker.
    public let renew: String
    /// $1 status … $7 worker: see `completeValues`. A next run resets `attempts`.
    public let complete: String

    init(_ d: SQLDialect) {
        dialect = d
        let columns = (d == .sqlite ? Statements.sqlite : Statements.postgresql).taskColumns
        let now = d.parameter(1, as: d.timeType)
        let agent = d.parameter(2, as: "text")
        let lock = d == .postgresql ? " FOR UPDATE SKIP LOCKED" : ""
        // SQLite without statistics (no ANALYZE yet) prefers the equality on
        // `idx_tasks_enabled` and sorts the whole table: a claim then costs a
        // scan (~1 ms at 1,000 tasks). Naming the partial index keeps it a range scan.
        let candidates = { (status: String, due: String, by: String, index: String) in
            "SELECT id, \(due) AS due_at FROM tasks\(d == .sqlite ? " INDEXED BY \(index)" : "") WHERE enabled = \(d.trueLiteral) AND status = '\(status)' AND \(due) \(by) \(now) "
                + "AND (\(agent) IS NULL OR agent_name = \(agent)) ORDER BY \(due) LIMIT $3\(lock)"
        }
        let maxAttempts = "COALESCE(max_attempts, \(d.parameter(4, as: "integer")))"
        let exhausted = "status = 'running' AND \(maxAttempts) > 0 AND attempts >= \(maxAttempts)"
        claim = """
            WITH due AS (\(candidates("pending", "next_run", "<=", "idx_tasks_due"))), \
            lost AS (\(candidates("running", "lease_until", "<", "idx_tasks_leased"))), \
            picked AS (SELECT id FROM (SELECT id, due_at FROM lost UNION ALL SELECT id, due_at FROM due) both_kinds \
            ORDER BY due_at LIMIT $3) \
            UPDATE tasks SET \
            status = CASE WHEN \(exhausted) THEN 'failed' ELSE 'running' END, \
            lease_owner = CASE WHEN \(exhausted) THEN NULL ELSE \(d.parameter(5, as: "text")) END, \
            lease_until = CASE WHEN \(exhausted) THEN NULL ELSE \(d.parameter(6, as: d.timeType)) END, \
            last_status = CASE WHEN \(exhausted) THEN 'lease_expired' ELSE last_status END, \
            last_run = CASE WHEN \(exhausted) THEN last_run ELSE \(now) END, \
            attempts = CASE WHEN \(exhausted) THEN attempts ELSE attempts + 1 END, \
            updated_at = \(now) \
            WHERE id IN (SELECT id FROM picked) RETURNING \(columns)
            """
        renew = """
            UPDATE tasks SET lease_until = $1, updated_at = $2 \
            WHERE id = $3 AND lease_owner = $4 AND status = 'running' RETURNING \(columns)
            """
        complete = """
            UPDATE tasks SET status = $1, next_run = \(d.parameter(2, as: d.timeType)), lease_owner = NULL, lease_until = NULL, \
            last_status = $3, last_result = \(d.parameter(4, as: d.jsonType)), \
            attempts = CASE WHEN \(d.parameter(2, as: d.timeType)) IS NULL THEN attempts ELSE 0 END, updated_at = $5 \
            WHERE id = $6 AND lease_owner = $7 AND status = 'running' RETURNING \(columns)
            """
    }

    public func claimValues(_ r: ClaimRequest) -> [SQLValue] {
        [dialect.value(r.now), dialect.value(r.agentName), .int(Int64(r.limit)), .int(Int64(r.defaultMaxAttempts)),
         .text(r.worker), dialect.value(r.leaseUntil)]
    }

    public func renewValues(taskID: String, worker: String, until: Timestamp, now: Timestamp) -> [SQLValue] {
        [dialect.value(until), dialect.value(now), .text(taskID), .text(worker)]
    }

    /// With a next run the task goes back to `pending`; without one it takes the reported status.
    public func completeValues(_ c: TaskCompletion, nextRun: Timestamp?) -> [SQLValue] {
        [.text(nextRun == nil ? c.status : "pending"), dialect.value(nextRun), .text(c.status),
         c.result.map { .text($0.jsonText) } ?? .null, dialect.value(c.now), .text(c.taskID), .text(c.worker)]
    }
}
