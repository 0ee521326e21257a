/// Reading an error back from the wire (clients): the inverse of
/// `code`/`message`/`data`, so a client throws the same enum the server used.
extension ProxyError {
    /// The error for a JSON-RPC `error` member; nil when `code` is not one of ours.
    public init?(code: Int, message: String, data: JSONValue?) {
        let fields = data?.objectValue
        // The message is "Title: detail"; keep the detail, the title comes from the case.
        func detail(_ title: String) -> String {
            message.hasPrefix(title + ": ") ? String(message.dropFirst(title.count + 2)) : (message == title ? "" : message)
        }
        switch code {
        case -32700: self = .parseError(detail("Parse error"))
        case -32600: self = .invalidRequest(detail("Invalid Request"))
        case -32601: self = .methodNotFound(fields?["method"]?.stringValue ?? detail("Method not found"),
                                            didYouMean: fields?["did_you_mean"]?.stringValue)
        case -32602:
            let field = fields?["field"]?.stringValue ?? ""
            self = .invalidParams(field: field, reason: fields?["reason"]?.stringValue ?? detail("Invalid params"))
        case -32603: self = .internalError(detail("Internal error"))
        case -32001: self = .notFound(detail("Not found"))
        case -32002:
            var rest = fields
            rest?["native"] = nil
            self = .conflict(detail("Conflict"), fields: rest?.isEmpty == false ? rest : nil)
        case -32003:
            self = .backendUnavailable(detail("Backend unavailable"), retryAfterMs: Int(fields?["retry_after_ms"]?.intValue ?? 0))
        case -32004: self = .transactionInvalid(detail("Transaction unknown or expired"))
        case -32005:
            let subject = message.contains(": answer exceeds") ? "answer" : "line"
            self = .requestTooLarge(limit: Int(fields?["limit_bytes"]?.intValue ?? 0), subject: subject)
        case -32006: self = .overloaded(detail("Overloaded"))
        case -32007: self = .unauthorized(detail("Unauthorized"))
        case -32008: self = .timeout(detail("Timeout"))
        default: return nil
        }
    }

    /// Trying again later may succeed (the codes PROTOCOL.md marks retryable).
    public var isRetryable: Bool {
        switch self {
        case .backendUnavailable, .overloaded, .timeout: return true
        default: return false
        }
    }
}
