import ProxyCore

/// A blocking connection that runs statements on the caller's thread: what
/// the migration runner and the table store need from a driver. The serving
/// paths use their drivers directly (SQLite's worker threads, libpq on the loop).
public protocol SQLExecutor: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs one statement; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue]) throws(ProxyError) -> Int
    /// Runs one statement, handing each result row to `body`.
    func forEachRow(_ sql: String, _ values: [SQLValue], _ body: (any SQLRow) throws(ProxyError) -> Void) throws(ProxyError)
    /// Runs several `;`-separated statements without parameters (migrations).
    func executeScript(_ sql: String) throws(ProxyError)
}

extension SQLExecutor {
    /// The first column of the first row, as an integer.
    public func integer(_ sql: String, _ values: [SQLValue] = []) throws(ProxyError) -> Int64? {
        var found: Int64?
        try forEachRow(sql, values) { row in if found == nil { found = row.int(0) } }
        return found
    }

    /// Runs `body` in a write transaction: committed if it returns, rolled back if it throws.
    public func inWriteTransaction<T>(_ body: () throws(ProxyError) -> T) throws(ProxyError) -> T {
        try execute(dialect.beginWrite, [])
        do {
            let result = try body()
            try execute("COMMIT", [])
            return result
        } catch {
            _ = try? execute("ROLLBACK", [])
            throw error
        }
    }
}
