import ProxyCore

/// Applies the schema's missing versions in order, each in its own write
/// transaction and recorded in `schema_migrations`; running it again is a
/// no-op. On PostgreSQL an advisory lock serializes proxies that start
/// together, so each change is applied once.
public enum MigrationRunner {
    /// pg_advisory_lock key: "storage-proxy migrations".
    static let lockKey = 727274001

    /// Returns the versions applied now and the version the database is at.
    @discardableResult
    public static func apply(on db: some SQLExecutor) throws(ProxyError) -> (applied: [Int], version: Int) {
        let d = db.dialect
        if d == .postgresql { try db.execute("SELECT pg_advisory_lock(\(lockKey))", []) }
        defer { if d == .postgresql { _ = try? db.execute("SELECT pg_advisory_unlock(\(lockKey))", []) } }
        try db.executeScript(Schema.bookkeeping(d))
        var applied: [Int] = []
        for m in Schema.migrations(d) {
            try db.inWriteTransaction { () throws(ProxyError) in
                guard try db.integer("SELECT 1 FROM schema_migrations WHERE version = $1", [.int(Int64(m.version))]) == nil else { return }
                try db.executeScript(m.sql)
                try db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                               [.int(Int64(m.version)), .text(m.name), d.value(Timestamp.now())])
                applied.append(m.version)
            }
        }
        return (applied, try currentVersion(on: db))
    }

    /// The newest version applied; 0 for a database without the schema.
    public static func currentVersion(on db: some SQLExecutor) throws(ProxyError) -> Int {
        Int(try db.integer("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0)
    }
}
