import ProxyCore

/// Which documents hold which value under each metadata field — top-level
/// keys and dotted paths into nested objects alike, a list's elements each:
/// a selective filter's candidates without testing it on every document.
/// `candidates(for:limit:)` reads them for equalities, `$in` and ranges,
/// joined by `$and` and `$or`; the filter is then tested on the candidates
/// alone.
public struct MetadataPostings: Sendable {
    private var holders: [String: [Scalar: Set<String>]] = [:]
    /// How many documents hold a list under each field: conditions on such a
    /// field may each be met by another element, so they narrow one by one.
    private var listHolders: [String: Int] = [:]
    /// About what the postings hold (each entry's slot in its set, and each value's set).
    public private(set) var byteCount = 0

    public init() {}

    /// The (field, value) pairs a document is found under, and the fields
    /// where it holds a list. A nested object's fields are named by their
    /// dotted path (`doc.year`), as a filter names them; a worklist, not
    /// recursion, walks the nesting.
    private static func entries(_ metadata: JSONObject?) -> (values: [(String, Scalar)], lists: [String]) {
        guard let metadata else { return ([], []) }
        var out: [(String, Scalar)] = [], lists: [String] = []
        var objects: [(prefix: String, JSONObject)] = [("", metadata)]
        while let (prefix, object) = objects.popLast() {
            for (key, value) in object.members {
                let field = prefix.isEmpty ? key : prefix + "." + key
                switch value {
                case .array(let elements):
                    lists.append(field)
                    for e in elements { if let s = Scalar(e) { out.append((field, s)) } }
                case .object(let inner): objects.append((field, inner))
                default: if let s = Scalar(value) { out.append((field, s)) }
                }
            }
        }
        return (out, lists)
    }

    private static let entryBytes = (MemoryLayout<String>.stride + 8) * 4 / 3
    private static let valueBytes = 128  // a dictionary slot and an empty set's storage

    /// About what a document adds (a loader's bound, before it adds it).
    public static func bytesToAdd(_ metadata: JSONObject?) -> Int { entries(metadata).values.count * (entryBytes + 16) }

    public mutating func add(id: String, _ metadata: JSONObject?) {
        let (values, lists) = Self.entries(metadata)
        for (key, value) in values {
            if holders[key, default: [:]][value, default: []].insert(id).inserted {
                byteCount += Self.entryBytes + (holders[key]![value]!.count == 1 ? Self.valueBytes : 0)
            }
        }
        for field in lists { listHolders[field, default: 0] += 1 }
    }

    /// `metadata`: what the document was added with.
    public mutating func remove(id: String, _ metadata: JSONObject?) {
        let (values, lists) = Self.entries(metadata)
        for (key, value) in values {
            guard holders[key]?[value]?.remove(id) != nil else { continue }
            byteCount -= Self.entryBytes
            if holders[key]![value]!.isEmpty {
                holders[key]![value] = nil
                byteCount -= Self.valueBytes
                if holders[key]!.isEmpty { holders[key] = nil }
            }
        }
        for field in lists {
            listHolders[field, default: 0] -= 1
            if listHolders[field]! <= 0 { listHolders[field] = nil }
        }
    }

    /// A subtree of the filter on the way to its candidates: conditions on
    /// one field not read yet (an `$and` may add more), or ids (nil: any
    /// document may pass).
    private enum Narrowing {
        case field(String, [MetadataFilter.Condition])
        case ids(Set<String>?)
    }

    /// A set of ids holding every document the filter passes (it may hold
    /// more: the filter is tested on each), or nil when the postings cannot
    /// narrow it to at most `limit` ids — then testing every document is
    /// the cheaper way. Run over the filter's postfix program with a stack
    /// (no recursion): field conditions give the holders of the values
    /// meeting them (`$ne`, `$nin`, `$exists` and `$not` narrow nothing),
    /// those of an `$and` on one field together (a range `{"$gte": a,
    /// "$lt": b}` reads only the values inside it), an `$and` the smallest
    /// of its operands' sets, an `$or` their union.
    public func candidates(for filter: MetadataFilter, limit: Int = .max) -> Set<String>? {
        var stack: [Narrowing] = []
        for step in filter.steps {
            switch step {
            case .test(let path, let condition):
                stack.append(.field(path.name, [condition]))
            case .and(let n):
                let operands = joinedByField(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.ids(operands.lazy.compactMap { ids($0, limit: limit) }.min { $0.count < $1.count }))
            case .or(let n):
                let operands = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.ids(Self.union(operands.lazy.map { ids($0, limit: limit) }, limit: limit)))
            case .not:
                stack[stack.count - 1] = .ids(nil)
            }
        }
        return stack.last.flatMap { ids($0, limit: limit) }
    }

    /// An `$and`'s operands with the conditions on each field that never
    /// holds a list gathered into one.
    private func joinedByField<Operands: Sequence<Narrowing>>(_ operands: Operands) -> [Narrowing] {
        var out: [Narrowing] = [], slot: [String: Int] = [:]
        for operand in operands {
            if case .field(let name, let conditions) = operand, listHolders[name] == nil {
                if let i = slot[name], case .field(_, let earlier) = out[i] {
                    out[i] = .field(name, earlier + conditions)
                    continue
                }
                slot[name] = out.count
            }
            out.append(operand)
        }
        return out
    }

    /// The ids of a narrowing: for field conditions, the holders of each
    /// value meeting all of the positive ones (an equality's or `$in`'s own
    /// values, else every distinct value the field holds, read once); nil
    /// when none is positive or more than `limit` ids would be collected.
    private func ids(_ narrowing: Narrowing, limit: Int) -> Set<String>? {
        let field: String, conditions: [MetadataFilter.Condition]
        switch narrowing {
        case .ids(let ids): return ids.flatMap { $0.count <= limit ? $0 : nil }
        case .field(let f, let c): (field, conditions) = (f, c)
        }
        let positive = conditions.filter(\.narrows)
        guard !positive.isEmpty else { return nil }
        let held = holders[field] ?? [:]
        let meetsAll = { (v: Scalar) in positive.allSatisfy { MetadataFilter.meets(scalar: v, $0) } }
        for condition in positive {
            switch condition {
            case .equal(let s): return Self.union(CollectionOfOne(s).lazy.filter(meetsAll).map { held[$0] ?? [] }, limit: limit)
            case .oneOf(let set): return Self.union(set.values.lazy.filter(meetsAll).map { held[$0] ?? [] }, limit: limit)
            default: continue
            }
        }
        return Self.union(held.lazy.filter { meetsAll($0.key) }.map(\.value), limit: limit)
    }

    /// Every set joined, or nil when one is nil or the union would pass `limit`.
    /// One set is answered as it is stored (shared, not copied: an equality's
    /// 10,000 ids cost no hashing).
    private static func union<Sets: Sequence<Set<String>?>>(_ sets: Sets, limit: Int) -> Set<String>? {
        var all: Set<String>?
        for set in sets {
            guard let set, set.count <= limit else { return nil }
            if all == nil { all = set } else { all!.formUnion(set) }
            if all!.count > limit { return nil }
        }
        return all ?? []
    }
}

private extension MetadataFilter.Condition {
    /// Whether the holders of the values meeting it hold every document it passes.
    var narrows: Bool {
        switch self {
        case .equal, .oneOf, .greater, .greaterOrEqual, .less, .lessOrEqual: return true
        // `$exists` too: a field holding an object or an empty list holds no value here.
        case .notEqual, .noneOf, .exists: return false
        }
    }
}
