/// A JSON value as it travels through the proxy.
///
/// Objects keep their members in the order they were sent (a small array of
/// pairs, not a dictionary): request objects are tiny, a linear lookup is
/// cheaper than hashing, and a task's extra fields come back as they went in.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// Integers that fit in 64 bits stay exact.
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// An ordered JSON object; later duplicates of a key win on lookup, as in most parsers.
public struct JSONObject: Equatable, Sendable {
    public var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }

    public subscript(key: String) -> JSONValue? {
        get {
            var i = members.count - 1
            while i >= 0 {
                if members[i].key == key { return members[i].value }
                i -= 1
            }
            return nil
        }
        set {
            members.removeAll { $0.key == key }
            if let newValue { members.append((key, newValue)) }
        }
    }

    public var keys: [String] { members.map(\.key) }

    /// JSON equality: objects are unordered (PostgreSQL's `jsonb`, for one,
    /// does not keep member order), so the same keys with equal values are equal.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        if a.members.count == b.members.count,
           zip(a.members, b.members).allSatisfy({ $0.key == $1.key && $0.value == $1.value }) {
            return true  // same order: the common case, no lookups
        }
        let keys = Set(a.keys)
        guard keys == Set(b.keys) else { return false }
        return keys.allSatisfy { a[$0] == b[$0] }
    }
}

extension JSONValue {
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var isNull: Bool { self == .null }

    /// An integer, also from a double with no fractional part (`5.0`).
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The JSON type name, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// The path of the first string (or key) holding U+0000, if any: the
    /// contract rejects those for every backend alike (PostgreSQL cannot store them).
    /// Paths are built only on the way out of a hit: the common case allocates nothing.
    public func pathOfNULString(prefix: String) -> String? {
        guard containsNUL else { return nil }
        switch self {
        case .string:
            return prefix
        case .array(let items):
            for (i, item) in items.enumerated() where item.containsNUL {
                return item.pathOfNULString(prefix: "\(prefix)[\(i)]")
            }
            return nil
        case .object(let o):
            for (k, v) in o.members where Self.hasNUL(k) || v.containsNUL {
                let path = prefix.isEmpty ? k : "\(prefix).\(k)"
                return Self.hasNUL(k) ? path : v.pathOfNULString(prefix: path)
            }
            return nil
        default:
            return nil
        }
    }

    private var containsNUL: Bool {
        switch self {
        case .string(let s): return Self.hasNUL(s)
        case .array(let items): return items.contains { $0.containsNUL }
        case .object(let o): return o.members.contains { Self.hasNUL($0.key) || $0.value.containsNUL }
        default: return false
        }
    }

    /// Over the string's bytes in place (a vector in base64 is 2 KB: the
    /// generic `contains` took a sizeable share of a search call).
    private static func hasNUL(_ s: String) -> Bool {
        if let found = s.utf8.withContiguousStorageIfAvailable({ bytes in
            var zero = false
            for b in bytes { zero = zero || b == 0 }  // no early exit: the loop vectorizes
            return zero
        }) { return found }
        return s.utf8.contains(0)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { (key: $0.0, value: $0.1) })
    }
}
