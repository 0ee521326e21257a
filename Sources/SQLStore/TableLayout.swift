import ProxyCore
import StoragePorts

/// The stored tables as `storage-proxy copy`, `export` and `checksum` read
/// and write them, page by page in key order (`TableStore` on each backend).
extension Statements {
    /// The columns read, in the order `storedRow` decodes them.
    public func columns(_ table: StoredTable) -> String {
        switch table {
        case .tasks: return taskColumns
        case .logs: return logColumns
        case .metadata: return "key, \(dialect.readJSON("value"))"
        }
    }

    /// A page in key order: after key $1 when `afterKey`, then the row limit.
    /// (Parameters appear in number order: SQLite numbers `$n` by appearance.)
    public func keyPage(_ table: StoredTable, afterKey: Bool) -> String {
        let from = afterKey ? " WHERE \(table.keyColumn) > $1" : ""
        return "SELECT \(columns(table)) FROM \(table.rawValue)\(from) ORDER BY \(table.keyColumn) LIMIT $\(afterKey ? 2 : 1)"
    }

    /// The rows whose keys are in $1, a JSON array (one parameter, whatever the count).
    public func rowsWithKeys(_ table: StoredTable) -> String {
        let keys = dialect == .sqlite ? "SELECT value FROM json_each($1)" : "SELECT jsonb_array_elements_text($1::jsonb)"
        return "SELECT \(columns(table)) FROM \(table.rawValue) WHERE \(table.keyColumn) IN (\(keys))"
    }

    public func count(_ table: StoredTable) -> String { "SELECT count(*) FROM \(table.rawValue)" }

    /// One multi-row INSERT that leaves rows whose key is taken alone, and
    /// its parameters. Callers keep a statement under both databases'
    /// parameter limits (SQLite 32,766, PostgreSQL 65,535).
    public func insertIfAbsent(_ rows: ArraySlice<StoredRow>, into table: StoredTable) -> (sql: String, values: [SQLValue]) {
        let (names, types) = Self.insertColumns(table, dialect)
        var values: [SQLValue] = []
        values.reserveCapacity(rows.count * types.count)
        var tuples: [String] = []
        for row in rows {
            values += self.values(row)
            let first = values.count - types.count
            tuples.append("(" + types.enumerated().map { dialect.parameter(first + $0.offset + 1, as: $0.element) }
                .joined(separator: ", ") + ")")
        }
        return ("INSERT INTO \(table.rawValue) (\(names)) VALUES " + tuples.joined(separator: ", ") + " ON CONFLICT DO NOTHING", values)
    }

    /// Rows per `insertIfAbsent`: at 21 parameters a task, well under both limits.
    public static let rowsPerInsert = 1000

    /// A stored row's values in the order of `insertColumns`.
    public func values(_ row: StoredRow) -> [SQLValue] {
        switch row {
        case .task(let t): return insertValues(t)
        case .log(let l): return values(l)
        case .metadata(let key, let value): return saveMetadataValues(key: key, value: value)
        }
    }

    /// Each table's columns, and each column's type (for PostgreSQL's casts:
    /// a VALUES list of several rows does not take types from the table).
    public static func insertColumns(_ table: StoredTable, _ d: SQLDialect) -> (names: String, types: [String]) {
        switch table {
        case .tasks:
            return ("agent_name, task_prompt, schedule_type, schedule_value, repeat, repeat_interval, enabled, "
                    + "updated_at, last_run, next_run, status, extra, time_zone, attempts, max_attempts, lease_owner, lease_until, "
                    + "last_status, last_result, id, created_at",
                    ["text", "text", "text", "text", d.boolType, "text", d.boolType,
                     d.timeType, d.timeType, d.timeType, "text", d.jsonType, "text", "integer", "integer", "text", d.timeType,
                     "text", d.jsonType, "text", d.timeType])
        case .logs:
            return ("id, task_id, level, message, metadata, created_at", ["text", "text", "text", "text", d.jsonType, d.timeType])
        case .metadata:
            return ("key, value", ["text", d.jsonType])
        }
    }
}
