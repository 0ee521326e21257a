import CHNSW
import Glibc

/// Approximate nearest neighbours over a `VectorMatrix`'s rows: an HNSW graph
/// (hnswlib, through `CHNSW`) holding its own copy of each vector under a
/// label of ours, a document's label kept while it lives and handed to the
/// next one after it goes (the graph brings a deleted label back in place,
/// so it never grows past the most documents it held at once). A search
/// walks the graph and then scores what it found from the matrix, so a
/// document's score is the exact scan's. Not thread-safe by itself: adds and
/// removes under its owner's exclusive lock, searches under the shared one.
public final class NeighbourGraph<Payload>: @unchecked Sendable {
    // @unchecked: the C++ graph allows searches beside each other; our
    // arrays change only under the owner's exclusive lock (see above).

    /// HNSW's parameters: links per node and the breadth of an insertion's search.
    public struct Shape: Sendable, Equatable {
        public var m = 16
        public var efConstruction = 100
        public init(m: Int = 16, efConstruction: Int = 100) { self.m = m; self.efConstruction = efConstruction }
    }

    public struct Failure: Error, Sendable { public let reason: String }

    public let dimension: Int
    public let metric: VectorMetric
    private let handle: OpaquePointer
    private var labelOf: [String: UInt32] = [:]
    /// By label; nil for a free one.
    private var ids: [String?] = []
    private var payloads: [Payload?] = []
    private var freeLabels: [UInt32] = []
    /// Vectors added, replaced or removed since the graph was read or written (`save`, `load`).
    public private(set) var changedSinceSave = 0

    private init(dimension: Int, metric: VectorMetric, capacity: Int, shape: Shape) throws(Failure) {
        var made: OpaquePointer?
        try Self.check { error, size in
            made = hnsw_new(dimension, metric == .l2, capacity, shape.m, shape.efConstruction, 100, error, size)
            return made != nil
        }
        self.dimension = dimension
        self.metric = metric
        handle = made!
    }

    private init(dimension: Int, metric: VectorMetric, handle: OpaquePointer) {
        self.dimension = dimension
        self.metric = metric
        self.handle = handle
    }

    deinit { hnsw_free(handle) }

