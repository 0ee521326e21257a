import ProxyCore

/// A statement parameter. SQLite binds it typed; PostgreSQL sends it as text
/// (`pgText`), and the statement's cast, where there is one, types it.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case text(String)

    /// libpq's text format; nil is NULL.
    public var pgText: String? {
        switch self {
        case .null: return nil
        case .int(let n): return String(n)
        case .text(let s): return s
        }
    }
}

extension SQLDialect {
    func value(_ b: Bool) -> SQLValue { self == .sqlite ? .int(b ? 1 : 0) : .text(b ? "true" : "false") }
    func value(_ t: Timestamp?) -> SQLValue { t.map { .text($0.rfc3339) } ?? .null }
    func value(_ s: String?) -> SQLValue { s.map { .text($0) } ?? .null }
    func value(json object: JSONObject?) -> SQLValue { object.map { .text(JSONValue.object($0).jsonText) } ?? .null }
}
