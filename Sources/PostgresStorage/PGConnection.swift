#if canImport(Glibc)
import Glibc
#endif
import CLibPQ
import EventLoop
import StorageCore

/// One PostgreSQL connection driven by the libuv loop: libpq in non-blocking
/// mode, its socket watched with `uv_poll`, never a blocking call on the loop
/// thread. Queries are queued and sent one at a time, in order. A statement
/// with parameters is prepared on its first use and run prepared after that.
///
///     connecting ──PQconnectPoll──▶ idle ◀──results──┐
///                                    │ send next      │
///                                    ▼                │
///                                  busy ─flush/consume┘
///     any I/O failure ─▶ broken: every queued query fails with -32003
///
/// Loop thread only.
public final class PGConnection {
    public typealias QueryDone = (Result<PGResult, ProxyError>) -> Void

    private struct Query {
        let sql: String
        let params: [String?]
        let done: QueryDone
    }

    private let conn: OpaquePointer
    private var poll: UVPoll?
    private var queue: [Query] = []
    private var current: Query?
    private var lastResult: PGResult?
    private var firstError: ProxyError?
    private var connectDone: ((Result<PGConnection, ProxyError>) -> Void)?
    /// SQL text → prepared statement name, on this connection.
    private var prepared: [String: String] = [:]
    /// The current query's statement is being prepared (its results are the PREPARE's).
    private var preparing: String?
    /// Readable is always watched once connected (an idle connection that the
    /// server closes is noticed at once); writable only while libpq has unsent bytes.
    private var watchingWrite = false
    public private(set) var isBroken = false
    public private(set) var isClosed = false
    /// When the connection was opened (pool recycling).
    public let openedAt = MonotonicClock.seconds()

    private init(conn: OpaquePointer) { self.conn = conn }

    /// Starts connecting; `done` runs on the loop once connected or failed.
    /// Failures never repeat the connection string (it may hold a password).
    public static func connect(loop: UVLoop, conninfo: String, _ done: @escaping (Result<PGConnection, ProxyError>) -> Void) {
        guard let raw = PQconnectStart(conninfo) else {
            return done(.failure(.backendUnavailable("PostgreSQL: out of memory", retryAfterMs: 1000)))
        }
        let c = PGConnection(conn: raw)
        guard PQstatus(raw) != CONNECTION_BAD, PQsetnonblocking(raw, 1) == 0,
              let poll = UVPoll(loop: loop, fd: PQsocket(raw)) else {
            let why = c.connectionMessage
            c.finish()
            return done(.failure(.backendUnavailable("cannot connect to PostgreSQL: \(why)", retryAfterMs: 1000)))
        }
        c.poll = poll
        c.connectDone = done
        // While connecting, the poll's callback owns the connection (nobody else has it
        // yet); the cycle ends when connecting does (the callback is replaced or closed).
        poll.onEvent = { status, _ in c.advanceConnect(status: status) }
        poll.start(.writable)  // libpq's first step after PQconnectStart is writing
    }

    private var connectionMessage: String {
        let text = PQerrorMessage(conn).map { String(cString: $0) } ?? ""
        return text.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }

    private func advanceConnect(status: Int32) {
        switch PQconnectPoll(conn) {
        case PGRES_POLLING_READING: poll?.start(.readable)
        case PGRES_POLLING_WRITING: poll?.start(.writable)
        case PGRES_POLLING_OK:
            poll?.onEvent = { [unowned self] status, events in handleIO(status: status, events: events) }
            poll?.start(.readable)
            let done = connectDone
            connectDone = nil
            done?(.success(self))
        default:
            let why = connectionMessage
            let done = connectDone
            connectDone = nil
            finish()
            done?(.failure(.backendUnavailable("cannot connect to PostgreSQL: \(why)", retryAfterMs: 1000)))
        }
    }

    // MARK: - Queries

    /// Queues a statement with `$1…` parameters (text format; nil is NULL).
    public func query(_ sql: String, _ params: [String?] = [], _ done: @escaping QueryDone) {
        guard !isBroken, !isClosed else {
            return done(.failure(.backendUnavailable("the PostgreSQL connection is closed", retryAfterMs: 100)))
        }
        queue.append(Query(sql: sql, params: params, done: done))
        if current == nil { sendNext() }
    }

