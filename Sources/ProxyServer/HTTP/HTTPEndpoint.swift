#if canImport(Glibc)
import Glibc
#endif
import EventLoop
import ProxyCore
import TLS

/// `server.http_listen`: what a load balancer, Kubernetes, Prometheus or
/// `curl` asks, on the proxy's loop.
///
///   GET  /healthz  200 while the process answers
///   GET  /readyz   200 when storage answers, else 503 with the reason
///   GET  /metrics  Prometheus text (needs the bearer token when one is set)
///   POST /         a JSON-RPC body, answered as the line protocol would
///   /console/      the operator's console (`ConsoleRoutes`)
///
/// With `server.auth_token` set, `Authorization: Bearer <token>` opens
/// `/metrics` and authenticates a POST's session (without it, the session is
/// one that has not called `auth` yet, exactly as on a TCP line). HTTP/1.1
/// is h2o's (see `HTTPBridge`). Loop thread only.
final class HTTPEndpoint: UVStreamDelegate {
    struct Settings {
        var maxBodyBytes: Int
        var maxConnections: Int
        var authFailureDelayMs: UInt64
        /// Wrong bearer tokens on one connection before it is closed (`server.max_auth_failures`).
        var maxAuthFailures: Int
        /// The console's live views and event streams at once (`server.console_max_viewers`).
        var consoleMaxViewers: Int
    }

    /// What the endpoint asks of the server.
    struct Host {
        var metrics: () -> String
        /// `server.status`, for the console's live view.
        var status: () -> JSONValue
        /// nil: ready; else why not.
        var readiness: (@escaping (String?) -> Void) -> Void
        /// A POST's session for one body, authenticated with a scope or not yet; `ended` hands it back (its transactions are rolled back).
        var newSession: (_ scope: Scope?, _ origin: String, _ lane: CallerLane.ID) -> Session
        var sessionEnded: (Session) -> Void
        /// The last call in flight answered while stopping.
        var drained: () -> Void
    }

    /// A kept-alive connection left silent this long closes; a request must
    /// arrive within it too. Short: a stopping proxy waits for these sockets.
    static let requestTimeoutMs: UInt64 = 5000

    private let loop: UVLoop
    private let dispatcher: Dispatcher
    /// SIGHUP may change them: the connection cap is read at each accept, the body limit is handed to h2o.
    var settings: Settings {
        didSet {
            bridge?.setMaxBody(settings.maxBodyBytes)
            console.live.maxViewers = settings.consoleMaxViewers
        }
    }
    private let console: ConsoleRoutes
    private let host: Host
    private let log: Logger
    private var bridge: HTTPBridge?
    /// `server.tls`: h2o runs the handshake itself with this context.
    private var tls: TLSContext?
    private var listener: UVStream?
    private(set) var callsInFlight = 0
    /// `POST /` calls being answered, by request id.
    private var answers: [UInt64: HTTPAnswer] = [:]
    /// Wrong bearer tokens per connection (h2o's number) and when the last came:
    /// a connection silent longer than `requestTimeoutMs` has been closed by h2o.
    private var authFailures: [UInt64: (count: Int, at: Double)] = [:]
    private var stopping = false

    init(loop: UVLoop, dispatcher: Dispatcher, settings: Settings, host: Host, log: Logger) {
        self.loop = loop
        self.dispatcher = dispatcher
        self.settings = settings
        self.host = host
        self.log = log
        console = ConsoleRoutes(services: dispatcher.services,
                                live: ConsoleLive(loop: loop, maxViewers: settings.consoleMaxViewers, status: host.status))
        console.newSession = { [host] scope, id in host.newSession(scope, "console-h\(id)", CallerLane.of(id | 1 << 61)) }
        console.sessionEnded = host.sessionEnded
    }

    func listen(_ text: String, allowInsecure: Bool) throws(ServerError) {
        guard let address = ListenAddress(text) else { throw ServerError("server.http_listen: '\(text)' is not HOST:PORT or PORT") }
        if !address.isLoopback && !dispatcher.services.needsToken && !allowInsecure {
            throw ServerError("refusing HTTP on \(address.host):\(address.port) without server.auth_token "
                + "(set one, bind a loopback address, or set server.allow_insecure: true)")
        }
        guard let bridge = HTTPBridge(loop: loop, maxBody: settings.maxBodyBytes, requestTimeoutMs: Self.requestTimeoutMs) else {
            throw ServerError("cannot start the HTTP endpoint (out of memory)")
        }
        let stream = UVStream(loop: loop, kind: .tcp)
        var rc = stream.bindTCP(host: address.host, port: address.port)
        if rc == 0 { rc = stream.listen() }
        guard rc == 0 else {
            stream.close()
            bridge.free()
            throw ServerError("cannot listen for HTTP on \(address.host):\(address.port): \(uvError(rc))")
        }
        bridge.onRequest = { [unowned self] in received($0) }
        bridge.onProceed = { [unowned self] id in answers[id]?.proceed() ?? console.proceed(id) }
        bridge.onGone = { [unowned self] id in answers[id]?.clientGone() ?? console.gone(id) }
        if let tls { bridge.useTLS(tls.opaque) }
        stream.delegate = self
        stream.refusal = Self.busy
        self.bridge = bridge
        console.live.bridge = bridge
        listener = stream
        log.info("HTTP on \(tls == nil ? "http" : "https")://\(address.host):\(stream.boundPort) (/metrics, /healthz, /readyz, POST /, /console/)"
                 + (dispatcher.services.needsToken ? " (bearer token required for /metrics and POST)" : ""), event: "listening")
    }

