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

    /// Starts a read of several statements that must agree (one snapshot).
    public var beginSnapshot: String { self == .sqlite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" }

    // MARK: - Pages

    /// One page of `table`, kept under the answer budget. SQLite's driver
    /// counts each row's bytes as it steps and stops itself. PostgreSQL sends
    /// all rows at once, so the server cuts the page short: it adds up each
    /// row's size as text in page order and sends no row after the first one
    /// that takes the total past the budget (the proxy answers -32005 without
    /// having held the rest). There three columns follow `columns`: the row's
    /// bytes, its position, the running total (`budgetSpent` reads it).
    /// `rowBytes`: what a row costs (default: the whole row as text).
    public func page(columns: String, table: String, conditions: [String], order: String, limit: String,
                     budget: AnswerBudget, rowBytes: String? = nil, _ args: inout [SQLValue]) -> String {
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        guard self == .postgresql else { return "SELECT \(columns) FROM \(table)\(filter) ORDER BY \(order) \(limit)" }
        args.append(.int(Int64(budget.limit)))
        return """
            SELECT * FROM (SELECT paged.*, sum(row_bytes) OVER (ORDER BY position) AS bytes_through FROM (\
            SELECT \(columns), \(rowBytes ?? "octet_length(\(table)::text)") AS row_bytes, row_number() OVER (ORDER BY \(order)) AS position \
            FROM \(table)\(filter) ORDER BY \(order) \(limit)) paged) counted \
            WHERE bytes_through - row_bytes <= $\(args.count) ORDER BY position
            """
    }
}
