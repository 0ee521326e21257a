import CLibPQ
import ProxyCore

/// Maps a failed result onto the contract's errors by SQLSTATE. Only the
/// server's primary message is kept (it names no password or address).
enum PGErrorMapping {
    static func error(from result: OpaquePointer) -> ProxyError {
        let state = field(result, 67) ?? ""      // PG_DIAG_SQLSTATE ('C')
        let message = field(result, 77) ?? "PostgreSQL error"  // PG_DIAG_MESSAGE_PRIMARY ('M')
        let native = ProxyError.NativeCode(backend: "postgresql", code: state)
        switch state {
        case "23503": return .notFound(message)                       // foreign_key_violation
        case let s where s.hasPrefix("23"): return .conflict(message, native: native)  // integrity constraints
        case "40001", "40P01": return .backendUnavailable(message, retryAfterMs: 50)  // serialization, deadlock
        case "57014", "55P03": return .timeout(message)               // query_canceled, lock_not_available (lock_timeout)
        case let s where s.hasPrefix("08") || s.hasPrefix("57") || s.hasPrefix("53"):
            return .backendUnavailable("PostgreSQL: \(message)", retryAfterMs: 500)  // connection, shutdown, resources
        default: return .internalError("PostgreSQL: \(message)", native: native)
        }
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }
}
