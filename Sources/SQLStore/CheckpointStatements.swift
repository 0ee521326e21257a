import ProxyCore

/// The SQL of LangGraph's checkpointer (`Schema.checkpoints`), per dialect.
/// Rows of many records arrive as one JSON parameter (an array of objects):
/// SQLite reads it with `json_each`, PostgreSQL with `jsonb_to_recordset`.
enum CheckpointStatements {
    static func saveBlobsSQLite() -> String {
        """
        INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, data) \
        SELECT $1, $2, json_extract(value, '$.channel'), json_extract(value, '$.version'), json_extract(value, '$.type'), \
        json_extract(value, '$.data') FROM json_each($3) WHERE true ON CONFLICT DO NOTHING
        """
    }

    /// The checkpoint, a new one or the same id again (its document and
    /// metadata replaced). PostgreSQL stores its blobs in the same statement
    /// (`$9`), so the put is one write of a group commit; SQLite runs
    /// `saveBlobsSQLite` first, in the same savepoint.
    static func save(_ d: SQLDialect) -> String {
        let upsert = """
            INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, run_id, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) \
            DO UPDATE SET checkpoint = excluded.checkpoint, metadata = excluded.metadata, run_id = excluded.run_id
            """
        guard d == .postgresql else { return upsert }
        return """
            WITH blobs AS (INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, data) \
            SELECT $1, $2, b.channel, b.version, b.type, b.data \
            FROM jsonb_to_recordset($9::jsonb) AS b(channel text, version text, type text, data text) ON CONFLICT DO NOTHING) \
            \(upsert)
            """
    }

    /// A task's writes: LangGraph's special channels (negative idx) overwrite, the others keep the first.
    static func saveWrites(_ d: SQLDialect) -> String {
        let rows = d == .sqlite
            ? "json_extract(value, '$.idx'), json_extract(value, '$.channel'), json_extract(value, '$.type'), json_extract(value, '$.data') FROM json_each($6) WHERE true"
            : "w.idx, w.channel, w.type, w.data FROM jsonb_to_recordset($6::jsonb) AS w(idx int, channel text, type text, data text)"
        return """
            INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, data) \
            SELECT $1, $2, $3, $4, $5, \(rows) \
            ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) \
            DO UPDATE SET channel = excluded.channel, type = excluded.type, data = excluded.data, task_path = excluded.task_path \
            WHERE excluded.idx < 0
            """
    }

    static let checkpointColumns = "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata"

    /// The checkpoints `page` selects (a query of `checkpointColumns`), each
    /// with its channel values and its pending writes, as rows of three
    /// kinds (column 0): 0 the checkpoint, 1 a channel value, 2 a pending
    /// write; columns 1-3 are its thread, namespace and id. One statement, so
    /// a read is one round trip and one snapshot. (SQLite's CROSS JOIN keeps
    /// the order written: each named version looked up by the whole key, not
    /// every blob of the thread against the list, which grew with the thread.)
    static func tuples(_ d: SQLDialect, page: String) -> String {
        let versions = d == .sqlite
            ? "FROM c CROSS JOIN json_each(c.checkpoint, '$.channel_versions') AS v CROSS JOIN checkpoint_blobs b ON b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key AND b.version = CAST(v.value AS TEXT)"
            : "FROM c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v JOIN checkpoint_blobs b ON b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key AND b.version = v.value"
        let (none, noIdx) = d == .sqlite ? ("NULL", "NULL") : ("NULL::text", "NULL::int")  // PostgreSQL types a UNION's NULLs from the first branch
        return """
            WITH c AS (\(page)) \
            SELECT 0, c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, \(d.readJSON("c.checkpoint")), \(d.readJSON("c.metadata")), \
            \(none), \(none), \(noIdx) FROM c \
            UNION ALL SELECT 1, c.thread_id, c.checkpoint_ns, c.checkpoint_id, b.channel, b.type, b.data, \(none), \(none), \(noIdx) \(versions) WHERE b.type <> 'empty' \
            UNION ALL SELECT 2, c.thread_id, c.checkpoint_ns, c.checkpoint_id, w.task_id, w.channel, w.type, w.data, w.task_path, w.idx \
            FROM c JOIN checkpoint_writes w ON w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id
            """
    }

    /// `column IN` the strings of a JSON array parameter.
    static func inList(_ d: SQLDialect, _ column: String, _ n: Int) -> String {
        d == .sqlite ? "\(column) IN (SELECT value FROM json_each($\(n)))" : "\(column) IN (SELECT jsonb_array_elements_text($\(n)::jsonb))"
    }

    /// The metadata holds every key of the JSON object parameter `n` with an
    /// equal value (PostgreSQL: `@>`, containment).
    static func metadataMatches(_ d: SQLDialect, _ n: Int) -> String {
        d == .sqlite
            ? "NOT EXISTS (SELECT 1 FROM json_each($\(n)) f WHERE json_extract(checkpoints.metadata, '$.' || json_quote(f.key)) IS NOT f.value)"
            : "metadata @> $\(n)::jsonb"
    }

    /// A thread whose graph uses LangGraph's `DeltaChannel` (its metadata counts updates since a snapshot).
    static func usesDeltaChannels(_ d: SQLDialect) -> String {
        d == .sqlite
            ? "(json_type(metadata, '$.counters_since_delta_snapshot') IS NOT NULL OR json_type(metadata, '$.delta_writes_versioned') IS NOT NULL)"
            : "(metadata ? 'counters_since_delta_snapshot' OR metadata ? 'delta_writes_versioned')"
    }

    /// The blobs of the threads in the JSON array `$1` that no checkpoint of
    /// theirs names any more: what the kept checkpoints name is read once
    /// (hashed), not searched again for every blob.
    static func deleteUnreferencedBlobs(_ d: SQLDialect) -> String {
        let named = d == .sqlite
            ? "SELECT c.thread_id, c.checkpoint_ns, v.key, CAST(v.value AS TEXT) FROM checkpoints c CROSS JOIN json_each(c.checkpoint, '$.channel_versions') AS v"
            : "SELECT c.thread_id, c.checkpoint_ns, v.key, v.value FROM checkpoints c CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v"
        return """
            DELETE FROM checkpoint_blobs WHERE \(inList(d, "thread_id", 1)) AND (thread_id, checkpoint_ns, channel, version) NOT IN \
            (\(named) WHERE \(inList(d, "c.thread_id", 1)))
            """
    }
}
