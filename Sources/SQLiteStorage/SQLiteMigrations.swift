import ProxyCore

/// Versioned schema changes, applied in order inside one write transaction
/// each and recorded in `schema_migrations`; running them again is a no-op.
enum SQLiteMigrations {
    static let all: [(version: Int, name: String, sql: String)] = [
        (1, "seed schema with updated_at and extra task fields", """
            CREATE TABLE IF NOT EXISTS tasks (
                id TEXT PRIMARY KEY,
                agent_name TEXT NOT NULL,
                task_prompt TEXT NOT NULL,
                schedule_type TEXT NOT NULL,
                schedule_value TEXT NOT NULL,
                repeat INTEGER NOT NULL DEFAULT 0,
                repeat_interval TEXT,
                enabled INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                last_run TEXT,
                next_run TEXT,
                status TEXT NOT NULL DEFAULT 'pending',
                extra TEXT
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
                metadata TEXT,
                created_at TEXT NOT NULL,
                FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE
            );
            CREATE INDEX IF NOT EXISTS idx_logs_task ON logs(task_id);
            CREATE INDEX IF NOT EXISTS idx_logs_level ON logs(level);
            CREATE INDEX IF NOT EXISTS idx_logs_created ON logs(created_at);
            CREATE TABLE IF NOT EXISTS metadata (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );
            """),
    ]

    /// Applies what is missing; returns the versions applied now.
    @discardableResult
    static func apply(on db: SQLiteConnection) throws(ProxyError) -> [Int] {
        try db.executeScript("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )
            """)
        var applied: [Int] = []
        for m in all {
            try db.execute("BEGIN IMMEDIATE")
            do {
                var present = false
                try db.query("SELECT 1 FROM schema_migrations WHERE version = ?", [.int(Int64(m.version))]) { _ in present = true }
                if !present {
                    try db.executeScript(m.sql)
                    try db.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                                   [.int(Int64(m.version)), .text(m.name), .text(Timestamp.now().rfc3339)])
                    applied.append(m.version)
                }
                try db.execute("COMMIT")
            } catch {
                _ = try? db.execute("ROLLBACK")
                throw error
            }
        }
        return applied
    }

    static func currentVersion(on db: SQLiteConnection) throws(ProxyError) -> Int {
        var v = 0
        try db.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") { row in v = Int(row.int(0)) }
        return v
    }
}
