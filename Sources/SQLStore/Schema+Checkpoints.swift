extension Schema {
    /// LangGraph's checkpointer (`checkpoint.*`), laid out as its PostgreSQL
    /// saver lays it out, so a long thread does not rewrite unchanged channels:
    ///
    /// - `checkpoints`: one row per (thread, namespace, checkpoint id), the
    ///   checkpoint document without its channel values (their versions are
    ///   in `channel_versions`), its metadata, its parent, and the metadata's
    ///   `run_id` copied out for `delete_for_runs`.
    /// - `checkpoint_blobs`: a channel's value once per (thread, namespace,
    ///   channel, version): the serializer's type name and its bytes in
    ///   base64 (what the client sends; the proxy never decodes it). A
    ///   checkpoint's values are the blobs its `channel_versions` name.
    /// - `checkpoint_writes`: pending writes by (thread, namespace,
    ///   checkpoint, task, idx); LangGraph's special channels have negative
    ///   idx and overwrite, the others keep the first write.
    ///
    /// Checkpoint ids sort by time (uuid6): "newest first" is by id, byte
    /// order on both (PostgreSQL's key columns are `COLLATE "C"`).
    /// PostgreSQL's triggers NOTIFY live events for them as for tasks.
    static func checkpoints(_ d: SQLDialect) -> String {
        let key = d == .sqlite ? "TEXT" : "TEXT COLLATE \"C\""
        return """
            CREATE TABLE IF NOT EXISTS checkpoints (
                thread_id \(key) NOT NULL,
                checkpoint_ns \(key) NOT NULL DEFAULT '',
                checkpoint_id \(key) NOT NULL,
                parent_checkpoint_id TEXT,
                checkpoint \(d.jsonType) NOT NULL,
                metadata \(d.jsonType) NOT NULL,
                run_id TEXT,
                created_at \(d.timeType) NOT NULL,
                PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
            );
            CREATE INDEX IF NOT EXISTS idx_checkpoints_run ON checkpoints(run_id) WHERE run_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS idx_checkpoints_newest ON checkpoints(checkpoint_id);
            CREATE TABLE IF NOT EXISTS checkpoint_blobs (
                thread_id \(key) NOT NULL,
                checkpoint_ns \(key) NOT NULL DEFAULT '',
                channel \(key) NOT NULL,
                version \(key) NOT NULL,
                type TEXT NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
            );
            CREATE TABLE IF NOT EXISTS checkpoint_writes (
                thread_id \(key) NOT NULL,
                checkpoint_ns \(key) NOT NULL DEFAULT '',
                checkpoint_id \(key) NOT NULL,
                task_id \(key) NOT NULL,
                idx INTEGER NOT NULL,
                channel TEXT NOT NULL,
                type TEXT NOT NULL,
                data TEXT NOT NULL,
                task_path TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
            );
            \(d == .postgresql ? postgresCheckpointTriggers : "")
            """
    }

    /// Live events of checkpoints: once per statement (a put is one
    /// statement; a delete may be many rows), only while some proxy listens.
    /// A new checkpoint: `created` with its ids, parent and metadata (cut to
    /// the ids when the metadata would pass NOTIFY's limit; a put of an id
    /// again is one too, a row whose document and metadata stayed, as
    /// `prune` leaves the ones it keeps, is not); pending writes:
    /// `updated` once per checkpoint and task; a delete: `deleted` once per
    /// thread (and namespace).
    static let postgresCheckpointTriggers = """
        CREATE OR REPLACE FUNCTION storage_proxy_checkpoint_created(thread text, ns text, id text, parent text, metadata jsonb)
        RETURNS void LANGUAGE plpgsql AS $fn$
        DECLARE
            payload text := json_build_array('checkpoints', 'created', thread, ns, id, parent, metadata::text)::text;
        BEGIN
            IF octet_length(payload) > 7900 THEN
                payload := json_build_array('checkpoints', 'created', thread, ns, id, parent)::text;
            END IF;
            PERFORM pg_notify('storage_proxy_events', payload);
        END
        $fn$;
        CREATE OR REPLACE FUNCTION storage_proxy_checkpoints_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            r record;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM event_listeners WHERE until > now()) THEN RETURN NULL; END IF;
            IF TG_OP = 'DELETE' THEN
                FOR r IN SELECT DISTINCT thread_id, checkpoint_ns FROM old_rows ORDER BY 1, 2 LOOP
                    PERFORM pg_notify('storage_proxy_events', json_build_array('checkpoints', 'deleted', r.thread_id, r.checkpoint_ns)::text);
                END LOOP;
                RETURN NULL;
            END IF;
            IF TG_OP = 'UPDATE' THEN
                -- Only rows whose document or metadata changed: a put of the same id again, not a prune's kept ones.
                FOR r IN SELECT n.* FROM new_rows n JOIN old_rows o USING (thread_id, checkpoint_ns, checkpoint_id)
                         WHERE o.checkpoint <> n.checkpoint OR o.metadata <> n.metadata LOOP
                    PERFORM storage_proxy_checkpoint_created(r.thread_id, r.checkpoint_ns, r.checkpoint_id, r.parent_checkpoint_id, r.metadata);
                END LOOP;
                RETURN NULL;
            END IF;
            FOR r IN SELECT * FROM new_rows LOOP
                PERFORM storage_proxy_checkpoint_created(r.thread_id, r.checkpoint_ns, r.checkpoint_id, r.parent_checkpoint_id, r.metadata);
            END LOOP;
            RETURN NULL;
        END
        $fn$;
        CREATE OR REPLACE FUNCTION storage_proxy_checkpoint_writes_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            r record;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM event_listeners WHERE until > now()) THEN RETURN NULL; END IF;
            FOR r IN SELECT DISTINCT thread_id, checkpoint_ns, checkpoint_id, task_id FROM new_rows ORDER BY 1, 2, 3, 4 LOOP
                PERFORM pg_notify('storage_proxy_events', json_build_array('checkpoints', 'updated', r.thread_id, r.checkpoint_ns,
                    r.checkpoint_id, NULL, NULL, r.task_id)::text);
            END LOOP;
            RETURN NULL;
        END
        $fn$;
        \(statementTrigger("checkpoints_insert_events", on: "checkpoints", after: "INSERT", "NEW", "storage_proxy_checkpoints_event"))
        DROP TRIGGER IF EXISTS checkpoints_update_events ON checkpoints;
        CREATE TRIGGER checkpoints_update_events AFTER UPDATE ON checkpoints REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION storage_proxy_checkpoints_event();
        \(statementTrigger("checkpoints_delete_events", on: "checkpoints", after: "DELETE", "OLD", "storage_proxy_checkpoints_event"))
        \(statementTrigger("checkpoint_writes_insert_events", on: "checkpoint_writes", after: "INSERT", "NEW", "storage_proxy_checkpoint_writes_event"))
        \(statementTrigger("checkpoint_writes_update_events", on: "checkpoint_writes", after: "UPDATE", "NEW", "storage_proxy_checkpoint_writes_event"))
        """

    /// A trigger once per statement with its rows (`new_rows` or `old_rows`):
    /// PostgreSQL allows a transition table on a trigger of one event only.
    private static func statementTrigger(_ name: String, on table: String, after event: String, _ rows: String, _ function: String) -> String {
        """
        DROP TRIGGER IF EXISTS \(name) ON \(table);
        CREATE TRIGGER \(name) AFTER \(event) ON \(table) REFERENCING \(rows) TABLE AS \(rows.lowercased())_rows
            FOR EACH STATEMENT EXECUTE FUNCTION \(function)();
        """
    }
}
