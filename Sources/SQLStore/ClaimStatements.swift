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
    /// `claim` of the agents whose names start with $2.
    public let claimByPrefix: String
    /// `claim` within an agent's running limit, $2 the agent and $7 `max_running`: it takes at most
    /// `max_running` less the agent's tasks running under a live lease (`lease_until >= now`,
    /// `idx_tasks_agent_status`). Run after `claimLock`, in the same transaction (`ClaimOperations`).
    public let claimWithinLimit: String
    /// $1 the agent. On PostgreSQL the agent's limited claims take turns (a transaction-scoped
    /// advisory lock), so each one's count, read by the next statement's fresh snapshot, includes
    /// every claim committed before it; SQLite's single writer takes turns already.
    public let claimLock: String
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
        let indexed = { (index: String) in d == .sqlite ? " INDEXED BY \(index)" : "" }
        // $2 an agent (NULL: every agent), or with `byPrefix` the start of the agents' names.
        let agentIs = { (byPrefix: Bool) in
            !byPrefix ? "(\(agent) IS NULL OR agent_name = \(agent))"
                : d == .postgresql ? "starts_with(agent_name, \(agent))" : "substr(agent_name, 1, length(\(agent))) = \(agent)"
        }
        let candidates = { (status: String, due: String, by: String, index: String, limit: String, byPrefix: Bool) in
            "SELECT id, \(due) AS due_at FROM tasks\(indexed(index)) WHERE enabled = \(d.trueLiteral) AND status = '\(status)' AND \(due) \(by) \(now) "
                + "AND \(agentIs(byPrefix)) ORDER BY \(due) LIMIT \(limit)\(lock)"
        }
        let maxAttempts = "COALESCE(max_attempts, \(d.parameter(4, as: "integer")))"
        let exhausted = "status = 'running' AND \(maxAttempts) > 0 AND attempts >= \(maxAttempts)"
        // `limit`: $3, or what the agent's running limit leaves of it (`free`, a CTE before the others);
        // `tail` limits the rows updated (an empty string: all picked).
        func claimOf(limit: String = "$3", free: String = "", tail: String = "", byPrefix: Bool = false) -> String { """
            WITH \(free)due AS (\(candidates("pending", "next_run", "<=", "idx_tasks_due", limit, byPrefix))), \
            lost AS (\(candidates("running", "lease_until", "<", "idx_tasks_leased", limit, byPrefix))), \
            picked AS (SELECT id, due_at FROM (SELECT id, due_at FROM lost UNION ALL SELECT id, due_at FROM due) both_kinds \
            ORDER BY due_at LIMIT \(limit)) \
            UPDATE tasks SET \
            status = CASE WHEN \(exhausted) THEN 'failed' ELSE 'running' END, \
            lease_owner = CASE WHEN \(exhausted) THEN NULL ELSE \(d.parameter(5, as: "text")) END, \
            lease_until = CASE WHEN \(exhausted) THEN NULL ELSE \(d.parameter(6, as: d.timeType)) END, \
            last_status = CASE WHEN \(exhausted) THEN 'lease_expired' ELSE last_status END, \
            last_run = CASE WHEN \(exhausted) THEN last_run ELSE \(now) END, \
            attempts = CASE WHEN \(exhausted) THEN attempts ELSE attempts + 1 END, \
            updated_at = \(now) \
            WHERE id IN (SELECT id FROM picked\(tail)) RETURNING \(columns)
            """
        }
        claim = claimOf()
        claimByPrefix = claimOf(byPrefix: true)
        let (greatest, least) = d == .sqlite ? ("max", "min") : ("GREATEST", "LEAST")
        let free = "SELECT \(greatest)(0, \(least)($3, \(d.parameter(7, as: "integer")) - count(*))) AS n FROM tasks\(indexed("idx_tasks_agent_status")) "
            + "WHERE status = 'running' AND agent_name = \(agent) AND lease_until >= \(now)"
        // PostgreSQL locks only the rows it may claim (`free` first, as the candidates' limit). SQLite
        // binds by first appearance (`SQLiteConnection`), so $7 must come last: there the limit cuts
        // the picked rows instead (it locks nothing).
        claimWithinLimit = d == .postgresql
            ? claimOf(limit: "(SELECT n FROM free)", free: "free AS (\(free)), ")
            : claimOf(tail: " ORDER BY due_at LIMIT (\(free))")
        claimLock = d == .postgresql ? "SELECT pg_advisory_xact_lock(hashtextextended('claim_due_tasks ' || $1::text, 0))" : "SELECT $1"
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
        let values: [SQLValue] = [dialect.value(r.now), dialect.value(r.agentPrefix ?? r.agentName), .int(Int64(r.limit)), .int(Int64(r.defaultMaxAttempts)),
                                  .text(r.worker), dialect.value(r.leaseUntil)]
        return r.maxRunning.map { values + [.int(Int64($0))] } ?? values
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
