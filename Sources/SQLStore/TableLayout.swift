import ProxyCore
import StoragePorts

/// The stored tables as `storage-proxy copy`, `export` and `checksum` read
/// and write them, page by page in key order (`TableStore` on each backend).
extension Statements {
    /// The columns read, in the order `storedRow` decodes them.
    public func columns(_ table: StoredTable) -> String {
        if let plain = table.plainColumns {
            return plain.map { c in c.kind == .json ? dialect.readJSON(c.name) : c.kind == .time ? dialect.readTime(c.name) : c.name }
                .joined(separator: ", ")
        }
        switch table {
        case .tasks: return taskColumns
        case .logs: return logColumns
        case .metadata: return "key, \(dialect.readJSON("value"))"
        case .collections: return "name, dimension, metric, \(dialect.readTime("created_at"))"
        case .documents:
            return "collection, id, document, \(dialect.readJSON("metadata")), embedding, embedded_by, "
                + "\(dialect.readTime("created_at")), \(dialect.readTime("updated_at"))"
        case .checkpoints, .checkpointBlobs, .checkpointWrites, .storeItems, .storeVectors:
            preconditionFailure("named above, column for column")
        }
    }

    /// A page in key order: after the key in $1 (…$n, one per key column) when
    /// `afterKey`, then the row limit. (Parameters appear in number order:
    /// SQLite numbers `$n` by appearance.) A key of several columns compares
    /// as a row value, in the same order as the ORDER BY.
    public func keyPage(_ table: StoredTable, afterKey: Bool) -> String {
        let key = table.keyColumns
        let after = (1...key.count).map { "$\($0)" }
        let from = !afterKey ? "" : key.count == 1
            ? " WHERE \(key[0]) > \(after[0])"
            : " WHERE (\(key.joined(separator: ", "))) > (\(after.joined(separator: ", ")))"
        let limit = afterKey ? key.count + 1 : 1
        return "SELECT \(columns(table)) FROM \(table.rawValue)\(from) ORDER BY \(key.joined(separator: ", ")) LIMIT $\(limit)"
    }

    /// `keyPage`'s values for the key after which it starts (`StoredRow.key`).
    public func keyValues(_ table: StoredTable, after key: String) throws(ProxyError) -> [SQLValue] {
        guard table.keyColumns.count > 1 else { return [.text(key)] }
        guard let parts = StoredKey.split(key, count: table.keyColumns.count) else {
            throw .invalidParams(field: "key", reason: "\(key) is not a key of \(table.rawValue)")
        }
        return parts.map { .text($0) }
    }

    /// The rows whose keys are in $1, a JSON array (one parameter, whatever the
    /// count): of strings, or of arrays for a key of several columns.
    public func rowsWithKeys(_ table: StoredTable) -> String {
        let key = table.keyColumns
        let keys: String
        if key.count == 1 {
            keys = dialect == .sqlite ? "SELECT value FROM json_each($1)" : "SELECT jsonb_array_elements_text($1::jsonb)"
        } else if dialect == .sqlite {
            keys = "SELECT " + key.indices.map { "json_extract(value, '$[\($0)]')" }.joined(separator: ", ") + " FROM json_each($1)"
        } else {
            keys = "SELECT " + key.indices.map { "k->>\($0)" }.joined(separator: ", ") + " FROM jsonb_array_elements($1::jsonb) AS k"
        }
        let column = key.count == 1 ? key[0] : "(\(key.joined(separator: ", ")))"
        return "SELECT \(columns(table)) FROM \(table.rawValue) WHERE \(column) IN (\(keys))"
    }

    /// `rowsWithKeys`' value for these keys (`StoredRow.key`).
    public func keysValue(_ table: StoredTable, _ keys: [String]) -> SQLValue {
        let n = table.keyColumns.count
        let items: [JSONValue] = keys.map { key in
            n == 1 ? .string(key) : .array((StoredKey.split(key, count: n) ?? []).map { .string($0) })
        }
        return .text(JSONValue.array(items).jsonText)
    }

    public func count(_ table: StoredTable) -> String { "SELECT count(*) FROM \(table.rawValue)" }

    /// One multi-row INSERT that leaves rows whose key is taken alone, and
    /// its parameters. Callers keep a statement under both databases'
    /// parameter limits (SQLite 32,766, PostgreSQL 65,535).
    public func insertIfAbsent(_ rows: ArraySlice<StoredRow>, into table: StoredTable) -> (sql: String, values: [SQLValue]) {
        let (names, types) = Self.insertColumns(table, dialect)
        let computed = Self.computedColumn(table)
        var values: [SQLValue] = []
        values.reserveCapacity(rows.count * types.count)
        var tuples: [String] = []
        for row in rows {
            values += self.values(row)
            let first = values.count - types.count
            let carried = types.enumerated().map { dialect.parameter(first + $0.offset + 1, as: $0.element) }
            tuples.append("(" + (carried + (computed.map { [$0.sql(carried[0])] } ?? [])).joined(separator: ", ") + ")")
        }
        let columns = names + (computed.map { ", \($0.name)" } ?? "")
        return ("INSERT INTO \(table.rawValue) (\(columns)) VALUES " + tuples.joined(separator: ", ") + " ON CONFLICT DO NOTHING", values)
    }

