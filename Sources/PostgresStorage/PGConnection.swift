#if canImport(Glibc)
import Glibc
#endif
import CLibPQ
import EventLoop
import ProxyCore
import SQLStore

/// One PostgreSQL connection driven by the libuv loop: libpq in non-blocking
/// mode, its socket watched with `uv_poll`, never a blocking call on the loop
/// thread. It runs in libpq's pipeline mode: every query is sent as soon as it
/// is asked for, each in its own sync segment (one failing query does not
/// abort the next), and answers are matched to queries in order. A statement
/// with parameters is prepared on its first use and run prepared after that.
///
///     connecting ──PQconnectPoll──▶ open: query() sends [prepare] execute sync
///                                         results ─▶ head of inFlight, in order
///     any I/O failure ─▶ broken: every query in flight fails with -32003
///
/// Loop thread only.
public final class PGConnection {
    public typealias QueryDone = (Result<PGResult, ProxyError>) -> Void

    /// A query sent and not yet answered, and which of its replies comes next.
    private struct InFlight {
        enum Stage { case prepare, execute, sync }
        let sql: String
        let done: QueryDone
        var stage: Stage
        var result: PGResult?
        var error: ProxyError?
    }

    private let conn: OpaquePointer
    private let loop: UVLoop
    private var poll: UVPoll?
    /// The descriptor `poll` watches (libpq's socket when the poll was made).
    private var polledSocket: Int32 = -1
    private var inFlight: [InFlight] = []
    private var connectDone: ((Result<PGConnection, ProxyError>) -> Void)?
    /// SQL text → prepared statement name, on this connection.
    private var prepared: [String: String] = [:]
    /// Readable is always watched once connected (an idle connection that the
    /// server closes is noticed at once); writable only while libpq has unsent bytes.
    private var watchingWrite = false
    public private(set) var isBroken = false
    public private(set) var isClosed = false
    /// `NOTIFY`s for channels this connection `LISTEN`s to: (channel, payload), in commit order.
    var onNotification: ((String, String) -> Void)?
    /// Told once when the connection breaks (a listener has nothing in flight to fail).
    var onBroken: ((String) -> Void)?
    /// When the connection was opened (pool recycling).
    public let openedAt = MonotonicClock.seconds()

    private init(conn: OpaquePointer, loop: UVLoop) {
        self.conn = conn
        self.loop = loop
        PGNotice.route(conn)
    }

    /// Starts connecting; `done` runs on the loop once connected or failed.
    /// Failures never repeat the connection string (it may hold a password).
    public static func connect(loop: UVLoop, conninfo: String, _ done: @escaping (Result<PGConnection, ProxyError>) -> Void) {
        guard let raw = PQconnectStart(conninfo) else {
            return done(.failure(.backendUnavailable("PostgreSQL: out of memory", retryAfterMs: 1000)))
        }
        let c = PGConnection(conn: raw, loop: loop)
        c.connectDone = done
        guard PQstatus(raw) != CONNECTION_BAD, PQsetnonblocking(raw, 1) == 0, c.followSocket() else {
            return c.connectFailed("cannot connect to PostgreSQL: \(c.connectionMessage)")
        }
        c.poll?.start(.writable)  // libpq's first step after PQconnectStart is writing
    }

    private var connectionMessage: String {
        let text = PQerrorMessage(conn).map { String(cString: $0) } ?? ""
        return text.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }

    /// One step of the connect. libpq may close its socket and open another
    /// inside `PQconnectPoll`: the next host of a multi-host URL (a host down,
    /// or read-only under `target_session_attrs=read-write`), a retry without
    /// TLS. So the poll stops before each step, while the descriptor is still
    /// open (libuv then drops it from epoll), and is made anew when the socket
    /// changed: re-arming a poll on a descriptor libpq closed aborts the loop
    /// (`epoll_ctl` EBADF), and one whose number was reused would silently
    /// watch nothing, or another connection's socket.
    private func advanceConnect() {
        poll?.stop()
        let state = PQconnectPoll(conn)
        guard state == PGRES_POLLING_READING || state == PGRES_POLLING_WRITING || state == PGRES_POLLING_OK else {
            return connectFailed("cannot connect to PostgreSQL: \(connectionMessage)")
        }
        guard followSocket() else { return connectFailed("cannot connect to PostgreSQL: cannot watch its socket") }
        switch state {
        case PGRES_POLLING_READING: poll?.start(.readable)
        case PGRES_POLLING_WRITING: poll?.start(.writable)
        default:
            guard PQenterPipelineMode(conn) == 1 else {
                return connectFailed("PostgreSQL: no pipeline mode: \(connectionMessage)")
            }
            poll?.onEvent = { [unowned self] status, events in handleIO(status: status, events: events) }
            poll?.start(.readable)
            let done = connectDone
            connectDone = nil
            done?(.success(self))
        }
    }

    /// Makes the poll watch libpq's current socket (a new poll when it changed).
    /// While connecting, the poll's callback owns the connection (nobody else has
    /// it yet); the cycle ends when connecting does (the callback is replaced or closed).
    private func followSocket() -> Bool {
        let socket = PQsocket(conn)
        guard socket != polledSocket || poll == nil else { return true }
        poll?.close()
        poll = nil
        guard socket >= 0, let fresh = UVPoll(loop: loop, fd: socket) else { return false }
        fresh.onEvent = { _, _ in self.advanceConnect() }
        (poll, polledSocket) = (fresh, socket)
        return true
    }

