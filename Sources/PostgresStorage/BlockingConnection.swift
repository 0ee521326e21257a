import CLibPQ
import ProxyCore
import SQLStore

/// A plain blocking libpq connection for work outside serving: migrations
/// at start-up, and the command-line jobs (`copy`, `export`, `checksum`).
final class BlockingConnection: SQLExecutor {
    private let conn: OpaquePointer

    init(_ conninfo: String) throws(ProxyError) {
        guard let c = PQconnectdb(conninfo) else { throw .backendUnavailable("PostgreSQL: out of memory", retryAfterMs: 1000) }
        guard PQstatus(c) == CONNECTION_OK else {
            let why = String(cString: PQerrorMessage(c)).split(separator: "\n").first.map(String.init) ?? "unknown error"
            PQfinish(c)
            throw .backendUnavailable("cannot connect to PostgreSQL: \(why)", retryAfterMs: 1000)
        }
        conn = c
        PGNotice.route(c)
        _ = PQexec(c, "SET client_min_messages = warning").map { PQclear($0) }  // no NOTICE lines ("already exists, skipping")
    }

    deinit { PQfinish(conn) }

    /// Runs SQL written by us that takes no parameters (any number of statements).
    @discardableResult
    func exec(_ sql: String) throws(ProxyError) -> [[String?]] {
        guard let res = PQexec(conn, sql) else { throw .backendUnavailable("PostgreSQL: out of memory", retryAfterMs: 1000) }
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return (0..<PQntuples(res)).map { row in
                (0..<PQnfields(res)).map { col in PQgetisnull(res, row, col) == 1 ? nil : String(cString: PQgetvalue(res, row, col)) }
            }
        default:
            throw PGErrorMapping.error(from: res)
        }
    }

    /// Runs one statement with `$1…` parameters (sent in text format).
    func query(_ sql: String, _ params: [SQLValue] = []) throws(ProxyError) -> PGResult {
        let res = PGConnection.withCStrings(params) { values in
            PQexecParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        guard let res else { throw .backendUnavailable("PostgreSQL: out of memory", retryAfterMs: 1000) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return PGResult(res)
        default:
            defer { PQclear(res) }
            throw PGErrorMapping.error(from: res)
        }
    }

    // MARK: - SQLExecutor (migrations, the table store)

    var dialect: SQLDialect { .postgresql }

    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue]) throws(ProxyError) -> Int {
        try query(sql, values).affectedRows
    }

    func forEachRow(_ sql: String, _ values: [SQLValue], _ body: (any SQLRow) throws(ProxyError) -> Void) throws(ProxyError) {
        for row in try query(sql, values).rows { try body(row) }
    }

    func executeScript(_ sql: String) throws(ProxyError) { try exec(sql) }
}