    /// Runs a shim call that says false on failure and why in a buffer.
    private static func check(_ call: (_ error: UnsafeMutablePointer<CChar>, _ size: Int) -> Bool) throws(Failure) {
        var error = [CChar](repeating: 0, count: 256)
        guard !error.withUnsafeMutableBufferPointer({ call($0.baseAddress!, $0.count) }) else { return }
        throw Failure(reason: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Live documents.
    public var count: Int { labelOf.count }

    public func contains(_ id: String) -> Bool { labelOf[id] != nil }

    /// About what the graph holds: its vectors and links (hnswlib's memory) and our label tables.
    public func byteCount(searchThreads: Int) -> Int {
        hnsw_bytes(handle, searchThreads) + ids.count * (MemoryLayout<String?>.stride + MemoryLayout<Payload?>.stride)
            + labelOf.count * (MemoryLayout<String>.stride + 4) * 4 / 3
    }

    /// About what one more node costs (a loader's bound before it adds):
    /// hnswlib's vector copy, links, label and lock, and our tables' entries.
    public static func nodeBytes(dimension: Int, shape: Shape, searchThreads: Int) -> Int {
        let level0 = dimension * 4 + shape.m * 2 * 4 + 4 + 8
        let slot = 8 + 4 + 40 + (searchThreads + 1) * 2
        let upper = (shape.m * 4 + 4) / max(shape.m - 1, 1)
        return level0 + slot + upper + 48 + MemoryLayout<String?>.stride + MemoryLayout<Payload?>.stride + (MemoryLayout<String>.stride + 4) * 4 / 3
    }

    // MARK: - Building and keeping current

    /// A graph of the matrix's rows, `read` in pages under the owner's shared
    /// lock (rows may move between pages: the owner then checks the graph
    /// against the matrix, see `CollectionIndex.buildGraph`). Nil when
    /// `cancelled` said so. One thread inserts: hnswlib's parallel inserts
    /// share its level generator and entry point unguarded (ThreadSanitizer
    /// reports the races), so the time a build takes is one core's.
    ///
    /// From a graph read from disk (`starting`, see `load`), only what
    /// differs is redone: a row whose vector the graph holds as it is only
    /// gets its payload, another is inserted, and ids no row has are removed.
    public static func build(dimension: Int, metric: VectorMetric, shape: Shape, starting: NeighbourGraph? = nil,
                             read: (_ from: Int, _ limit: Int) -> (rows: [(id: String, vector: [Float], payload: Payload)], total: Int),
                             cancelled: () -> Bool) throws(Failure) -> NeighbourGraph? {
        let first = read(0, 0)
        let graph: NeighbourGraph
        if let starting { graph = starting } else {
            graph = try NeighbourGraph(dimension: dimension, metric: metric, capacity: max(first.total + first.total / 8, 1024), shape: shape)
        }
        // A fresh graph holds exactly the rows seen; a loaded one also holds others until the end.
        var seen: Set<String>? = starting == nil ? nil : Set(minimumCapacity: first.total)
        var from = 0
        while !cancelled() {
            let page = read(from, 2048)
            if page.rows.isEmpty {
                if let seen { for id in Array(graph.allIDs) where !seen.contains(id) { graph.remove(id: id) } }
                return graph
            }
            from += page.rows.count
            for row in page.rows {
                // A row moved under the pages may come twice.
                if seen == nil ? graph.contains(row.id) : !seen!.insert(row.id).inserted { continue }
                if seen != nil, graph.holds(row.id, vector: row.vector) {
                    graph.setPayload(id: row.id, row.payload)
                } else {
                    try graph.upsert(id: row.id, stored: row.vector, payload: row.payload)
                }
            }
        }
        return nil
    }

    /// Whether the graph holds `id` with exactly this vector (stored form).
    func holds(_ id: String, vector: [Float]) -> Bool {
        guard let label = labelOf[id], let stored = hnsw_vector(handle, UInt64(label)) else { return false }
        return vector.withUnsafeBufferPointer { memcmp($0.baseAddress!, stored, dimension * MemoryLayout<Float>.stride) == 0 }
    }

    // MARK: - On disk

    /// Writes the graph to `path` and its ids to `path.ids` (`GraphFile`),
    /// each under a temporary name first. Searches may run meanwhile; adds
    /// and removes may not (the owner's shared lock).
    public func save(to path: String) throws(Failure) {
        let temporary = "\(path).\(getpid()).tmp"
        defer { unlink(temporary); unlink(temporary + ".ids") }
        try Self.check { error, size in hnsw_save(handle, temporary, error, size) }
        do {
            try GraphFile.writeIDs(ids, graphPath: temporary, to: temporary + ".ids")
        } catch {
            throw Failure(reason: error.reason)
        }
        guard rename(temporary, path) == 0, rename(temporary + ".ids", path + ".ids") == 0 else {
            throw Failure(reason: "cannot rename into \(path): \(String(cString: strerror(errno)))")
        }
        changedSinceSave = 0
    }

    /// The graph `save` wrote to `path`, when it is whole, of this dimension
    /// and shape, and its ids agree with hnswlib's labels; its payloads are
    /// unset until `build(starting:)` goes over the matrix.
    public static func load(from path: String, dimension: Int, metric: VectorMetric, shape: Shape, capacity: Int) throws(Failure) -> NeighbourGraph {
        let ids: [String?]
        do { ids = try GraphFile.readIDs(from: path + ".ids", graphPath: path) } catch { throw Failure(reason: error.reason) }
        var made: OpaquePointer?
        try check { error, size in
            made = hnsw_load(path, dimension, metric == .l2, max(capacity, ids.count, 1024), shape.m, shape.efConstruction, error, size)
            return made != nil
        }
        let graph = NeighbourGraph(dimension: dimension, metric: metric, handle: made!)
        let live = hnsw_live_labels(made!, nil, 0)
        var labels = [UInt64](repeating: 0, count: live)
        _ = hnsw_live_labels(made!, &labels, live)
        graph.ids = ids
        graph.payloads = Array(repeating: nil, count: ids.count)
        for label in labels {
            guard label < UInt64(ids.count), let id = ids[Int(label)], graph.labelOf.updateValue(UInt32(label), forKey: id) == nil else {
                throw Failure(reason: "the saved graph's labels and ids disagree")
            }
        }
        guard graph.labelOf.count == ids.lazy.filter({ $0 != nil }).count else { throw Failure(reason: "the saved graph's labels and ids disagree") }
        graph.freeLabels = ids.indices.filter { ids[$0] == nil }.map { UInt32($0) }.reversed()
        return graph
    }

    /// Adds the document's vector (in the matrix's stored form), or replaces it.
    public func upsert(id: String, stored vector: [Float], payload: Payload) throws(Failure) {
        let label: UInt32
        if let known = labelOf[id] {
            label = known
        } else if let reused = freeLabels.popLast() {
            label = reused
        } else {
            label = UInt32(ids.count)
            try reserve(ids.count + 1)
            ids.append(nil)
            payloads.append(nil)
        }
        do {
            try Self.check { error, size in vector.withUnsafeBufferPointer { hnsw_add(handle, $0.baseAddress!, UInt64(label), error, size) } }
        } catch {
            if labelOf[id] == nil { freeLabels.append(label) }  // a label never used, or freed before: free still
            throw error
        }
        labelOf[id] = label
        ids[Int(label)] = id
        payloads[Int(label)] = payload
        changedSinceSave += 1
    }

    /// Sets the payload of a document whose vector is unchanged (no graph work).
    public func setPayload(id: String, _ payload: Payload) {
        if let label = labelOf[id] { payloads[Int(label)] = payload }
    }

    public func remove(id: String) {
        guard let label = labelOf.removeValue(forKey: id) else { return }
        hnsw_delete(handle, UInt64(label))
        ids[Int(label)] = nil
        payloads[Int(label)] = nil
        freeLabels.append(label)
        changedSinceSave += 1
    }

    /// Every id the graph holds (the owner's reconciliation).
    public var allIDs: Dictionary<String, UInt32>.Keys { labelOf.keys }

    /// Capacity grows by an eighth at a time (hnswlib copies its whole level 0 to grow).
    private func reserve(_ needed: Int) throws(Failure) {
        let capacity = hnsw_capacity(handle)
        guard needed > capacity else { return }
        try Self.check { error, size in hnsw_reserve(handle, max(needed, capacity + capacity / 8 + 1024), error, size) }
    }

    // MARK: - Searching

    /// Up to `k` ids the walk found nearest among the documents `allowed`
    /// accepts, exploring `ef` candidates (the more, the better the recall).
    public func search(prepared query: [Float], k: Int, ef: Int, allowed: ((Payload) -> Bool)?) -> [String] {
        guard k > 0, count > 0 else { return [] }
        var labels = [UInt64](repeating: 0, count: k)
        var distances = [Float](repeating: 0, count: k)
        let found: Int
        if let allowed {
            var context = FilterContext { [payloads] label in payloads[label].map(allowed) ?? false }
            found = withUnsafeMutablePointer(to: &context) { ctx in
                query.withUnsafeBufferPointer { q in
                    hnsw_search(handle, q.baseAddress!, k, ef, { raw, label in
                        raw!.assumingMemoryBound(to: FilterContext.self).pointee.admits(Int(label))
                    }, ctx, &labels, &distances)
                }
            }
        } else {
            found = query.withUnsafeBufferPointer { q in hnsw_search(handle, q.baseAddress!, k, ef, nil, nil, &labels, &distances) }
        }
        return labels.prefix(found).compactMap { ids[Int($0)] }
    }

}

/// What a filtered search hands the C walk: whether a label's document passes.
private struct FilterContext {
    let admits: (Int) -> Bool
}

extension VectorMatrix {
    /// The `k` nearest rows the graph finds among those `allowed` accepts,
    /// scored from the matrix, nearest first (equal scores: smaller id first).
    /// The graph must hold this matrix's rows.
    public func search(_ query: [Float], k: Int, graph: NeighbourGraph<Payload>, ef: Int,
                       allowed: ((Payload) -> Bool)? = nil) throws(Problem) -> [Hit] {
        let q = try prepared(query)
        let found = graph.search(prepared: q, k: k, ef: ef, allowed: allowed)
        let ranked = found.compactMap { id in rowOf[id].map { (row: $0, rank: rank(q, row: $0)) } }
        return ranked.sorted { $0.rank > $1.rank || ($0.rank == $1.rank && ids[$0.row] < ids[$1.row]) }
            .map { hit(row: $0.row, rank: $0.rank) }
    }

    /// Rows `from..<from+limit` as a graph build reads them, and how many there are.
    public func rows(from: Int, limit: Int) -> (rows: [(id: String, vector: [Float], payload: Payload)], total: Int) {
        let end = min(count, from + limit)
        guard from < end else { return ([], count) }
        return ((from..<end).map { r in (ids[r], Array(values[r * dimension..<(r + 1) * dimension]), payloads[r]) }, count)
    }

    /// A row's vector in stored form and its payload.
    public func stored(_ id: String) -> (vector: [Float], payload: Payload)? {
        guard let r = rowOf[id] else { return nil }
        return (Array(values[r * dimension..<(r + 1) * dimension]), payloads[r])
    }
}
