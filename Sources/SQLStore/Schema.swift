/// The schema, as versioned changes written once for both dialects. A
/// change, once released, is frozen: a new one gets the next version.
public enum Schema {
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public static func migrations(_ d: SQLDialect) -> [Migration] {
        [
            Migration(version: 1, name: "seed schema with updated_at and extra task fields", sql: """
                CREATE TABLE IF NOT EXISTS tasks (
                    id TEXT PRIMARY KEY,
                    agent_name TEXT NOT NULL,
                    task_prompt TEXT NOT NULL,
                    schedule_type TEXT NOT NULL,
                    schedule_value TEXT NOT NULL,
                    repeat \(d.boolType) NOT NULL DEFAULT \(d.falseLiteral),
                    repeat_interval TEXT,
                    enabled \(d.boolType) NOT NULL DEFAULT \(d.trueLiteral),
                    created_at \(d.timeType) NOT NULL,
                    updated_at \(d.timeType) NOT NULL,
                    last_run \(d.timeType),
                    next_run \(d.timeType),
                    status TEXT NOT NULL DEFAULT 'pending',
                    extra \(d.jsonType)
                );
                CREATE INDEX IF NOT EXISTS idx_tasks_agent ON tasks(agent_name);
                CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status);
                CREATE INDEX IF NOT EXISTS idx_tasks_enabled ON tasks(enabled);
                CREATE INDEX IF NOT EXISTS idx_tasks_created ON tasks(created_at, id);
                CREATE TABLE IF NOT EXISTS logs (
                    id TEXT PRIMARY KEY,
                    task_id TEXT NOT NULL,
                    level TEXT NOT NULL,
                    message TEXT NOT NULL,
                    metadata \(d.jsonType),
                    created_at \(d.timeType) NOT NULL,
                    FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE
                );
                CREATE INDEX IF NOT EXISTS idx_logs_task ON logs(task_id);
                CREATE INDEX IF NOT EXISTS idx_logs_level ON logs(level);
                CREATE INDEX IF NOT EXISTS idx_logs_created ON logs(created_at);
                CREATE TABLE IF NOT EXISTS metadata (
                    key TEXT PRIMARY KEY,
                    value \(d.jsonType) NOT NULL
                );
                """),
            Migration(version: 2, name: "claims, leases and computed schedules", sql: """
                ALTER TABLE tasks \(d.addColumn) time_zone TEXT;
                ALTER TABLE tasks \(d.addColumn) attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE tasks \(d.addColumn) max_attempts INTEGER;
                ALTER TABLE tasks \(d.addColumn) lease_owner TEXT;
                ALTER TABLE tasks \(d.addColumn) lease_until \(d.timeType);
                ALTER TABLE tasks \(d.addColumn) last_status TEXT;
                ALTER TABLE tasks \(d.addColumn) last_result \(d.jsonType);
                CREATE INDEX IF NOT EXISTS idx_tasks_due ON tasks(next_run)
                    WHERE enabled = \(d.trueLiteral) AND status = 'pending';
                CREATE INDEX IF NOT EXISTS idx_tasks_leased ON tasks(lease_until)
                    WHERE enabled = \(d.trueLiteral) AND status = 'running';
                """),
        ]
    }

    /// Where applied versions are recorded.
    public static func bookkeeping(_ d: SQLDialect) -> String {
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at \(d.timeType) NOT NULL
        )
        """
    }
}
