import ProxyCore

/// Versioned schema changes for PostgreSQL, the same logical schema as
/// SQLite in native types. They run before the proxy serves (start-up and
/// `storage-proxy migrate`), over a plain blocking connection, under an
/// advisory lock so that proxies starting together apply each change once.
public enum PGMigrations {
    static let lockKey = "727274001"  // pg_advisory_lock key: "storage-proxy migrations"

    static let all: [(version: Int, name: String, sql: String)] = [
        (1, "seed schema with updated_at and extra task fields", """
            CREATE TABLE IF NOT EXISTS tasks (
                id TEXT PRIMARY KEY,
                agent_name TEXT NOT NULL,
                task_prompt TEXT NOT NULL,
                schedule_type TEXT NOT NULL,
                schedule_value TEXT NOT NULL,
                repeat BOOLEAN NOT NULL DEFAULT false,
                repeat_interval TEXT,
                enabled BOOLEAN NOT NULL DEFAULT true,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                last_run TIMESTAMPTZ,
                next_run TIMESTAMPTZ,
                status TEXT NOT NULL DEFAULT 'pending',
                extra JSONB
            );
            CREATE INDEX IF NOT EXISTS idx_tasks_agent ON tasks(agent_name);
            CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status);
            CREATE INDEX IF NOT EXISTS idx_tasks_enabled ON tasks(enabled);
            CREATE INDEX IF NOT EXISTS idx_tasks_created ON tasks(created_at, id);
            CREATE TABLE IF NOT EXISTS logs (
                id TEXT PRIMARY KEY,
                task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                level TEXT NOT NULL,
                message TEXT NOT NULL,
                metadata JSONB,
                created_at TIMESTAMPTZ NOT NULL
            );
            CREATE INDEX IF NOT EXISTS idx_logs_task ON logs(task_id);
            CREATE INDEX IF NOT EXISTS idx_logs_level ON logs(level);
            CREATE INDEX IF NOT EXISTS idx_logs_created ON logs(created_at);
            CREATE TABLE IF NOT EXISTS metadata (
                key TEXT PRIMARY KEY,
                value JSONB NOT NULL
            );
            """),
    ]

    /// Where applied versions are recorded.
    static let bookkeeping = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """

    /// Applies what is missing; returns (versions applied now, current version).
    public static func apply(conninfo: String) throws(ProxyError) -> (applied: [Int], version: Int) {
        let db = try BlockingConnection(conninfo)
        try db.exec("SELECT pg_advisory_lock(\(lockKey))")
        defer { _ = try? db.exec("SELECT pg_advisory_unlock(\(lockKey))") }
        try db.exec(bookkeeping)
        var applied: [Int] = []
        for m in all {
            let present = try db.exec("SELECT 1 FROM schema_migrations WHERE version = \(m.version)")
            if !present.isEmpty { continue }
            try db.exec("BEGIN")
            do {
                try db.exec(m.sql)
                try db.exec("INSERT INTO schema_migrations(version, name) VALUES (\(m.version), '\(m.name)')")
                try db.exec("COMMIT")
            } catch {
                _ = try? db.exec("ROLLBACK")
                throw error
            }
            applied.append(m.version)
        }
        let version = Int((try db.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").first?.first ?? nil) ?? "0") ?? 0
        return (applied, version)
    }
}
