import StorageCore

/// `export --format sql`: the stored tables as one SQL script for `psql -f`,
/// the seed's `dump.sql`. It creates the schema as `storage-proxy migrate`
/// would (so a proxy serves the database as it is), then inserts every row,
/// all in one transaction: a load that fails leaves the database as it was.
/// Rows whose key is already present are left alone, so loading twice is safe.
public enum PGDump {
    @discardableResult
    public static func write(_ store: TableStore, source: String, batchSize: Int = 1000,
                             into out: inout ExportWriter) throws(ProxyError) -> [StoredTable: Int] {
        out.append("""
            -- storage-proxy export of \(source), taken \(Timestamp.now().rfc3339)
            -- Load into a PostgreSQL database with: psql -d DATABASE -f dump.sql
            \\set ON_ERROR_STOP on
            SET client_encoding = 'UTF8';
            SET client_min_messages = warning;
            SET standard_conforming_strings = on;
            BEGIN;
            \(PGMigrations.bookkeeping);

            """)
        for m in PGMigrations.all {
            out.append("\(m.sql)\nINSERT INTO schema_migrations (version, name) VALUES (\(m.version), \(literal(m.name))) ON CONFLICT (version) DO NOTHING;\n")
        }
        var counts: [StoredTable: Int] = [:]
        for table in StoredTable.allCases {
            try store.scan(table, batchSize: batchSize) { (batch) throws(ProxyError) in
                out.append("\nINSERT INTO \(table.rawValue) (\(columns(table))) VALUES\n")
                for (i, row) in batch.enumerated() {
                    out.append((i == 0 ? "  (" : ", (") + values(row).joined(separator: ", ") + ")\n")
                }
                out.append("ON CONFLICT DO NOTHING;\n")
                counts[table, default: 0] += batch.count
            }
        }
        out.append("\nCOMMIT;\n")
        out.flush()
        return counts
    }

    private static func columns(_ table: StoredTable) -> String {
        switch table {
        case .tasks:
            return "id, agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, "
                + "created_at, updated_at, last_run, next_run, status, extra"
        case .logs: return "id, task_id, level, message, metadata, created_at"
        case .metadata: return "key, value"
        }
    }

    private static func values(_ row: StoredRow) -> [String] {
        switch row {
        case .task(let t):
            return [literal(t.id), literal(t.agentName), literal(t.taskPrompt), literal(t.scheduleType),
                    literal(t.scheduleValue), t.repeats ? "TRUE" : "FALSE", literal(t.repeatInterval),
                    t.enabled ? "TRUE" : "FALSE", time(t.createdAt), time(t.updatedAt), time(t.lastRun),
                    time(t.nextRun), literal(t.status), t.extra.isEmpty ? "NULL" : json(.object(t.extra))]
        case .log(let l):
            return [literal(l.id), literal(l.taskID), literal(l.level.rawValue), literal(l.message),
                    l.metadata.map { json(.object($0)) } ?? "NULL", time(l.createdAt)]
        case .metadata(let key, let value):
            return [literal(key), json(value)]
        }
    }

    /// A string constant under standard_conforming_strings: only `'` is special.
    static func literal(_ s: String?) -> String {
        guard let s else { return "NULL" }
        return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }

    private static func time(_ t: Timestamp?) -> String { t.map { literal($0.rfc3339) + "::timestamptz" } ?? "NULL" }
    private static func json(_ v: JSONValue) -> String { literal(v.jsonText) + "::jsonb" }
}
