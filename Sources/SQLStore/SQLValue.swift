import ProxyCore

/// A statement parameter. SQLite binds it typed; PostgreSQL sends it as text
/// (`pgText`), and the statement's cast, where there is one, types it.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case text(String)
    /// Bytes (a BLOB; a BYTEA parameter, sent in its `\\x` hex text form).
    case blob([UInt8])

    /// libpq's text format; nil is NULL.
    public var pgText: String? {
        switch self {
        case .null: return nil
        case .int(let n): return String(n)
        case .text(let s): return s
        case .blob(let bytes): return Self.byteaHex(bytes)
        }
    }

    private static func byteaHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 2 + bytes.count * 2) { out in
            out[0] = UInt8(ascii: "\\"); out[1] = UInt8(ascii: "x")
            for (i, b) in bytes.enumerated() {
                out[2 + 2 * i] = digits[Int(b >> 4)]
                out[3 + 2 * i] = digits[Int(b & 15)]
            }
            return 2 + bytes.count * 2
        }
    }
}

extension SQLDialect {
    func value(_ b: Bool) -> SQLValue { self == .sqlite ? .int(b ? 1 : 0) : .text(b ? "true" : "false") }
    func value(_ t: Timestamp?) -> SQLValue { t.map { .text($0.rfc3339) } ?? .null }
    func value(_ s: String?) -> SQLValue { s.map { .text($0) } ?? .null }
    func value(json object: JSONObject?) -> SQLValue { object.map { .text(JSONValue.object($0).jsonText) } ?? .null }
}
