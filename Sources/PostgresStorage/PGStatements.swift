import SQLStore

/// Statements only PostgreSQL runs, next to the shared ones (`Statements`).
enum PGStatements {
    /// A task and the version of its row (`xmin`: the transaction that last
    /// wrote it), for an update that applies only if nobody wrote in between.
    static let selectTaskVersion = "SELECT \(Statements.postgresql.taskColumns), xmin::text FROM tasks WHERE id = $1"

    /// `updateTask` if the row is still the version read ($21); else no row changes.
    static let updateTaskIfUnchanged = Statements.postgresql.updateTask + " AND xmin = $21::xid"
}
