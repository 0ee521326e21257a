import ProxyCore
import StoragePorts

/// `save_metadata`, `get_metadata`, `list_metadata`, `delete_metadata`: any
/// JSON value under a key. Reads are cached as `meta:{key}` (own version) and
/// listings in the `meta-lists` group; every write retires its key and every
/// listing.
public enum MetadataOperations {
    static let listings = "meta-lists"

    static func entry(_ key: String) -> CacheEntry { CacheEntry(key: "meta:" + CacheKeys.escape(key), ttl: 300) }
    static func wrote(_ key: String) -> CacheInvalidation { CacheInvalidation(keys: [entry(key).key], groups: [listings]) }

    public static func save(key: String, value: JSONValue) -> Operation<Void> {
        .done(.metadata(key), cache: .retiring(wrote(key))) { d in (Statements[d].saveMetadata, [.text(key), .text(value.jsonText)]) }
    }

    /// The value, or nil when the key is not stored.
    public static func get(key: String) -> Operation<JSONValue?> {
        Operation(.read, cache: .keep(entry(key)), sql: { d in Statements[d].getMetadata }, key: key, initial: nil,
                  eachRow: { row, _, out in if out == nil { out = row.json(0) ?? .null } })
    }

    /// True if the key was stored.
    public static func delete(key: String) -> Operation<Bool> {
        .changed(.metadata(key), cache: .retiring(wrote(key))) { _ in ("DELETE FROM metadata WHERE key = $1", [.text(key)]) }
    }

    /// The keys starting with `prefix` and after `after`, in byte order (the
    /// same on both backends: PostgreSQL compares them in the "C" collation),
    /// at most `limit`: a page, and the last key the next page's `after`.
    public static func list(prefix: String, after: String?, limit: Int, budget: AnswerBudget) -> Operation<[String]> {
        let entry = CacheEntry(key: "meta-list:\(CacheKeys.escape(prefix)):\(after.map(CacheKeys.escape) ?? "*"):\(limit)",
                               group: listings, ttl: 60)
        return .all(page: (budget, 1), cache: .keep(entry)) { d in
            var values: [SQLValue] = [.text(prefix)]
            var conditions = ["\(keyColumn(d)) >= $1", "substr(key, 1, length($1)) = $1"]
            if let after {
                values.append(.text(after))
                conditions.append("\(keyColumn(d)) > $2")
            }
            values.append(.int(Int64(limit)))
            let sql = d.page(columns: "key", table: "metadata", conditions: conditions, order: keyColumn(d),
                             limit: "LIMIT $\(values.count)", budget: budget, rowBytes: "octet_length(key)", &values)
            return (sql, values)
        } decode: { row, _ in row.text(0) ?? "" }
    }

    /// Keys compared byte by byte: SQLite's default; PostgreSQL's text follows the database's collation otherwise.
    private static func keyColumn(_ d: SQLDialect) -> String { d == .sqlite ? "key" : "key COLLATE \"C\"" }
}