    /// Serves HTTPS with this context from now on (at start, and after a SIGHUP
    /// reload): a context of its own, whose failed handshakes (h2o runs them)
    /// are counted into `storage_proxy_tls_failures_total`.
    func useTLS(_ context: TLSContext) {
        retiredTLSFailures += tls?.handshakeFailures ?? 0
        context.countHandshakeFailures()
        tls = context
        console.secure = true
        bridge?.useTLS(context.opaque)
    }

    /// HTTPS handshakes that failed, under every context used so far.
    var tlsFailures: UInt64 { retiredTLSFailures + (tls?.handshakeFailures ?? 0) }
    private var retiredTLSFailures: UInt64 = 0

    // MARK: - Accepting

    private static let busy = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n".utf8)

    func streamDidAccept(_ listener: UVStream) {
        guard let fd = listener.takeAcceptedDescriptor(), let bridge else { return }
        if bridge.openSockets >= settings.maxConnections || stopping {
            dispatcher.stats.rejected(stopping ? .stopping : .maxConnections)
            Self.busy.withUnsafeBytes { _ = send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            Glibc.close(fd)
            return
        }
        if !bridge.accept(fd) { dispatcher.stats.rejected(.acceptFailed) }
    }
    func stream(_ stream: UVStream, didRead bytes: UnsafeRawBufferPointer) {}
    func streamDidEnd(_ stream: UVStream, error: Int32?) {}
    func streamDidDrain(_ stream: UVStream) {}

    // MARK: - Requests

    private enum Route: String { case healthz = "/healthz", readyz = "/readyz", metrics = "/metrics", rpc = "/", other }

    /// How a handler answers: a status and a body, the content type, the methods
    /// of a 405, whether to ask for a bearer token, whether the connection closes after.
    private struct Reply {
        let send: (_ status: Int, _ body: String, _ type: String, _ allow: String?, _ challenge: Bool, _ close: Bool,
                   _ headers: [(String, String)]) -> Void
        func callAsFunction(_ status: Int, _ body: String, type: String = HTTPEndpoint.text, allow: String? = nil,
                            challenge: Bool = false, close: Bool = false, headers: [(String, String)] = []) {
            send(status, body, type, allow, challenge, close, headers)
        }
    }
    private static let text = "text/plain; charset=utf-8"

    private func received(_ request: HTTPRequest) {
        let isConsole = ConsoleRoutes.owns(request.path)
        let route = Route(rawValue: request.path) ?? .other
        let reply = Reply { [weak self] status, body, type, allow, challenge, close, headers in
            guard let self else { return }
            dispatcher.stats.httpRequests["\(status) \(isConsole ? "/console/" : route.rawValue)", default: 0] += 1
            bridge?.respond(request.id, status: status, contentType: type, allow: allow,
                            authenticate: challenge ? "Bearer realm=\"storage-proxy\"" : nil, close: close, headers: headers,
                            body: Array(body.utf8))
        }
        // A body whose length two headers tell differently is where request smuggling
        // hides (RFC 9112 §6.1, §6.3): refused, and the connection closed before
        // anything behind it on the connection is read as a request.
        if let problem = request.framingProblem {
            return reply(400, "bad request: \(problem) (RFC 9112 §6.3)\n", close: true)
        }
        if isConsole {
            if stopping { return reply(503, "stopping\n") }
            return console.handle(request, now: MonotonicClock.coarseSeconds(),
                                  respond: { status, body, type, headers in reply(status, body, type: type, headers: headers) },
                                  wrongToken: { wrongToken(request, reply) })
        }
        switch route {
        case .other:
            reply(404, "not found: \(Self.printable(request.path)) (try /metrics, /healthz, /readyz or POST /)\n")
        case .healthz, .readyz, .metrics:
            guard request.method == "GET" || request.method == "HEAD" else {
                return reply(405, "\(route.rawValue) answers GET\n", allow: "GET, HEAD")
            }
            probe(route, request, reply)
        case .rpc:
            guard request.method == "POST" else { return reply(405, "POST a JSON-RPC request to /\n", allow: "POST") }
            if stopping { return reply(503, "stopping\n") }
            rpc(request, reply)
        }
    }

    /// `/healthz` (the process), `/readyz` (storage), `/metrics` (an admin bearer token when tokens are configured).
    private func probe(_ route: Route, _ request: HTTPRequest, _ reply: Reply) {
        switch route {
        case .healthz:
            reply(200, "ok\n")
        case .readyz:
            if stopping { return reply(503, "stopping\n") }
            host.readiness { why in reply(why == nil ? 200 : 503, (why ?? "ready") + "\n") }
        default:
            let bearer = bearer(request)
            if case .scope(let scope) = bearer, scope.admin { return reply(200, host.metrics(), type: PrometheusText.contentType) }
            if case .wrong = bearer { return wrongToken(request, reply) }
            reply(401, "unauthorized: send Authorization: Bearer <server.auth_token, or an admin token>\n", challenge: true)
        }
    }

    /// A wrong bearer token, as a wrong `auth` on a line: counted and logged
    /// (`Services.authFailed`), answered after `server.auth_failure_delay_ms`,
    /// and the connection's `server.max_auth_failures`-th closes it.
    private func wrongToken(_ request: HTTPRequest, _ reply: Reply) {
        dispatcher.services.authFailed(client: "h\(request.id)@\(request.peer)")
        let now = MonotonicClock.coarseSeconds()
        let silent = Double(Self.requestTimeoutMs) / 1000
        if authFailures.count > 256 { authFailures = authFailures.filter { now - $0.value.at <= silent } }  // closed connections
        let count = (authFailures[request.connection].map { now - $0.at <= silent ? $0.count : 0 } ?? 0) + 1
        let closing = count >= settings.maxAuthFailures
        authFailures[request.connection] = closing ? nil : (count, now)
        loop.after(ms: settings.authFailureDelayMs) {
            reply(401, closing ? "unauthorized: wrong token; too many wrong tokens, the connection closes\n" : "unauthorized: wrong token\n",
                  challenge: true, close: closing)
        }
    }

    /// `POST /`: the body through `HTTPCall`, in a session the bearer token opened (or not yet, as a line before `auth`).
    private func rpc(_ request: HTTPRequest, _ reply: Reply) {
        let scope: Scope?
        switch bearer(request) {
        case .malformed: return reply(400, "Authorization must be: Bearer <token>\n", challenge: true)
        case .wrong: return wrongToken(request, reply)
        case .absent:
            switch console.scope(for: request, now: MonotonicClock.coarseSeconds()) {
            case nil: scope = nil  // only `auth` (in the body) opens the session
            case .success(let s)?: scope = s  // the console's session, its CSRF token sent back
            case .failure(let refusal)?: return reply(403, "forbidden: \(refusal.reason)\n")
            }
        case .scope(let s): scope = s
        }
        guard let bridge else { return }
        let call = HTTPCall(body: request.body, dispatcher: dispatcher, session: host.newSession(scope, "h\(request.id)@\(request.peer)",
                                                                                        CallerLane.of(request.connection | 1 << 62)),
                            maxPending: min(dispatcher.limits.maxOutputBytes, 4 * HTTPAnswer.pieceBytes))
        let answer = HTTPAnswer(id: request.id, call: call, bridge: bridge)
        answers[request.id] = answer
        callsInFlight += 1
        answer.onDone = { [weak self] status in
            guard let self else { return }
            answers[request.id] = nil
            host.sessionEnded(call.session)
            callsInFlight -= 1
            if status > 0 { dispatcher.stats.httpRequests["\(status) /", default: 0] += 1 }
            if stopping && callsInFlight == 0 { host.drained() }
        }
        answer.start()
    }

    private enum Bearer { case absent, malformed, wrong, scope(Scope) }

    /// What the `Authorization` header opens: a scope (everything when no token is configured), or why not.
    private func bearer(_ request: HTTPRequest) -> Bearer {
        let services = dispatcher.services
        guard services.needsToken else { return .scope(.full) }
        guard let header = request.authorization else { return .absent }
        guard header.hasPrefix("Bearer ") else { return .malformed }
        return services.scope(forToken: String(header.dropFirst(7))).map { .scope($0) } ?? .wrong
    }

    /// A client's path in a log line or answer: at most 64 printable ASCII bytes.
    private static func printable(_ s: String) -> String {
        String(s.unicodeScalars.prefix(64).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }

    // MARK: - Stopping

    /// No new request is served (503); calls in flight finish (the server
    /// waits for `callsInFlight`). Not h2o's own request_shutdown: in 2.2 it
    /// leaves a timer linked that its context then refuses to dispose.
    func stop() {
        stopping = true
        listener?.close()
        listener = nil
        console.endAll()
        for answer in answers.values { answer.stopIfWaitingForClient() }
    }

    /// After storage closed: h2o goes once its last socket has.
    func close() {
        guard let bridge else { return }
        if bridge.openSockets == 0 { bridge.free(); self.bridge = nil; return }
        // Freed on the next turn, not inside h2o's own close callback.
        bridge.endSockets()
        bridge.onIdle = { [unowned self] in loop.after(ms: 0) { [self] in self.bridge?.free(); self.bridge = nil } }
    }
}
