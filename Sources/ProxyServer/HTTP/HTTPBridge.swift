import CH2O
import EventLoop

/// One HTTP request as the endpoint sees it: copied out of h2o at once, so
/// nothing above this file holds h2o's memory.
struct HTTPRequest {
    let id: UInt64
    let method: String
    let path: String
    let body: [UInt8]
    /// The `Authorization` header's value, if any.
    let authorization: String?
    /// `Cookie` and `X-CSRF-Token` (the console's session and its guard), if any.
    var cookie: String? = nil
    var csrfToken: String? = nil
    /// The client's address (for logs).
    let peer: String
    /// The connection it came on (h2o's number): what auth failures are counted by.
    let connection: UInt64
    /// Why its framing is ambiguous (smuggling shapes, `sp_http_framing_problem`); nil: it is not.
    let framingProblem: String?
}

/// The one place h2o's callbacks enter Swift (see `CH2O/shim.h`). The bridge
/// is retained by h2o's context from `init` until `free()`; requests h2o still
/// holds are kept by id, and one h2o has freed (its client left) is forgotten
/// before an answer could touch it. Loop thread only.
final class HTTPBridge {
    private var server: UnsafeMutablePointer<sp_http>?
    private var live: [UInt64: UnsafeMutablePointer<h2o_req_t>] = [:]
    var onRequest: (HTTPRequest) -> Void = { _ in }
    /// The last socket closed.
    var onIdle: () -> Void = {}
    /// A streamed answer's last piece went out: the next may be sent.
    var onProceed: (UInt64) -> Void = { _ in }
    /// h2o freed a request (its answer is out, or its client left).
    var onGone: (UInt64) -> Void = { _ in }

    init?(loop: UVLoop, maxBody: Int, requestTimeoutMs: UInt64) {
        let context = Unmanaged.passRetained(self).toOpaque()
        server = sp_http_new(UnsafeMutableRawPointer(loop.raw), maxBody, requestTimeoutMs, context,
                             { context, req, id in HTTPBridge.from(context).received(req!, id: id) },
                             { context, id in HTTPBridge.from(context).gone(id) },
                             { context in HTTPBridge.from(context).onIdle() },
                             { context, id in HTTPBridge.from(context).onProceed(id) })
        if server == nil {
            Unmanaged.passUnretained(self).release()
            return nil
        }
    }

    private static func from(_ context: UnsafeMutableRawPointer?) -> HTTPBridge {
        Unmanaged<HTTPBridge>.fromOpaque(context!).takeUnretainedValue()
    }

    var openSockets: Int { server.map { Int(sp_http_open_sockets($0)) } ?? 0 }

    /// Hands an accepted TCP descriptor to h2o (it is closed on failure).
    func accept(_ fd: Int32) -> Bool {
        guard let server else { return false }
        return sp_http_accept(server, fd) == 0
    }

    /// HTTPS from now on: h2o handshakes new connections with this SSL_CTX (kept alive by the caller).
    func useTLS(_ context: OpaquePointer) {
        if let server { sp_http_use_tls(server, context) }
    }

    /// `server.max_line_bytes` after a reload: the largest body from now on.
    func setMaxBody(_ bytes: Int) {
        if let server { sp_http_set_max_body(server, bytes) }
    }

    /// Ends every open connection (at stop, once no call is in flight).
    func endSockets() {
        if let server { sp_http_end_sockets(server) }
    }

    /// Only with no socket open; the bridge is released.
    func free() {
        guard let server else { return }
        self.server = nil
        sp_http_free(server)
        Unmanaged.passUnretained(self).release()
    }

    private func received(_ req: UnsafeMutablePointer<h2o_req_t>, id: UInt64) {
        live[id] = req
        var request = HTTPRequest(id: id, method: Self.string(sp_http_method(req)), path: Self.string(sp_http_path(req)),
                                  body: sp_http_has_body(req) != 0 ? Self.bytes(sp_http_body(req)) : [],
                                  authorization: Self.header(req, "authorization"), peer: Self.peer(req),
                                  connection: sp_http_connection_id(req),
                                  framingProblem: sp_http_framing_problem(req).map { String(cString: $0) })
        request.cookie = Self.header(req, "cookie")
        request.csrfToken = Self.header(req, "x-csrf-token")
        onRequest(request)
    }

    private func gone(_ id: UInt64) {
        live[id] = nil
        onGone(id)
    }

    /// Answers a request, unless its client has gone meanwhile. `close`: the
    /// connection closes once this answer is out.
    func respond(_ id: UInt64, status: Int, contentType: String, allow: String? = nil,
                 authenticate: String? = nil, close: Bool = false, headers: [(String, String)] = [], body: [UInt8]) {
        guard let req = live.removeValue(forKey: id) else { return }
        for (name, value) in headers { sp_http_add_named_header(req, name, value) }
        body.withUnsafeBytes { b in
            sp_http_respond(req, Int32(status), Self.reasonPointer(status), contentType, allow, authenticate, close ? 1 : 0,
                            b.baseAddress, b.count)
        }
    }

    /// Starts an answer sent in pieces (chunked); false when its client has gone.
    func startStream(_ id: UInt64, status: Int, contentType: String, headers: [(String, String)] = []) -> Bool {
        guard let server, let req = live[id] else { return false }
        for (name, value) in headers { sp_http_add_named_header(req, name, value) }
        return sp_http_stream_start(server, req, id, Int32(status), Self.reasonPointer(status), contentType) == 0
    }

    /// The next piece of a streamed answer (after `onProceed` for the one
    /// before); `final` ends it.
    func send(_ id: UInt64, _ bytes: [UInt8], final: Bool) {
        guard let req = live[id] else { return }
        if final { live[id] = nil }
        _ = bytes.withUnsafeBytes { sp_http_stream_send(req, $0.baseAddress, $0.count, final ? 1 : 0) }
    }

    /// Cuts a streamed answer short: the connection closes.
    func abort(_ id: UInt64) {
        guard let req = live.removeValue(forKey: id) else { return }
        sp_http_stream_abort(req)
    }

    private static func reasonPointer(_ status: Int) -> UnsafePointer<CChar> {
        UnsafeRawPointer(reason(status).utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// h2o keeps the reason phrase's pointer until the head is written: a
    /// static string lives forever.
    private static func reason(_ status: Int) -> StaticString {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 303: return "See Other"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 429: return "Too Many Requests"
        case 503: return "Service Unavailable"
        default: return "Error"
        }
    }

    private static func peer(_ req: UnsafeMutablePointer<h2o_req_t>) -> String {
        var name = [CChar](repeating: 0, count: 64)
        return sp_http_peer(req, &name, name.count) == 0 ? String(cString: name) : "http"
    }

    private static func bytes(_ v: h2o_iovec_t) -> [UInt8] {
        guard let base = v.base, v.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: v.len))
    }

    private static func header(_ req: UnsafeMutablePointer<h2o_req_t>, _ name: String) -> String? {
        let value = sp_http_header(req, name)
        return value.len > 0 ? string(value) : nil
    }

    private static func string(_ v: h2o_iovec_t) -> String { String(decoding: bytes(v), as: UTF8.self) }
}
