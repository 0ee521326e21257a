/// Every error the proxy can answer with: one case per JSON-RPC code pinned in
/// `protocol/PROTOCOL.md`. Backends throw these too (they never see JSON-RPC,
/// only this vocabulary). Messages never carry passwords, connection strings
/// or stack traces: they are built from the fixed titles below plus a detail
/// the thrower chose.
public enum ProxyError: Error, Equatable, Sendable {
    case parseError(String)                                   // -32700
    case invalidRequest(String)                               // -32600
    /// The name the client sent, and the closest method there is when it looks like a typo.
    case methodNotFound(String, didYouMean: String? = nil)    // -32601
    case invalidParams(field: String, reason: String)         // -32602
    case internalError(String, native: NativeCode? = nil)     // -32603
    case notFound(String)                                     // -32001
    /// `fields`: what the client needs to act on it, e.g. a lease's current owner.
    case conflict(String, native: NativeCode? = nil, fields: JSONObject? = nil)  // -32002
    case backendUnavailable(String, retryAfterMs: Int)        // -32003
    case transactionInvalid(String)                           // -32004
    /// A request line, or an answer (`subject: "answer"`), over its byte limit.
    case requestTooLarge(limit: Int, subject: String = "line")  // -32005
    case overloaded(String)                                   // -32006
    case unauthorized(String)                                 // -32007
    case timeout(String)                                      // -32008

    public var code: Int {
        switch self {
        case .parseError: return -32700
        case .invalidRequest: return -32600
        case .methodNotFound: return -32601
        case .invalidParams: return -32602
        case .internalError: return -32603
        case .notFound: return -32001
        case .conflict: return -32002
        case .backendUnavailable: return -32003
        case .transactionInvalid: return -32004
        case .requestTooLarge: return -32005
        case .overloaded: return -32006
        case .unauthorized: return -32007
        case .timeout: return -32008
        }
    }

    public var title: String {
        switch self {
        case .parseError: return "Parse error"
        case .invalidRequest: return "Invalid Request"
        case .methodNotFound: return "Method not found"
        case .invalidParams: return "Invalid params"
        case .internalError: return "Internal error"
        case .notFound: return "Not found"
        case .conflict: return "Conflict"
        case .backendUnavailable: return "Backend unavailable"
        case .transactionInvalid: return "Transaction unknown or expired"
        case .requestTooLarge: return "Request too large"
        case .overloaded: return "Overloaded"
        case .unauthorized: return "Unauthorized"
        case .timeout: return "Timeout"
        }
    }

    /// Title plus detail, e.g. `Invalid params: task.agent_name is required`.
    public var message: String {
        if case .methodNotFound(let name, let suggestion?) = self { return "\(title): \(name) (did you mean \(suggestion)?)" }
        let d = detail
        return d.isEmpty ? title : "\(title): \(d)"
    }

    /// The detail alone, without the title (empty when there is none): for wrapping in another message.
    public var detail: String {
        switch self {
        case .invalidParams(let field, let reason): return "\(field) \(reason)"
        case .requestTooLarge(let limit, let subject): return "\(subject) exceeds \(limit) bytes"
        case .parseError(let d), .invalidRequest(let d), .methodNotFound(let d, _), .internalError(let d, _),
            .notFound(let d), .conflict(let d, _, _), .backendUnavailable(let d, _), .transactionInvalid(let d),
            .overloaded(let d), .unauthorized(let d), .timeout(let d):
            return d
        }
    }

    /// Structured detail for clients (`error.data`).
    public var data: JSONValue? {
        switch self {
        case .invalidParams(let field, let reason): return ["field": .string(field), "reason": .string(reason)]
        case .backendUnavailable(_, let ms): return ["retry_after_ms": .int(Int64(ms)), "retryable": true]
        case .overloaded: return ["retryable": true]
        case .timeout: return ["retryable": true]
        case .requestTooLarge(let limit, _): return ["limit_bytes": .int(Int64(limit))]
        case .methodNotFound(let name, let suggestion):
            return suggestion.map { ["method": .string(name), "did_you_mean": .string($0)] } ?? ["method": .string(name)]
        case .conflict(_, let native, let fields?):
            var data = fields
            if let native { data["native"] = native.json }
            return .object(data)
        case .internalError(_, let native?), .conflict(_, let native?, nil): return ["native": native.json]
        default: return nil
        }
    }

    /// The backend's own code for a failure (a PostgreSQL SQLSTATE, an SQLite
    /// extended result code), for clients that tell failures apart by it;
    /// `error.data.native` on the wire, never part of the message.
    public struct NativeCode: Equatable, Sendable {
        public let backend: String
        public let code: String
        public init(backend: String, code: String) { self.backend = backend; self.code = code }
        var json: JSONValue { ["backend": .string(backend), "code": .string(code)] }
    }

    /// Every case, in code order (documentation and tests).
    public static let allCodes: [(code: Int, title: String)] = ([
        .parseError(""), .invalidRequest(""), .methodNotFound(""), .invalidParams(field: "", reason: ""),
        .internalError(""), .notFound(""), .conflict(""), .backendUnavailable("", retryAfterMs: 0),
        .transactionInvalid(""), .requestTooLarge(limit: 0), .overloaded(""), .unauthorized(""), .timeout(""),
    ] as [ProxyError]).map { (code: $0.code, title: $0.title) }
}
