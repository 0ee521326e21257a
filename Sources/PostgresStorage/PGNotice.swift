#if canImport(Glibc)
import Glibc
#endif
import CLibPQ
import ProxyCore

/// A message PostgreSQL sent outside any answer: the `WARNING` of a server
/// shutting down, the `FATAL` that ends a terminated idle connection, a
/// statement's `NOTICE`. libpq prints them raw to stderr by default, outside
/// the log's format; every connection of ours (`PGConnection`, the blocking
/// one of migrations and jobs) hands them to `PGNotice.sink` instead.
public struct PGNotice: Sendable {
    /// PostgreSQL's severity, never localized: WARNING, NOTICE, FATAL…
    public let severity: String
    public let message: String

    /// Where notices go: the server sets its logger at start; nil (the
    /// command-line jobs) writes them to stderr as libpq would.
    public static let sink = Locked<(@Sendable (PGNotice) -> Void)?>(nil)

    /// libpq's notice receiver for `conn`: called on the thread using the connection.
    static func route(_ conn: OpaquePointer) {
        PQsetNoticeReceiver(conn, { _, result in
            guard let result else { return }
            let notice = PGNotice(severity: PGNotice.field(result, 86) ?? "NOTICE",  // PG_DIAG_SEVERITY_NONLOCALIZED ('V')
                                  message: PGNotice.field(result, 77) ?? "")         // PG_DIAG_MESSAGE_PRIMARY ('M')
            if let sink = PGNotice.sink.withLock({ $0 }) {
                sink(notice)
            } else {
                fputs("\(notice.severity):  \(notice.message)\n", stderr)
            }
        }, nil)
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    /// WARNING and worse are warnings; NOTICE, INFO, LOG and DEBUG are not.
    public var isWarning: Bool { ["WARNING", "ERROR", "FATAL", "PANIC"].contains(severity) }
}
