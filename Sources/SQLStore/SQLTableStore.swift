import ProxyCore
import StoragePorts

/// A database as a `TableStore`: the source or target of `storage-proxy
/// copy`, the source of `export` and `checksum`. One blocking connection on
/// the caller's thread; the backends open it (`SQLiteStorage.tableStore`,
/// `PostgresStorage.tableStore`).
public final class SQLTableStore: TableStore {
    private let db: any SQLExecutor
    private let sql: Statements

    /// A database to write into is migrated first (as `storage-proxy migrate`
    /// would); one to read from must hold the schema.
    public init(_ db: any SQLExecutor, writable: Bool) throws(ProxyError) {
        self.db = db
        sql = db.dialect == .sqlite ? .sqlite : .postgresql
        if writable {
            try MigrationRunner.apply(on: db)
            try db.executeScript(CopyMarkTable.create)
        } else {
            let hasSchema = db.dialect == .sqlite
                ? "SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'"
                : "SELECT count(*) FROM pg_class WHERE oid = to_regclass('schema_migrations')"
            guard try db.integer(hasSchema) == 1, case let version = try MigrationRunner.currentVersion(on: db), version > 0 else {
                throw .notFound("the database holds no storage-proxy schema (no schema_migrations)")
            }
            // Rows are read with every current column: an older source is refused
            // here, by name, rather than failing on a missing column mid-copy.
            let latest = Schema.migrations(db.dialect).last?.version ?? 0
            guard version >= latest else {
                throw .conflict("the database is at schema version \(version), this storage-proxy reads version \(latest): "
                                + "run `storage-proxy migrate --database …` on it first")
            }
        }
    }

    /// Every table read in one snapshot, so what is copied or checksummed is
    /// one consistent state even while the source is written to.
    public func beginSnapshot() throws(ProxyError) {
        switch sql.dialect {
        case .sqlite:
            try db.execute("BEGIN", [])
            try db.execute("SELECT count(*) FROM schema_migrations", [])  // a deferred BEGIN takes its snapshot at the first read
        case .postgresql:
            try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", [])
        }
    }

    public func endSnapshot() { _ = try? db.execute("COMMIT", []) }

    public func count(_ table: StoredTable) throws(ProxyError) -> Int {
        Int(try db.integer(sql.count(table)) ?? 0)
    }

    public func rows(_ table: StoredTable, after key: String?, limit: Int) throws(ProxyError) -> [StoredRow] {
        let after = try key.map { k throws(ProxyError) in try sql.keyValues(table, after: k) } ?? []
        return try select(sql.keyPage(table, afterKey: key != nil), after + [.int(Int64(limit))], table)
    }

    public func rows(_ table: StoredTable, keys: [String]) throws(ProxyError) -> [StoredRow] {
        try select(sql.rowsWithKeys(table), [sql.keysValue(table, keys)], table)
    }

    public func insert(_ rows: [StoredRow], mark: CopyMark) throws(ProxyError) -> Int {
        try db.inWriteTransaction { () throws(ProxyError) in
            if mark.table == .documents { try bumpCollections(of: rows) }
            var inserted = 0
            for start in stride(from: 0, to: rows.count, by: Statements.rowsPerInsert) {
                let (statement, values) = sql.insertIfAbsent(rows[start..<min(rows.count, start + Statements.rowsPerInsert)], into: mark.table)
                inserted += try db.execute(statement, values)
            }
            try db.execute(CopyMarkTable.upsert, [.text(mark.source), .text(mark.table.rawValue), .text(mark.lastKey),
                                                  .int(Int64(mark.rows)), .int(mark.merge ? 1 : 0)])
            return inserted
        }
    }

    public func marks(source: String) throws(ProxyError) -> [CopyMark] {
        var found: [CopyMark] = []
        try db.forEachRow(CopyMarkTable.select, [.text(source)]) { row in
            if let table = StoredTable(rawValue: row.text(0) ?? "") {
                found.append(CopyMark(source: source, table: table, lastKey: row.text(1) ?? "", rows: Int(row.int(2) ?? 0),
                                      merge: row.int(3) == 1))
            }
        }
        return found
    }

    public func clearMarks(source: String) throws(ProxyError) {
        try db.execute(CopyMarkTable.delete, [.text(source)])
    }

    /// Documents go into their collections as any write does: each
    /// collection's version is bumped first and the rows are stamped with it
    /// (`Statements.computedColumn`), so the target's proxies see them. Their
    /// embeddings must fit the collection in the target (a `--merge` into a
    /// collection of another dimension is refused, by name).
    private func bumpCollections(of rows: [StoredRow]) throws(ProxyError) {
        var names = Set<String>()
        var lengths: [String: Int] = [:]  // the first embedding's length, per collection
        for case .document(let d) in rows {
            names.insert(d.collection)
            if lengths[d.collection] == nil, let e = d.embedding { lengths[d.collection] = e.count / 4 }
        }
        var dimensions: [String: Int64?] = [:]
        try db.forEachRow(sql.bumpCollections, [.text(JSONValue.array(names.sorted().map { .string($0) }).jsonText)]) { row in
            dimensions[row.text(0) ?? ""] = row.int(1)
        }
        for name in names.sorted() {
            guard let dimension = dimensions[name] else { throw .notFound("documents of collection \(name), which the target does not hold") }
            guard let length = lengths[name] else { continue }
            if let dimension, dimension != Int64(length) {
                throw .conflict("collection \(name) has dimension \(dimension) in the target; the source's documents have \(length)")
            }
            if dimension == nil { try db.execute(sql.setCollectionDimension, [.int(Int64(length)), .text(name)]) }
        }
    }

    private func select(_ statement: String, _ values: [SQLValue], _ table: StoredTable) throws(ProxyError) -> [StoredRow] {
        var out: [StoredRow] = []
        try db.forEachRow(statement, values) { row in out.append(sql.storedRow(row, table)) }
        return out
    }
}