    /// Rows per `insertIfAbsent`: at 21 parameters a task, well under both limits.
    public static let rowsPerInsert = 1000

    /// A stored row's values in the order of `insertColumns`. A collection
    /// gets a new incarnation and version 0 in its target.
    public func values(_ row: StoredRow) -> [SQLValue] {
        switch row {
        case .task(let t): return insertValues(t)
        case .log(let l): return values(l)
        case .metadata(let key, let value): return saveMetadataValues(key: key, value: value)
        case .collection(let c):
            return [.text(c.name), c.dimension.map { .int(Int64($0)) } ?? .null, .text(c.metric), dialect.value(c.createdAt),
                    .text(Identifier.make()), .int(0)]
        case .document(let d):
            return [.text(d.collection), .text(d.id), .text(d.text), dialect.value(json: d.metadata), d.embedding.map { .blob($0) } ?? .null,
                    dialect.value(d.embeddedBy), dialect.value(d.createdAt), dialect.value(d.updatedAt)]
        case .plain(let table, let values):
            return zip(table.plainColumns ?? [], values).map { column, value -> SQLValue in
                switch (column.kind, value) {
                case (_, .null): return .null
                case (.json, _): return .text(value.jsonText)
                case (.int, _): return value.intValue.map { .int($0) } ?? .null
                case (.time, _): return dialect.value(value.stringValue.flatMap { Timestamp(rfc3339: $0) })
                case (.text, _): return value.stringValue.map { .text($0) } ?? .null
                case (.real, _): return value.doubleValue.map { .text(String($0)) } ?? .null
                case (.bytes, _): return value.stringValue.flatMap { Base64.decode($0) }.map { .blob($0) } ?? .null
                }
            }
        }
    }

    /// Each table's columns, and each column's type (for PostgreSQL's casts:
    /// a VALUES list of several rows does not take types from the table).
    public static func insertColumns(_ table: StoredTable, _ d: SQLDialect) -> (names: String, types: [String]) {
        if let plain = table.plainColumns {
            return (plain.map(\.name).joined(separator: ", "), plain.map { c in
                switch c.kind {
                case .text: return "text"
                case .json: return d.jsonType
                case .int: return "bigint"
                case .real: return d == .sqlite ? "real" : "double precision"
                case .time: return d.timeType
                case .bytes: return d == .sqlite ? "blob" : "bytea"
                }
            })
        }
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
        case .collections:
            return ("name, dimension, metric, created_at, incarnation, version", ["text", "integer", "text", d.timeType, "text", "bigint"])
        case .documents:
            return ("collection, id, document, metadata, embedding, embedded_by, created_at, updated_at",
                    ["text", "text", "text", d.jsonType, d == .sqlite ? "blob" : "bytea", "text", d.timeType, d.timeType])
        case .checkpoints, .checkpointBlobs, .checkpointWrites, .storeItems, .storeVectors:
            preconditionFailure("named above, column for column")
        }
    }

    /// A column the target computes instead of taking it from the source: a
    /// document is stamped with its collection's version in the target, which
    /// the same transaction bumped first (`bumpCollections`), so the target's
    /// proxies read it as a change. `sql` is given the SQL of the row's first
    /// column (its collection: a parameter, or a literal in a dump).
    public static func computedColumn(_ table: StoredTable) -> (name: String, sql: (String) -> String)? {
        guard table == .documents else { return nil }
        return ("version", { collection in "(SELECT version FROM vector_collections WHERE name = \(collection))" })
    }

    /// Before documents are inserted, in the same transaction: their
    /// collections' versions are bumped (which locks their rows, as every
    /// write to a collection does). $1: a JSON array of collection names.
    public var bumpCollections: String {
        let names = dialect == .sqlite ? "SELECT value FROM json_each($1)" : "SELECT jsonb_array_elements_text($1::jsonb)"
        return "UPDATE vector_collections SET version = version + 1 WHERE name IN (\(names)) RETURNING name, dimension"
    }

    /// $1 dimension, $2 name: a collection merged into that had no embedding yet.
    public var setCollectionDimension: String {
        "UPDATE vector_collections SET dimension = \(dialect.parameter(1, as: "integer")) WHERE name = $2 AND dimension IS NULL"
    }
}
