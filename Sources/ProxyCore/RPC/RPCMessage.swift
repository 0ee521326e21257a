/// A request id exactly as the client wrote it: a number keeps its literal
/// text (`1e2`, `-0`, `18446744073709551616` come back byte for byte).
public enum RequestID: Sendable, Equatable, JSONWritable {
    case null
    case string(String)
    case number(String)

    public func writeJSON(into out: inout [UInt8]) {
        switch self {
        case .null: JSONWriter.raw("null", into: &out)
        case .string(let s): JSONWriter.string(s, into: &out)
        case .number(let literal): out.append(contentsOf: literal.utf8)
        }
    }
}

extension RequestID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

/// A JSON-RPC 2.0 request after validation of its envelope.
public struct RPCRequest: Sendable {
    /// `nil` for a notification (no `id` member): it runs, nothing is answered.
    public var id: RequestID?
    public var method: String
    public var params: JSONObject

    public init(id: RequestID?, method: String, params: JSONObject) {
        self.id = id
        self.method = method
        self.params = params
    }

    public var isNotification: Bool { id == nil }
}

/// One entry of a line: a request, or the error answer for an entry that
/// could not become one (answered with the id when it could be read; nil:
/// a notification, whose errors are counted and never answered).
public enum RPCEntry: Sendable {
    case request(RPCRequest)
    case invalid(id: RequestID?, ProxyError)
}

/// What one line of input holds.
public enum RPCLine: Sendable {
    case single(RPCEntry)
    case batch([RPCEntry])

    /// Decodes one line (without its newline).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = JSONParser.defaultMaxDepth) -> RPCLine {
        let value: JSONValue, numericIDs: [Int: String]
        do {
            (value, numericIDs) = try JSONParser.parseRequestLine(bytes, maxDepth: maxDepth)
        } catch {
            switch error {
            case .syntax(let why, let offset):
                return .single(.invalid(id: .null, .parseError("\(why) at byte \(offset)")))
            case .tooDeep(let limit):
                return .single(.invalid(id: .null, .invalidRequest("nesting deeper than \(limit) levels")))
            }
        }
        switch value {
        case .array(let items):
            if items.isEmpty { return .single(.invalid(id: .null, .invalidRequest("empty batch"))) }
            return .batch(items.enumerated().map { entry($1, numericID: numericIDs[$0]) })
        default:
            return .single(entry(value, numericID: numericIDs[0]))
        }
    }

    static func entry(_ value: JSONValue, numericID: String?) -> RPCEntry {
        guard case .object(let o) = value else {
            return .invalid(id: .null, .invalidRequest("a request must be a JSON object"))
        }
        var id: RequestID? = nil
        if let raw = o["id"] {
            switch raw {
            case .string(let s): id = .string(s)
            case .null: id = .null
            case .int(let n): id = .number(numericID ?? String(n))  // a short decimal is an inline String: no allocation
            case .double: id = .number(numericID ?? raw.jsonText)
            default: return .invalid(id: .null, .invalidRequest("id must be a string, a number or null"))
            }
        }
        // Without a valid envelope it is no request, so no notification either:
        // answered, with null when there was no id (JSON-RPC 2.0 §5).
        let answerID = id ?? RequestID.null
        if let version = o["jsonrpc"], version != .string("2.0") {
            return .invalid(id: answerID, .invalidRequest("jsonrpc must be \"2.0\""))
        }
        guard case .string(let method)? = o["method"] else {
            return .invalid(id: answerID, .invalidRequest("method must be a string"))
        }
        // From here it is a request: one without an id is a notification and
        // is never answered, whatever is wrong with its params (§4.1).
        var params = JSONObject()
        switch o["params"] {
        case nil, .null?: break
        case .object(let p)?: params = p
        case .array?: return .invalid(id: id, .invalidParams(field: "params", reason: "must be an object of named parameters"))
        default: return .invalid(id: id, .invalidRequest("params must be an object"))
        }
        return .request(RPCRequest(id: id, method: method, params: params))
    }
}

/// Encoding of responses straight into an output buffer.
public enum RPCResponse {
    public static func writeResult(id: RequestID, result: some JSONWritable, into out: inout [UInt8]) {
        JSONWriter.raw("{\"jsonrpc\":\"2.0\",\"id\":", into: &out)
        id.writeJSON(into: &out)
        JSONWriter.raw(",\"result\":", into: &out)
        result.writeJSON(into: &out)
        out.append(UInt8(ascii: "}"))
    }

    public static func writeError(id: RequestID, error: ProxyError, into out: inout [UInt8]) {
        JSONWriter.raw("{\"jsonrpc\":\"2.0\",\"id\":", into: &out)
        id.writeJSON(into: &out)
        JSONWriter.raw(",\"error\":{\"code\":", into: &out)
        JSONWriter.int(Int64(error.code), into: &out)
        JSONWriter.raw(",\"message\":", into: &out)
        JSONWriter.string(error.message, into: &out)
        if let data = error.data {
            JSONWriter.raw(",\"data\":", into: &out)
            data.writeJSON(into: &out)
        }
        JSONWriter.raw("}}", into: &out)
    }
}
