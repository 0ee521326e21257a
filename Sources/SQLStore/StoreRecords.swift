import ProxyCore
import StoragePorts

/// A namespace of LangGraph's store: its labels, stored joined by "."
/// (`Schema.store`). No label holds a "." (LangGraph refuses those, as the
/// proxy does), so joined text orders as the tuples do and a namespace
/// prefix is a key range.
public struct StoreNamespace: Hashable, Sendable {
    public let labels: [String]

    public init(_ labels: [String]) { self.labels = labels }

    public init(stored prefix: String) { labels = prefix.isEmpty ? [] : prefix.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }

    public var stored: String { labels.joined(separator: ".") }

    public var json: JSONValue { .array(labels.map { .string($0) }) }

    /// Whether `path` (labels, "*" any one) matches the start (`prefix`) or the end of this namespace.
    public func matches(_ path: [String], atEnd: Bool) -> Bool {
        guard labels.count >= path.count else { return false }
        let mine = atEnd ? Array(labels.suffix(path.count)) : Array(labels.prefix(path.count))
        return zip(mine, path).allSatisfy { $1 == "*" || $0 == $1 }
    }
}

/// One stored item as the store answers it.
public struct StoreItem: JSONWritable {
    public var namespace: StoreNamespace
    public var key: String
    public var value: String  // JSON text as stored
    public var createdAt, updatedAt: Timestamp
    /// A `query` search's similarity (cosine, the best of the item's fields); nil otherwise.
    public var score: Double? = nil
    /// It has a TTL (a read with `refresh_ttl` starts it again). Not answered.
    public var hasTTL = false

    public func writeJSON(into out: inout [UInt8]) {
        JSONWriter.raw("{\"namespace\":", into: &out)
        namespace.json.writeJSON(into: &out)
        JSONWriter.raw(",\"key\":", into: &out)
        JSONWriter.string(key, into: &out)
        JSONWriter.raw(",\"value\":", into: &out)
        out.append(contentsOf: value.utf8)
        JSONWriter.raw(",\"created_at\":", into: &out)
        JSONWriter.string(createdAt.rfc3339, into: &out)
        JSONWriter.raw(",\"updated_at\":", into: &out)
        JSONWriter.string(updatedAt.rfc3339, into: &out)
        if let score {
            JSONWriter.raw(",\"score\":", into: &out)
            out.append(contentsOf: (score.isFinite ? String(score) : "0").utf8)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// A store filter, as LangGraph's stores read one: each key of the item's
/// value matches its condition. A condition is a value (equal; an object
/// matches key by key, an array element by element) or operators (`$eq`,
/// `$ne`, `$gt`, `$gte`, `$lt`, `$lte`: numbers by value, strings in byte order).
public struct StoreFilter: Sendable {
    public let conditions: JSONObject

    public static let operators: Set<String> = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]

    /// Checks every operator name (-32602 naming the field) before anything runs.
    public init(_ conditions: JSONObject) throws(ProxyError) {
        func check(_ v: JSONValue, _ path: String) throws(ProxyError) {
            guard case .object(let o) = v else { return }
            for (k, inner) in o.members {
                if k.hasPrefix("$") {
                    guard Self.operators.contains(k) else {
                        throw .invalidParams(field: "filter.\(path)", reason: "\(k) is not one of $eq, $ne, $gt, $gte, $lt, $lte")
                    }
                } else {
                    try check(inner, path + "." + k)
                }
            }
        }
        for (k, v) in conditions.members { try check(v, k) }
        self.conditions = conditions
    }

    public func matches(_ value: JSONValue) -> Bool {
        conditions.members.allSatisfy { key, condition in Self.compare(value.objectValue?[key] ?? .null, condition) }
    }

    static func compare(_ item: JSONValue, _ condition: JSONValue) -> Bool {
        switch condition {
        case .object(let o) where o.members.contains(where: { $0.key.hasPrefix("$") }):
            return o.members.allSatisfy { apply($0.key, item, $0.value) }
        case .object(let o):
            guard case .object(let mine) = item else { return false }
            return o.members.allSatisfy { compare(mine[$0.key] ?? .null, $0.value) }
        case .array(let expected):
            guard case .array(let mine) = item, mine.count == expected.count else { return false }
            return zip(mine, expected).allSatisfy { compare($0, $1) }
        default:
            return equal(item, condition)
        }
    }

    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    private static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: return nil
        }
    }

    private static func apply(_ op: String, _ item: JSONValue, _ operand: JSONValue) -> Bool {
        switch op {
        case "$eq": return equal(item, operand)
        case "$ne": return !equal(item, operand)
        default: break
        }
        let order: Int?
        if let x = number(item), let y = number(operand) {
            order = x < y ? -1 : x > y ? 1 : 0
        } else if case .string(let x) = item, case .string(let y) = operand {
            order = x == y ? 0 : x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        } else {
            order = nil  // not comparable: no match
        }
        guard let order else { return false }
        switch op {
        case "$gt": return order > 0
        case "$gte": return order >= 0
        case "$lt": return order < 0
        default: return order <= 0
        }
    }
}
