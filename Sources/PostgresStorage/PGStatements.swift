import SQLStore

/// Statements only PostgreSQL runs, next to the shared ones (`Statements`).
enum PGStatements {
    /// `insertLog` for many rows: each parameter an array of one column
    /// (`PGArrayLiteral`); the same casts, conflicts and triggers.
    static let insertLogs = """
        INSERT INTO logs (id, task_id, level, message, metadata, created_at) \
        SELECT id, task_id, level, message, metadata::jsonb, created_at::timestamptz \
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
        AS r(id, task_id, level, message, metadata, created_at) ON CONFLICT (id) DO NOTHING
        """

    /// A task and the version of its row (`xmin`: the transaction that last
    /// wrote it), for an update that applies only if nobody wrote in between.
    static let selectTaskVersion = "SELECT \(Statements.postgresql.taskColumns), xmin::text FROM tasks WHERE id = $1"

    /// `updateTask` if the row is still the version read ($21); else no row changes.
    static let updateTaskIfUnchanged = Statements.postgresql.updateTask + " AND xmin = $21::xid"
}
