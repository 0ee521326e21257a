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
            Migration(version: 3, name: "live events", sql: """
                CREATE TABLE IF NOT EXISTS event_listeners (
                    proxy TEXT PRIMARY KEY,
                    until \(d.timeType) NOT NULL
                );
                \(d == .postgresql ? postgresEventTriggers : "")
                """),
            Migration(version: 4, name: "vector store", sql: vectorStore(d)),
            // SQLite has no triggers for events (its proxy sees every write itself): nothing to change there.
            Migration(version: 5, name: "one log-event trigger call per statement",
                      sql: d == .postgresql ? postgresStatementLogTrigger : "SELECT 1"),
            Migration(version: 6, name: "vector removals kept behind a floor", sql: """
                ALTER TABLE vector_collections \(d.addColumn) removals_floor BIGINT NOT NULL DEFAULT 0;
                """),
            Migration(version: 7, name: "LangGraph checkpoints", sql: checkpoints(d)),
            Migration(version: 8, name: "LangGraph long-term store", sql: store(d)),
            Migration(version: 9, name: "keyword search in the proxies' memory", sql: keywordIndexDropped(d)),
            // An agent's tasks in one status, in `list_tasks` order: a page of them (the seed's
            // `tasks:{agent}:{status}`), and the running ones every claim with a `max_running` counts,
            // without reading the agent's other tasks (idx_tasks_agent) or the status's other agents'.
            Migration(version: 10, name: "an agent's tasks by status", sql: """
                CREATE INDEX IF NOT EXISTS idx_tasks_agent_status ON tasks(agent_name, status, created_at, id);
                """),
        ]
    }

    /// PostgreSQL's live events: every committed change to a task or a log
    /// is a NOTIFY on `storage_proxy_events`, so every proxy's listener gets
    /// it in commit order. Only while some proxy listens (a live row in
    /// `event_listeners`): NOTIFY serializes commits, which nobody should
    /// pay for unheard. The payload is a JSON array: topic, operation, then
    /// the row's columns as the row codec reads them (`taskColumns`;
    /// `logColumns` after the log's task's agent). A payload that would pass
    /// NOTIFY's 8,000-byte limit is cut to topic, operation, id and agent;
    /// the listener reads the row.
    static let postgresEventTriggers = """
        CREATE OR REPLACE FUNCTION storage_proxy_task_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            r tasks%ROWTYPE;
            op text := CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END;
            payload text;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM event_listeners WHERE until > now()) THEN RETURN NULL; END IF;
            IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
            payload := json_build_array('tasks', op, r.id, r.agent_name, r.task_prompt, r.schedule_type, r.schedule_value,
                r.repeat, r.repeat_interval, r.enabled,
                (extract(epoch from r.created_at) * 1000000)::bigint, (extract(epoch from r.updated_at) * 1000000)::bigint,
                (extract(epoch from r.last_run) * 1000000)::bigint, (extract(epoch from r.next_run) * 1000000)::bigint,
                r.status, r.extra::text, r.time_zone, r.attempts, r.max_attempts, r.lease_owner,
                (extract(epoch from r.lease_until) * 1000000)::bigint, r.last_status, r.last_result::text)::text;
            IF octet_length(payload) > 7900 THEN
                payload := json_build_array('tasks', op, r.id, r.agent_name)::text;
            END IF;
            PERFORM pg_notify('storage_proxy_events', payload);
            RETURN NULL;
        END
        $fn$;
        CREATE OR REPLACE FUNCTION storage_proxy_log_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            agent text;
            payload text;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM event_listeners WHERE until > now()) THEN RETURN NULL; END IF;
            SELECT agent_name INTO agent FROM tasks WHERE id = NEW.task_id;
            payload := json_build_array('logs', 'created', agent, NEW.id, NEW.task_id, NEW.level, NEW.message, NEW.metadata::text,
                (extract(epoch from NEW.created_at) * 1000000)::bigint)::text;
            IF octet_length(payload) > 7900 THEN
                payload := json_build_array('logs', 'created', agent, NEW.id)::text;
            END IF;
            PERFORM pg_notify('storage_proxy_events', payload);
            RETURN NULL;
        END
        $fn$;
        DROP TRIGGER IF EXISTS tasks_events ON tasks;
        CREATE TRIGGER tasks_events AFTER INSERT OR UPDATE OR DELETE ON tasks
            FOR EACH ROW EXECUTE FUNCTION storage_proxy_task_event();
        DROP TRIGGER IF EXISTS logs_events ON logs;
        CREATE TRIGGER logs_events AFTER INSERT ON logs
            FOR EACH ROW EXECUTE FUNCTION storage_proxy_log_event();
        """

    /// The log trigger of version 3 ran once per row, its check for listeners
    /// included (about half of a row's cost here). Group commit inserts many
    /// logs with one statement (`PGStatements.insertLogs`): once per
    /// statement, the rows from its transition table, in the order inserted,
    /// each NOTIFY as before.
    static let postgresStatementLogTrigger = """
        CREATE OR REPLACE FUNCTION storage_proxy_logs_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            r record;
            agent text;
            payload text;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM event_listeners WHERE until > now()) THEN RETURN NULL; END IF;
            FOR r IN SELECT * FROM new_logs LOOP
                SELECT agent_name INTO agent FROM tasks WHERE id = r.task_id;
                payload := json_build_array('logs', 'created', agent, r.id, r.task_id, r.level, r.message, r.metadata::text,
                    (extract(epoch from r.created_at) * 1000000)::bigint)::text;
                IF octet_length(payload) > 7900 THEN
                    payload := json_build_array('logs', 'created', agent, r.id)::text;
                END IF;
                PERFORM pg_notify('storage_proxy_events', payload);
            END LOOP;
            RETURN NULL;
        END
        $fn$;
        DROP TRIGGER IF EXISTS logs_events ON logs;
        CREATE TRIGGER logs_events AFTER INSERT ON logs REFERENCING NEW TABLE AS new_logs
            FOR EACH STATEMENT EXECUTE FUNCTION storage_proxy_logs_event();
        DROP FUNCTION IF EXISTS storage_proxy_log_event();
        """

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