    public var isIdle: Bool { current == nil && queue.isEmpty }

    private func sendNext() {
        guard current == nil, !queue.isEmpty else { return }
        let q = queue.removeFirst()
        current = q
        lastResult = nil
        firstError = nil
        send(q)
    }

    private func send(_ q: Query) {
        let sent: Int32
        if q.params.isEmpty {
            sent = PQsendQueryParams(conn, q.sql, 0, nil, nil, nil, nil, 0)  // control statements: nothing to prepare
        } else if let name = prepared[q.sql] {
            sent = Self.withCStrings(q.params) { values in
                PQsendQueryPrepared(conn, name, Int32(q.params.count), values, nil, nil, 0)
            }
        } else {
            let name = "s\(prepared.count + 1)"
            preparing = name
            sent = PQsendPrepare(conn, name, q.sql, Int32(q.params.count), nil)
        }
        guard sent == 1 else { return fail("PostgreSQL: \(connectionMessage)") }
        flush()
    }

    private func flush() {
        switch PQflush(conn) {
        case 0: watchWrite(false)
        case 1: watchWrite(true)  // more to send; reads stay watched, the server may answer early
        default: fail("PostgreSQL: \(connectionMessage)")
        }
    }

    private func watchWrite(_ on: Bool) {
        guard on != watchingWrite else { return }
        watchingWrite = on
        poll?.start(on ? [.readable, .writable] : .readable)
    }

    private func handleIO(status: Int32, events: UVPoll.Events) {
        guard status == 0 else { return fail("PostgreSQL socket error: \(uvError(status))") }
        if events.contains(.writable) { flush() }
        guard events.contains(.readable) else { return }
        guard PQconsumeInput(conn) == 1 else { return fail("PostgreSQL: \(connectionMessage)") }
        guard current != nil else {
            // Nothing asked: the server is closing us (or sent a notice). A closed socket reads EOF.
            if PQstatus(conn) == CONNECTION_BAD { fail("PostgreSQL closed the connection") }
            return
        }
        while PQisBusy(conn) == 0 {
            guard let raw = PQgetResult(conn) else { return completeCurrent() }
            switch PQresultStatus(raw) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                lastResult = PGResult(raw)
            default:
                if firstError == nil { firstError = PGErrorMapping.error(from: raw) }
                PQclear(raw)
            }
        }
    }

    private func completeCurrent() {
        guard let q = current else { return }
        if let name = preparing {  // the PREPARE finished: now run the statement itself
            preparing = nil
            if firstError == nil {
                prepared[q.sql] = name
                lastResult = nil
                return send(q)
            }
        }
        current = nil
        let result: Result<PGResult, ProxyError>
        if let firstError { result = .failure(firstError) }
        else if let lastResult { result = .success(lastResult) }
        else { result = .failure(.internalError("PostgreSQL returned no result")) }
        lastResult = nil
        firstError = nil
        sendNext()
        q.done(result)
    }

    /// The connection is unusable: everything in flight or queued fails, retryably.
    private func fail(_ why: String) {
        isBroken = true
        preparing = nil
        poll?.stop()
        let pending = (current.map { [$0] } ?? []) + queue
        current = nil
        queue = []
        for q in pending { q.done(.failure(.backendUnavailable(why, retryAfterMs: 500))) }
    }

    // MARK: - Closing

    /// Stops watching and closes the socket. Queued queries fail.
    public func close() {
        guard !isClosed else { return }
        if !isBroken { fail("the PostgreSQL connection was closed") }
        finish()
    }

    private func finish() {
        isClosed = true
        poll?.close()
        poll = nil
        PQfinish(conn)
    }

    /// libpq wants C strings for the parameters only for the duration of the send.
    private static func withCStrings<R>(_ values: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        guard !values.isEmpty else { return body(nil) }
        let copies: [UnsafeMutablePointer<CChar>?] = values.map { $0.map { strdup($0) } ?? nil }
        defer { for c in copies { free(c) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
