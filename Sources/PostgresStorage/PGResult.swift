import CLibPQ
import StorageCore

/// One query's rows, owning its `PGresult` (cleared on deinit). Values are
/// libpq's text format.
public final class PGResult {
    private let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }
    deinit { PQclear(raw) }

    public var rowCount: Int { Int(PQntuples(raw)) }
    public var columnCount: Int { Int(PQnfields(raw)) }

    /// Rows changed by INSERT/UPDATE/DELETE.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(raw))) ?? 0 }

    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(raw, Int32(row), Int32(column)) == 1 }

    public func string(_ row: Int, _ column: Int) -> String? {
        guard !isNull(row, column), let p = PQgetvalue(raw, Int32(row), Int32(column)) else { return nil }
        let count = Int(PQgetlength(raw, Int32(row), Int32(column)))
        return p.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
    }
}

/// Maps a failed result onto the contract's errors by SQLSTATE. Only the
/// server's primary message is kept (it names no password or address).
enum PGErrorMapping {
    static func error(from result: OpaquePointer) -> ProxyError {
        let state = field(result, 67) ?? ""      // PG_DIAG_SQLSTATE ('C')
        let message = field(result, 77) ?? "PostgreSQL error"  // PG_DIAG_MESSAGE_PRIMARY ('M')
        switch state {
        case "23503": return .notFound(message)                       // foreign_key_violation
        case let s where s.hasPrefix("23"): return .conflict(message)  // integrity constraints
        case "40001", "40P01": return .backendUnavailable(message, retryAfterMs: 50)  // serialization, deadlock
        case "57014": return .timeout(message)                        // query_canceled
        case let s where s.hasPrefix("08") || s.hasPrefix("57") || s.hasPrefix("53"):
            return .backendUnavailable("PostgreSQL: \(message)", retryAfterMs: 500)  // connection, shutdown, resources
        default: return .internalError("PostgreSQL \(state): \(message)")
        }
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }
}