    private func connectFailed(_ why: String) {
        let done = connectDone
        connectDone = nil
        finish()
        done?(.failure(.backendUnavailable(why, retryAfterMs: 1000)))
    }

    // MARK: - Queries

    /// Sends a statement with `$1…` parameters (sent in text format);
    /// `done` runs when its answer arrives, after those of earlier queries.
    func query(_ sql: String, _ params: [SQLValue], _ done: @escaping QueryDone) {
        LoopThread.check()
        guard !isBroken, !isClosed else {
            return done(.failure(.backendUnavailable("the PostgreSQL connection is closed", retryAfterMs: 100)))
        }
        var stage = InFlight.Stage.execute
        var sent: Int32 = 1
        if params.isEmpty {
            sent = PQsendQueryParams(conn, sql, 0, nil, nil, nil, nil, 0)  // control statements: nothing to prepare
        } else {
            if prepared[sql] == nil {
                let name = "s\(prepared.count + 1)"
                prepared[sql] = name
                stage = .prepare
                sent = PQsendPrepare(conn, name, sql, Int32(params.count), nil)
            }
            if sent == 1, let name = prepared[sql] {
                sent = Self.withCStrings(params) { values in
                    PQsendQueryPrepared(conn, name, Int32(params.count), values, nil, nil, 0)
                }
            }
        }
        if sent == 1 { sent = PQpipelineSync(conn) }
        inFlight.append(InFlight(sql: sql, done: done, stage: stage))
        guard sent == 1 else { return fail("PostgreSQL: \(connectionMessage)") }
        flush()
    }

    /// The same with text parameters (nil is NULL): control statements, tests.
    public func query(_ sql: String, _ params: [String?] = [], _ done: @escaping QueryDone) {
        query(sql, params.map { $0.map { .text($0) } ?? .null }, done)
    }

    /// Queries sent and not yet answered.
    public var queued: Int { inFlight.count }

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
        // libuv reports any socket error (a reset too) as EBADF: libpq reads the real cause.
        guard status == 0 else { return fail(PQconsumeInput(conn) == 0 ? "PostgreSQL: \(connectionMessage)" : "PostgreSQL socket error") }
        if events.contains(.writable) { flush() }
        guard events.contains(.readable) else { return }
        guard PQconsumeInput(conn) == 1 else { return fail("PostgreSQL: \(connectionMessage)") }
        defer { deliverNotifications() }  // libpq parses them while it reads results too
        if inFlight.isEmpty {
            // Nothing asked: the server is closing us (or sent a notice). A closed socket reads EOF.
            if PQstatus(conn) == CONNECTION_BAD { fail("PostgreSQL closed the connection") }
            return
        }
        while !inFlight.isEmpty, !isBroken, PQisBusy(conn) == 0 {
            guard let raw = PQgetResult(conn) else {
                // The end of one command's replies: the head's next reply is for its next command.
                switch inFlight[0].stage {
                case .prepare: inFlight[0].stage = .execute
                case .execute: inFlight[0].stage = .sync
                case .sync: return  // nothing more has arrived yet
                }
                continue
            }
            switch PQresultStatus(raw) {
            case PGRES_PIPELINE_SYNC:
                PQclear(raw)
                completeHead()
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                if inFlight[0].stage == .execute { inFlight[0].result = PGResult(raw) } else { PQclear(raw) }
            case PGRES_PIPELINE_ABORTED:
                PQclear(raw)  // skipped because the prepare before it failed: that error is kept
            default:
                if inFlight[0].error == nil { inFlight[0].error = PGErrorMapping.error(from: raw) }
                if inFlight[0].stage == .prepare { prepared[inFlight[0].sql] = nil }
                PQclear(raw)
            }
        }
    }

    private func deliverNotifications() {
        while !isClosed, let n = PQnotifies(conn) {
            let channel = String(cString: n.pointee.relname), payload = String(cString: n.pointee.extra)
            PQfreemem(n)
            onNotification?(channel, payload)
        }
    }

    private func completeHead() {
        let head = inFlight.removeFirst()
        let result: Result<PGResult, ProxyError>
        if let error = head.error { result = .failure(error) }
        else if let r = head.result { result = .success(r) }
        else { result = .failure(.internalError("PostgreSQL returned no result")) }
        head.done(result)
    }

    /// The connection is unusable: everything in flight or queued fails, retryably.
    private func fail(_ why: String) {
        isBroken = true
        // The poll goes now, not at `close()`: libpq may have closed its socket
        // already (it does on end of file), and by `close()` the number could
        // belong to another connection, whose epoll entry closing this poll
        // then would remove (libuv aborts at that one's next re-arm).
        poll?.close()
        poll = nil
        let pending = inFlight
        inFlight = []
        for q in pending { q.done(.failure(.backendUnavailable(why, retryAfterMs: 500))) }
        let broken = onBroken
        onBroken = nil
        broken?(why)
    }

    // MARK: - Closing

    /// Stops watching and closes the socket. Queued queries fail.
    public func close() {
        guard !isClosed else { return }
        onBroken = nil
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
    static func withCStrings<R>(_ values: [SQLValue], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        guard !values.isEmpty else { return body(nil) }
        let copies: [UnsafeMutablePointer<CChar>?] = values.map { $0.pgText.map { strdup($0) } ?? nil }
        defer { for c in copies { free(c) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
