import ProxyCore
import StoragePorts

/// `/console/` on the HTTP listener: the operator's console (PROTOCOL.md,
/// "Console"). Its pages are static (`ConsoleAssets`, built into the binary);
/// what they show comes from the JSON-RPC methods through `POST /` with the
/// session's cookie and CSRF token, and from `/console/live`.
///
///   GET  /console/          the console, or its login page without a session
///   GET  /console/<asset>   its script and style sheet
///   POST /console/login     {"token": …} (an admin token): opens a session
///   POST /console/logout    ends it
///   GET  /console/session   the session's CSRF token
///   GET  /console/live      `server.status` each second (server-sent events)
///   GET  /console/events    live events (`ConsoleEventStream`)
///
/// Every answer carries a strict Content-Security-Policy (no inline script or
/// style, nothing from elsewhere) and refuses to be framed. Loop thread only.
final class ConsoleRoutes {
    /// How an answer goes out: status, body, content type, extra headers.
    typealias Respond = (_ status: Int, _ body: String, _ type: String, _ headers: [(String, String)]) -> Void

    let sessions = ConsoleSessions()
    let live: ConsoleLive
    private let services: Services
    /// `server.tls` is set: the cookie is `Secure`.
    var secure = false
    /// A proxy session for an events stream, and its end (the server's, as for `POST /`).
    var newSession: (Scope, UInt64) -> Session = { _, _ in fatalError("set by HTTPEndpoint") }
    var sessionEnded: (Session) -> Void = { _ in }
    /// Event streams by request id.
    private var streams: [UInt64: ConsoleEventStream] = [:]

