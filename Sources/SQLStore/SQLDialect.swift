import ProxyCore

/// The two SQL dialects the proxy stores in. Everything that differs between
/// them is here, as small answers to "how does this dialect say X"; every
/// statement is written once (`Statements`, `Schema`) with `$n` parameters,
/// which SQLite accepts as well.
public enum SQLDialect: Sendable {
    case sqlite, postgresql

    // MARK: - Column types

    /// Booleans: SQLite has none (0 and 1 in an INTEGER).
    var boolType: String { self == .sqlite ? "INTEGER" : "BOOLEAN" }
    var trueLiteral: String { self == .sqlite ? "1" : "true" }
    var falseLiteral: String { self == .sqlite ? "0" : "false" }
    /// Times: canonical RFC 3339 text in SQLite, which sorts as time does.
    var timeType: String { self == .sqlite ? "TEXT" : "TIMESTAMPTZ" }
    /// JSON documents: text in SQLite.
    var jsonType: String { self == .sqlite ? "TEXT" : "JSONB" }

    /// A column added by a migration. PostgreSQL can skip one already there,
    /// so an exported dump loads twice (SQLite cannot; its migrations run once).
    var addColumn: String { self == .sqlite ? "ADD COLUMN" : "ADD COLUMN IF NOT EXISTS" }

    // MARK: - Parameters and columns in statements

    /// Parameter `n` as a value of `type` (one of the three above, or TEXT):
    /// PostgreSQL needs the cast where it cannot infer the type (a VALUES
    /// list, COALESCE, text into JSONB); SQLite stores what it is given.
    func parameter(_ n: Int, as type: String? = nil) -> String {
        guard self == .postgresql, let type else { return "$\(n)" }
        return "$\(n)::\(type.lowercased())"
    }

    /// A stored time as the row codec reads it: PostgreSQL sends epoch
    /// microseconds (exact, no parsing of its own text formats).
    func readTime(_ column: String) -> String {
        self == .sqlite ? column : "(extract(epoch from \(column)) * 1000000)::bigint"
    }

    /// A JSON column as text.
    func readJSON(_ column: String) -> String { self == .sqlite ? column : "\(column)::text" }

    // MARK: - Transactions

    /// Starts a transaction that will write: SQLite takes its write lock now
    /// rather than at the first write (which could fail with SQLITE_BUSY
    /// halfway through).
    var beginWrite: String { self == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN" }
}
