import ProxyCore
import StoragePorts

/// A PostgreSQL database as a `TableStore`: the source or target of
/// `storage-proxy copy`, the source of `export`. One blocking connection.
public final class PGTableStore: TableStore {
    private let db: BlockingConnection

    /// Opens a database to read (it must hold the schema), or to write
    /// (migrated first, as `storage-proxy migrate` would).
    public init(conninfo: String, writable: Bool) throws(ProxyError) {
        if writable { _ = try PGMigrations.apply(conninfo: conninfo) }
        db = try BlockingConnection(conninfo)
        if writable {
            try db.exec(CopyMarkTable.create)
        } else if try db.query("SELECT to_regclass('schema_migrations') IS NOT NULL").string(0, 0) != "t" {
            throw .notFound("the database holds no storage-proxy schema (no schema_migrations)")
        }
    }

    public func beginSnapshot() throws(ProxyError) { try db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") }

    public func endSnapshot() { _ = try? db.exec("COMMIT") }

    public func count(_ table: StoredTable) throws(ProxyError) -> Int {
        Int(try db.query("SELECT count(*) FROM \(table.rawValue)").string(0, 0) ?? "0") ?? 0
    }

    public func rows(_ table: StoredTable, after key: String?, limit: Int) throws(ProxyError) -> [StoredRow] {
        let from = key == nil ? "" : "WHERE \(table.keyColumn) > $2"
        let result = try db.query("SELECT \(Self.columns(table)) FROM \(table.rawValue) \(from) ORDER BY \(table.keyColumn) LIMIT $1",
                                  [String(limit)] + (key.map { [$0] } ?? []))
        return Self.rows(result, table)
    }

    public func rows(_ table: StoredTable, keys: [String]) throws(ProxyError) -> [StoredRow] {
        let list = JSONValue.array(keys.map { .string($0) }).jsonText  // one parameter, whatever the count
        let result = try db.query("SELECT \(Self.columns(table)) FROM \(table.rawValue) WHERE \(table.keyColumn) IN (SELECT jsonb_array_elements_text($1::jsonb))", [list])
        return Self.rows(result, table)
    }

    public func insert(_ rows: [StoredRow], mark: CopyMark) throws(ProxyError) -> Int {
        try db.exec("BEGIN")
        do {
            var inserted = 0
            let perStatement = 1000  // 14 parameters a task: well under PostgreSQL's 65535
            for start in stride(from: 0, to: rows.count, by: perStatement) {
                let (sql, params) = Self.insertStatement(rows[start..<min(rows.count, start + perStatement)], into: mark.table)
                inserted += try db.query(sql, params).affectedRows
            }
            _ = try db.query(CopyMarkTable.upsert, [mark.source, mark.table.rawValue, mark.lastKey, String(mark.rows), mark.merge ? "1" : "0"])
            try db.exec("COMMIT")
            return inserted
        } catch {
            _ = try? db.exec("ROLLBACK")
            throw error
        }
    }

    public func marks(source: String) throws(ProxyError) -> [CopyMark] {
        let r = try db.query(CopyMarkTable.select, [source])
        return (0..<r.rowCount).compactMap { i in
            guard let table = StoredTable(rawValue: r.string(i, 0) ?? "") else { return nil }
            return CopyMark(source: source, table: table, lastKey: r.string(i, 1) ?? "", rows: Int(r.string(i, 2) ?? "0") ?? 0,
                             merge: r.string(i, 3) == "1")
        }
    }

    public func clearMarks(source: String) throws(ProxyError) { _ = try db.query(CopyMarkTable.delete, [source]) }

    // MARK: - Rows

    /// The columns read, in the order `rows(_:_:)` decodes them.
    private static func columns(_ table: StoredTable) -> String {
        switch table {
        case .tasks: return PGStatements.taskColumns
        case .logs: return PGStatements.logColumns
        case .metadata: return "key, value::text"
        }
    }

    private static func rows(_ r: PGResult, _ table: StoredTable) -> [StoredRow] {
        switch table {
        case .tasks: return PGStatements.tasks(r).map { .task($0) }
        case .logs: return PGStatements.logs(r).map { .log($0) }
        case .metadata:
            return (0..<r.rowCount).map { i in
                .metadata(key: r.string(i, 0) ?? "", value: r.string(i, 1).flatMap { try? JSONParser.parse($0, maxDepth: 512) } ?? .null)
            }
        }
    }

    /// One multi-row INSERT that leaves rows whose key is taken alone.
    private static func insertStatement(_ rows: ArraySlice<StoredRow>, into table: StoredTable) -> (String, [String?]) {
        let (names, types) = PGStatements.insertColumns(table)
        var params: [String?] = []
        params.reserveCapacity(rows.count * types.count)
        var tuples: [String] = []
        for row in rows {
            params += PGStatements.values(row)
            let first = params.count - types.count
            tuples.append("(" + types.enumerated().map { "$\(first + $0.offset + 1)::\($0.element)" }.joined(separator: ", ") + ")")
        }
        return ("INSERT INTO \(table.rawValue) (\(names)) VALUES " + tuples.joined(separator: ", ") + " ON CONFLICT DO NOTHING", params)
    }
}
