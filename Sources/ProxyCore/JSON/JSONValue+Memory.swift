/// About how many bytes a value holds in memory beyond its own inline size:
/// each heap allocation (a string past 15 bytes, an array, an object's
/// members) with its header and malloc's rounding. An estimate, for limits
/// that must count what documents cost (`vector.max_memory_bytes`), not a
/// measurement.
extension JSONValue {
    public var heapBytes: Int {
        switch self {
        case .null, .bool, .int, .double: return 0
        case .string(let s): return Self.heapBytes(of: s)
        case .array(let items):
            return Self.allocation(items.count * MemoryLayout<JSONValue>.stride) + items.reduce(0) { $0 + $1.heapBytes }
        case .object(let o): return o.heapBytes
        }
    }

    static func heapBytes(of s: String) -> Int {
        let n = s.utf8.count
        return n <= 15 ? 0 : allocation(n + 1)  // up to 15 UTF-8 bytes live inside the String
    }

    /// An allocation's cost: Swift's object header, malloc's own word, rounded to 16.
    static func allocation(_ payload: Int) -> Int { (payload + 32 + 8 + 15) / 16 * 16 }
}

extension JSONObject {
    public var heapBytes: Int {
        JSONValue.allocation(members.count * MemoryLayout<(key: String, value: JSONValue)>.stride)
            + members.reduce(0) { $0 + JSONValue.heapBytes(of: $1.key) + $1.value.heapBytes }
    }
}
