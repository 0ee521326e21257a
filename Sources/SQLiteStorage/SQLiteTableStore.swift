import ProxyCore
import StoragePorts
import ProxyConfig

/// A SQLite file as a `TableStore`: the source or target of `storage-proxy
/// copy`, the source of `export`. One connection, on the caller's thread.
public final class SQLiteTableStore: TableStore {
    private let db: SQLiteConnection

    /// Opens a database to read (it must exist and be migrated), or to write
    /// (created and migrated when needed).
    public init(path: String, writable: Bool) throws(ProxyError) {
        if writable {
            var config = ProxyConfig().sqlite
            config.path = path
            _ = try SQLiteStorage.migrate(config: config)
            db = try SQLiteConnection(.init(path: path))
            try db.execute(CopyMarkTable.create)
        } else {
            db = try SQLiteConnection(.init(path: path, readOnly: true))
            guard let version = try? SQLiteMigrations.currentVersion(on: db), version > 0 else {
                throw .notFound("\(path) is not a storage-proxy database (no schema_migrations)")
            }
        }
    }

    public func beginSnapshot() throws(ProxyError) {
        try db.execute("BEGIN")
        try db.query("SELECT count(*) FROM schema_migrations") { _ in }  // a deferred BEGIN takes its snapshot at the first read
    }

    public func endSnapshot() { _ = try? db.execute("COMMIT") }

    public func count(_ table: StoredTable) throws(ProxyError) -> Int {
        var n = 0
        try db.query("SELECT count(*) FROM \(table.rawValue)") { row in n = Int(row.int(0)) }
        return n
    }

    public func rows(_ table: StoredTable, after key: String?, limit: Int) throws(ProxyError) -> [StoredRow] {
        let from = key == nil ? "" : "WHERE \(table.keyColumn) > ?"
        let args: [SQLValue] = (key.map { [.text($0)] } ?? []) + [.int(Int64(limit))]
        return try select("SELECT \(Self.columns(table)) FROM \(table.rawValue) \(from) ORDER BY \(table.keyColumn) LIMIT ?", args, table)
    }

    public func rows(_ table: StoredTable, keys: [String]) throws(ProxyError) -> [StoredRow] {
        let list = JSONValue.array(keys.map { .string($0) }).jsonText  // one parameter, whatever the count
        return try select("SELECT \(Self.columns(table)) FROM \(table.rawValue) WHERE \(table.keyColumn) IN (SELECT value FROM json_each(?))",
                          [.text(list)], table)
    }

    public func insert(_ rows: [StoredRow], mark: CopyMark) throws(ProxyError) -> Int {
        try db.execute("BEGIN IMMEDIATE")
        do {
            var inserted = 0
            for row in rows where try insert(row) { inserted += 1 }
            try db.execute(CopyMarkTable.upsert, [.text(mark.source), .text(mark.table.rawValue), .text(mark.lastKey), .int(Int64(mark.rows)), .int(mark.merge ? 1 : 0)])
            try db.execute("COMMIT")
            return inserted
        } catch {
            _ = try? db.execute("ROLLBACK")
            throw error
        }
    }

    public func marks(source: String) throws(ProxyError) -> [CopyMark] {
        var found: [CopyMark] = []
        try db.query(CopyMarkTable.select, [.text(source)]) { row in
            if let table = StoredTable(rawValue: row.string(0)) {
                found.append(CopyMark(source: source, table: table, lastKey: row.string(1), rows: Int(row.int(2)), merge: row.int(3) != 0))
            }
        }
        return found
    }

    public func clearMarks(source: String) throws(ProxyError) {
        try db.execute(CopyMarkTable.delete, [.text(source)])
    }

    // MARK: - Rows

    /// The columns read, in the order `select` decodes them.
    private static func columns(_ table: StoredTable) -> String {
        switch table {
        case .tasks: return SQLiteConnection.taskColumns
        case .logs: return SQLiteConnection.logColumns
        case .metadata: return "key, value"
        }
    }

    private func select(_ sql: String, _ args: [SQLValue], _ table: StoredTable) throws(ProxyError) -> [StoredRow] {
        var out: [StoredRow] = []
        try db.query(sql, args) { row in
            switch table {
            case .tasks: out.append(.task(db.task(from: row)))
            case .logs: out.append(.log(db.log(from: row)))
            case .metadata: out.append(.metadata(key: row.string(0), value: row.json(1) ?? .null))
            }
        }
        return out
    }

    private func insert(_ row: StoredRow) throws(ProxyError) -> Bool {
        switch row {
        case .task(let t): return try db.insertTask(t)
        case .log(let l): return try db.insertLog(l)
        case .metadata(let key, let value):
            return try db.execute("INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                                  [.text(key), .text(value.jsonText)]) > 0
        }
    }
}
