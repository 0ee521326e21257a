import ProxyCore

/// A filter on documents' metadata, in the vocabulary of Chroma, Qdrant,
/// LangChain and LlamaIndex (`MetadataFilter.parse` reads it; PROTOCOL.md
/// "Filters"): conditions on fields (`$eq $ne $gt $gte $lt $lte $in $nin
/// $exists`, dotted paths into nested objects) joined by `$and`, `$or`, `$not`.
///
/// Kept as a postfix program, run with a stack of booleans: evaluating a
/// client's filter, however nested, never recurses.
public struct MetadataFilter: Sendable {
    /// One field condition.
    public enum Condition: Sendable {
        case equal(Scalar)
        case notEqual(Scalar)
        case greater(Scalar), greaterOrEqual(Scalar), less(Scalar), lessOrEqual(Scalar)
        case oneOf(ScalarSet)
        case noneOf(ScalarSet)
        case exists(Bool)
    }

    public enum Step: Sendable {
        /// Pushes whether the field's value meets the condition.
        case test(FieldPath, Condition)
        /// Pops `n` results, pushes whether all (`and`) or any (`or`) held.
        case and(Int), or(Int)
        case not
    }

    public let steps: [Step]

    public init(steps: [Step]) { self.steps = steps }

    /// Whether the metadata passes (a document without metadata has no fields).
    /// The stack lives on the call stack (a filter runs once per candidate document).
    public func accepts(_ metadata: JSONObject?) -> Bool {
        withUnsafeTemporaryAllocation(of: Bool.self, capacity: max(steps.count, 1)) { stack in
            var top = 0
            for step in steps {
                switch step {
                case .test(let path, let condition):
                    stack[top] = Self.meets(path.value(in: metadata), condition)
                    top += 1
                case .and(let n):
                    var all = true
                    for i in top - n..<top where !stack[i] { all = false }
                    top -= n
                    stack[top] = all
                    top += 1
                case .or(let n):
                    var any = false
                    for i in top - n..<top where stack[i] { any = true }
                    top -= n
                    stack[top] = any
                    top += 1
                case .not:
                    stack[top - 1].toggle()
                }
            }
            return top == 0 ? true : stack[top - 1]
        }
    }

    /// A field's value against a condition. An array value meets a positive
    /// condition when one of its elements does (as MongoDB reads a list of
    /// tags); `$ne` and `$nin` are the negations of `$eq` and `$in`, so a
    /// missing field passes them. Order compares numbers with numbers and
    /// strings with strings (by code point); anything else does not match.
    static func meets(_ value: JSONValue?, _ condition: Condition) -> Bool {
        switch condition {
        case .exists(let wanted): return (value != nil) == wanted
        case .notEqual(let s): return !meets(value, .equal(s))
        case .noneOf(let set): return !meets(value, .oneOf(set))
        default: break
        }
        guard let value else { return false }
        if case .array(let elements) = value { return elements.contains { meetsOne($0, condition) } }
        return meetsOne(value, condition)
    }

    private static func meetsOne(_ value: JSONValue, _ condition: Condition) -> Bool {
        guard let v = Scalar(value) else { return false }
        return meets(scalar: v, condition)
    }

    /// One scalar against a positive condition (false for `$ne`, `$nin`, `$exists`).
    static func meets(scalar v: Scalar, _ condition: Condition) -> Bool {
        switch condition {
        case .equal(let s): return v == s
        case .oneOf(let set): return set.contains(v)
        case .greater(let s): return v.order(s).map { $0 > 0 } ?? false
        case .greaterOrEqual(let s): return v.order(s).map { $0 >= 0 } ?? false
        case .less(let s): return v.order(s).map { $0 < 0 } ?? false
        case .lessOrEqual(let s): return v.order(s).map { $0 <= 0 } ?? false
        case .notEqual, .noneOf, .exists: return false  // handled by `meets`
        }
    }
}

/// A field named by a dotted path (`author.name`): a key holding the whole
/// name, dots and all, is taken first; otherwise each part steps into an object.
public struct FieldPath: Sendable, Equatable {
    public let name: String
    public let parts: [String]

    public init(_ name: String) {
        self.name = name
        parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    public func value(in metadata: JSONObject?) -> JSONValue? {
        guard let metadata else { return nil }
        if let whole = metadata[name] { return whole }
        guard parts.count > 1, var current = metadata[parts[0]] else { return nil }
        for part in parts.dropFirst() {
            guard case .object(let o) = current, let next = o[part] else { return nil }
            current = next
        }
        return current
    }
}

/// A value a filter compares: numbers by value (1 equals 1.0), so an int
/// and a double that are equal hash alike.
public enum Scalar: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    /// Past 2^53 a double cannot hold every integer: those stay exact.
    case integer(Int64)
    case string(String)

    public init?(_ v: JSONValue) {
        switch v {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = abs(i) <= 1 << 53 ? .number(Double(i)) : .integer(i)
        case .double(let d):
            if d.rounded() == d, abs(d) > Double(1 << 53), abs(d) < 9.2e18 { self = .integer(Int64(d)) } else { self = .number(d) }
        case .string(let s): self = .string(s)
        case .array, .object: return nil
        }
    }

    /// -1, 0 or 1; nil when the two cannot be ordered (a string and a number, booleans, null).
    func order(_ other: Scalar) -> Int? {
        switch (self, other) {
        case (.string(let a), .string(let b)):
            return a == b ? 0 : (a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : 1)
        default:
            guard let a = numeric, let b = other.numeric else { return nil }
            return a < b ? -1 : (a > b ? 1 : 0)
        }
    }

    private var numeric: Double? {
        switch self {
        case .number(let d): return d
        case .integer(let i): return Double(i)
        default: return nil
        }
    }
}

public struct ScalarSet: Sendable {
    let values: Set<Scalar>
    public init(_ values: [Scalar]) { self.values = Set(values) }
    func contains(_ s: Scalar) -> Bool { values.contains(s) }
}
