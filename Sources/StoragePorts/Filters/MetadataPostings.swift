import ProxyCore

/// Which documents hold which value under each top-level metadata key (a
/// list's elements each): a selective filter's candidates without testing
/// it on every document. A filter whose root holds an equality or `$in` on a
/// plain key (`{"user": "u7", "year": {"$gte": 2020}}`) takes that key's
/// documents as its candidates, and is then tested on those alone.
public struct MetadataPostings: Sendable {
    private var holders: [String: [Scalar: Set<String>]] = [:]
    /// About what the postings hold (each entry's slot in its set, and each value's set).
    public private(set) var byteCount = 0

    public init() {}

    /// The (key, value) pairs a document is found under.
    private static func entries(_ metadata: JSONObject?) -> [(String, Scalar)] {
        guard let metadata else { return [] }
        var out: [(String, Scalar)] = []
        for (key, value) in metadata.members {
            if case .array(let elements) = value {
                for e in elements { if let s = Scalar(e) { out.append((key, s)) } }
            } else if let s = Scalar(value) {
                out.append((key, s))
            }
        }
        return out
    }

    private static let entryBytes = (MemoryLayout<String>.stride + 8) * 4 / 3
    private static let valueBytes = 128  // a dictionary slot and an empty set's storage

    /// About what a document adds (a loader's bound, before it adds it).
    public static func bytesToAdd(_ metadata: JSONObject?) -> Int { entries(metadata).count * (entryBytes + 16) }

    public mutating func add(id: String, _ metadata: JSONObject?) {
        for (key, value) in Self.entries(metadata) {
            if holders[key, default: [:]][value, default: []].insert(id).inserted {
                byteCount += Self.entryBytes + (holders[key]![value]!.count == 1 ? Self.valueBytes : 0)
            }
        }
    }

    /// `metadata`: what the document was added with.
    public mutating func remove(id: String, _ metadata: JSONObject?) {
        for (key, value) in Self.entries(metadata) {
            guard holders[key]?[value]?.remove(id) != nil else { continue }
            byteCount -= Self.entryBytes
            if holders[key]![value]!.isEmpty {
                holders[key]![value] = nil
                byteCount -= Self.valueBytes
                if holders[key]!.isEmpty { holders[key] = nil }
            }
        }
    }

    /// The ids the filter can pass, from the smallest equality or `$in` on a
    /// plain key at its root (every document it passes holds one of them);
    /// nil when its root has none.
    public func candidates(for filter: MetadataFilter) -> Set<String>? {
        var best: Set<String>?
        for (path, condition) in filter.rootTests where path.parts.count == 1 {
            let found: Set<String>
            switch condition {
            case .equal(let s): found = holders[path.name]?[s] ?? []
            case .oneOf(let set): found = set.values.reduce(into: Set<String>()) { $0.formUnion(holders[path.name]?[$1] ?? []) }
            default: continue
            }
            if best == nil || found.count < best!.count { best = found }
        }
        return best
    }
}

extension MetadataFilter {
    /// The field tests every passing document must meet: the root when it is
    /// a test, else the tests among the operands of the root `$and` and of
    /// the `$and`s among those (a worklist over the postfix program: no recursion).
    var rootTests: [(FieldPath, Condition)] {
        var tests: [(FieldPath, Condition)] = []
        var ends = steps.isEmpty ? [] : [steps.count - 1]  // the last steps of subtrees all passing documents meet
        while let end = ends.popLast() {
            switch steps[end] {
            case .test(let path, let condition): tests.append((path, condition))
            case .and(let n):
                var operandEnd = end - 1
                for _ in 0..<n {
                    ends.append(operandEnd)
                    operandEnd = start(ofOperandEndingAt: operandEnd) - 1
                }
            case .or, .not: break
            }
        }
        return tests
    }

    /// Where the subtree whose last step is `end` begins (postfix: walk back
    /// until every operand it needs has been counted).
    private func start(ofOperandEndingAt end: Int) -> Int {
        var i = end, needed = 1
        while true {
            switch steps[i] {
            case .test: needed -= 1
            case .and(let k), .or(let k): needed += k - 1
            case .not: break
            }
            if needed == 0 { return i }
            i -= 1
        }
    }
}