    static let securityHeaders: [(String, String)] = [
        ("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ]

    init(services: Services, live: ConsoleLive) {
        self.services = services
        self.live = live
    }

    static func owns(_ path: String) -> Bool { path == "/console" || path.hasPrefix("/console/") }

    func handle(_ request: HTTPRequest, now: Double, respond: @escaping Respond, wrongToken: () -> Void) {
        let path = String(request.path.prefix { $0 != "?" })
        let answer = { (status: Int, body: String, type: String, extra: [(String, String)]) in
            respond(status, body, type, Self.securityHeaders + extra)
        }
        let json = "application/json; charset=utf-8", text = "text/plain; charset=utf-8"
        guard services.needsToken else {
            return answer(403, "the console opens with an admin token: set server.auth_token (or an admin grant in server.tokens)\n", text, [])
        }
        let session = sessions.find(cookie: request.cookie, now: now)
        switch (request.method, path) {
        case ("GET", "/console"):
            answer(303, "", text, [("location", "/console/")])
        case ("GET", "/console/"):
            answer(200, session == nil ? ConsoleAssets.loginPage : ConsoleAssets.consolePage, "text/html; charset=utf-8", [])
        case ("GET", _) where ConsoleAssets.file(at: path) != nil:
            let file = ConsoleAssets.file(at: path)!
            answer(200, file.body, file.type, [])
        case ("POST", "/console/login"):
            // A header a cross-site form cannot send (and a cross-site script may not without a preflight nobody answers).
            guard request.csrfToken != nil else { return answer(403, "the login must send X-CSRF-Token\n", text, []) }
            guard case .object(let body)? = try? JSONParser.parse(request.body), case .string(let token)? = body["token"] else {
                return answer(400, "send {\"token\": \"…\"}\n", text, [])
            }
            guard let scope = services.scope(forToken: token) else { return wrongToken() }
            guard scope.admin else { return answer(403, "the console needs an admin token\n", text, []) }
            let opened = sessions.open(scope, now: now)
            answer(200, "{\"ok\":true}", json, [("set-cookie", cookie(opened.id))])
        case ("POST", "/console/logout"):
            guard let session, guarded(request, session.entry) else { return answer(403, "no session, or no X-CSRF-Token of it\n", text, []) }
            sessions.close(session.id)
            answer(200, "{\"ok\":true}", json, [("set-cookie", cookie(nil))])
        case ("GET", "/console/session"):
            guard let session else { return answer(401, "log in first\n", text, []) }
            answer(200, (["csrf": .string(session.entry.csrf), "version": .string(ProxyServer.build.version)] as JSONValue).jsonText, json, [])
        case ("GET", "/console/live"), ("GET", "/console/events"):
            guard let session else { return answer(401, "log in first\n", text, []) }
            // The status views and the events streams share the bound.
            guard live.count + streams.count < live.maxViewers else {
                return answer(503, "at most \(live.maxViewers) viewers watch at once (server.console_max_viewers)\n", text, [])
            }
            if path == "/console/live" {
                live.add(request.id, headers: Self.securityHeaders)
            } else if let refusal = follow(request, scope: session.entry.scope) {
                answer(refusal.status, refusal.reason + "\n", text, [])
            }
        default:
            answer(404, "not found\n", text, [])
        }
    }

    /// Starts an events stream: a session of its own, subscribed with the
    /// query's filter (`topics`, `agent_name`, `task_id`); or why not.
    private func follow(_ request: HTTPRequest, scope: Scope) -> (status: Int, reason: String)? {
        let query = ConsoleQuery.parse(request.path)
        var filter = Subscription.Filter(topics: [.tasks, .logs], agentName: query["agent_name"], taskID: query["task_id"], threadID: nil)
        if let topics = query["topics"] {
            filter.topics = Set(topics.split(separator: ",").compactMap { ChangeTopic(rawValue: String($0)) })
            guard !filter.topics.isEmpty else { return (400, "topics: any of tasks, logs, checkpoints") }
        }
        if let agents = scope.agents, !(filter.agentName.map(agents.contains) ?? false) {
            return (403, "this token's scope covers some agents only: name one in agent_name")
        }
        let id = request.id
        guard let bridge = live.bridge, bridge.startStream(id, status: 200, contentType: "text/event-stream; charset=utf-8",
                                                           headers: Self.securityHeaders) else { return nil }
        let stream = ConsoleEventStream(id: id, session: newSession(scope, id), bridge: bridge)
        stream.session.outlet = stream
        streams[id] = stream
        stream.hello()
        services.events.subscribe(filter, for: stream.session) { [weak self] result in
            switch result {
            case .success(let subscription): self?.services.events.activate(subscription)
            case .failure(let error):
                stream.end(reason: error.message)
                self?.gone(id)
            }
        }
        return nil
    }

    /// A stream's last piece went out (a status view's or an events stream's).
    func proceed(_ id: UInt64) {
        if let stream = streams[id] { stream.proceed() } else { live.proceed(id) }
    }

    /// A stream's client left.
    func gone(_ id: UInt64) {
        if let stream = streams.removeValue(forKey: id) { sessionEnded(stream.session) } else { live.gone(id) }
    }

    /// Every stream ends (the proxy stops).
    func endAll() {
        live.endAll()
        for (id, stream) in streams {
            stream.end(reason: nil)
            streams[id] = nil
            sessionEnded(stream.session)
        }
    }

    /// The scope a `POST /` acts with when it brings the console's cookie
    /// instead of a bearer token: nil without one; refused without the
    /// session's CSRF token in `X-CSRF-Token`.
    func scope(for request: HTTPRequest, now: Double) -> Result<Scope, ConsoleRefusal>? {
        guard ConsoleSessions.sessionID(in: request.cookie) != nil else { return nil }
        guard let session = sessions.find(cookie: request.cookie, now: now) else { return .failure(ConsoleRefusal("the console session ended: log in again")) }
        guard guarded(request, session.entry) else { return .failure(ConsoleRefusal("send the session's X-CSRF-Token")) }
        return .success(session.entry.scope)
    }

    private func guarded(_ request: HTTPRequest, _ entry: ConsoleSessions.Entry) -> Bool {
        guard let sent = request.csrfToken else { return false }
        return Services.same(sent, entry.csrf)
    }

    private func cookie(_ id: String?) -> String {
        let value = id.map { "\(ConsoleSessions.cookieName)=\($0)" } ?? "\(ConsoleSessions.cookieName)=; Max-Age=0"
        return value + "; Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}

struct ConsoleRefusal: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
