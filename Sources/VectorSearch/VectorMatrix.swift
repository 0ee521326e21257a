import CHNSW

/// One collection's vectors in one contiguous float32 matrix, searched
/// exactly: every row is scored (SIMD dot products) and the best `k` kept by
/// a heap (`TopK`), so recall is 1.0 by construction. A row's place changes
/// when another is removed (the last row moves into the hole): ids, not row
/// numbers, are what callers keep. Each row carries a `Payload` (the
/// document's metadata, for filters). Not thread-safe: one owner at a time.
public struct VectorMatrix<Payload: Sendable>: Sendable {
    public enum Problem: Error, Equatable, Sendable {
        case dimension(expected: Int, got: Int)
        /// A component that is NaN or infinite (its index).
        case notFinite(index: Int)
        /// A zero vector cannot be compared by cosine.
        case zeroVector
        /// Longer (Euclidean norm) than `largestNorm`: a dot or l2 score would overflow float32.
        case tooLong(norm: Double)
    }

    /// The longest vector a dot or l2 collection takes: two of them give a
    /// product or a squared distance of at most 4e36, well inside float32
    /// (3.4e38), so every score is a finite number. (Cosine takes any finite
    /// vector: it is stored, and asked, at unit length.)
    public static var largestNorm: Double { 1e18 }

    public struct Hit: Equatable, Sendable {
        public let id: String
        /// Cosine similarity, inner product, or Euclidean distance (`VectorMetric`).
        public let score: Float
    }

    public let dimension: Int
    public let metric: VectorMetric
    // Internal, not private: the neighbour graph is built from, and scored by, these rows.
    private(set) var values: [Float] = []
    public private(set) var ids: [String] = []
    private(set) var payloads: [Payload] = []
    private(set) var rowOf: [String: Int] = [:]
    /// What a payload holds on the heap (its caller knows the type).
    private let weigh: @Sendable (Payload) -> Int
    /// The heap bytes of every id and payload stored.
    private var heapBytes = 0

    public init(dimension: Int, metric: VectorMetric, payload: Payload.Type, weigh: @escaping @Sendable (Payload) -> Int = { _ in 0 }) {
        precondition(dimension > 0, "a vector has at least one component")
        self.dimension = dimension
        self.metric = metric
        self.weigh = weigh
    }

    public var count: Int { ids.count }

    /// Bytes the matrix holds, about: the vectors, and per row its id, its
    /// payload and the map from id to row (`rowBytes`), heap included.
    public var byteCount: Int { count * Self.fixedRowBytes(dimension) + heapBytes }

    /// What one row costs besides its id's and payload's heap: the vector, the
    /// id's and payload's slots, the id map's entry (dictionaries keep a
    /// quarter or more of their slots free).
    static func fixedRowBytes(_ dimension: Int) -> Int {
        dimension * MemoryLayout<Float>.stride + MemoryLayout<String>.stride + MemoryLayout<Payload>.stride
            + (MemoryLayout<String>.stride + MemoryLayout<Int>.stride) * 4 / 3
    }

    /// About what a row adds, given its payload's heap bytes (a loader's bound, before it stores it).
    public static func rowBytes(dimension: Int, id: String, payloadHeapBytes: Int) -> Int {
        fixedRowBytes(dimension) + heapBytes(of: id) + payloadHeapBytes
    }

    private static func heapBytes(of id: String) -> Int { id.utf8.count <= 15 ? 0 : (id.utf8.count + 1 + 40 + 15) / 16 * 16 }

    public func contains(_ id: String) -> Bool { rowOf[id] != nil }

    public func payload(row: Int) -> Payload { payloads[row] }

    public func payload(of id: String) -> Payload? { rowOf[id].map { payloads[$0] } }

    // MARK: - Writing

    /// Adds the vector, or replaces the one stored under `id`.
    public mutating func upsert(id: String, _ vector: [Float], payload: Payload) throws(Problem) {
        let stored = try prepared(vector)
        if let row = rowOf[id] {
            values.replaceSubrange(row * dimension..<(row + 1) * dimension, with: stored)
            heapBytes += weigh(payload) - weigh(payloads[row])
            payloads[row] = payload
            return
        }
        rowOf[id] = ids.count
        ids.append(id)
        payloads.append(payload)
        if values.count + dimension > values.capacity { values = Self.regrown(values, toHold: values.count + dimension) }
        values.append(contentsOf: stored)
        heapBytes += Self.heapBytes(of: id) + weigh(payload)
    }

    /// `values` moved to a block twice as large (as `append` would grow it),
    /// asked for huge pages before anything is written to it: the scan reads
    /// every row, and over a 150 MiB matrix 4 KiB pages cost it ~10%
    /// (BENCHMARKS.md).
    private static func regrown(_ values: [Float], toHold needed: Int) -> [Float] {
        let capacity = max(needed, values.capacity * 2)
        return [Float](unsafeUninitializedCapacity: capacity) { room, initialized in
            vector_memory_prefer_huge_pages(room.baseAddress, capacity * MemoryLayout<Float>.stride, false)
            initialized = room.initialize(fromContentsOf: values)
        }
    }

    /// Removes the vector; false when there was none. The last row fills its place.
    @discardableResult
    public mutating func remove(id: String) -> Bool {
        guard let row = rowOf.removeValue(forKey: id) else { return false }
        heapBytes -= Self.heapBytes(of: id) + weigh(payloads[row])
        let last = ids.count - 1
        if row != last {
            let moved = ids[last]
            ids[row] = moved
            payloads[row] = payloads[last]
            rowOf[moved] = row
            for c in 0..<dimension { values[row * dimension + c] = values[last * dimension + c] }
        }
        ids.removeLast()
        payloads.removeLast()
        values.removeLast(dimension)
        return true
    }

    // MARK: - Searching

    /// The `k` nearest stored vectors, nearest first, among the rows whose
    /// payload `allowed` accepts (all when nil): a filter applied before
    /// ranking, so `k` hits come back whenever `k` rows pass it.
    public func search(_ query: [Float], k: Int, allowed: ((Payload) -> Bool)? = nil) throws(Problem) -> [Hit] {
        let q = try prepared(query)
        return search(prepared: q, k: k, allowed: allowed)
    }

    /// Rows scored per call of the kernel: their 1,024 scores fit in 4 KiB (L1).
    private static var block: Int { 1024 }

    func search(prepared q: [Float], k: Int, allowed: ((Payload) -> Bool)?) -> [Hit] {
        guard k > 0, count > 0 else { return [] }
        var best = TopK(min(k, count))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.block) { scores in
            q.withUnsafeBufferPointer { qp in
                values.withUnsafeBufferPointer { vp in
                    var start = 0
                    while start < count {
                        let n = min(Self.block, count - start)
                        score(qp.baseAddress!, vp.baseAddress! + start * dimension, n, scores.baseAddress!)
                        for i in 0..<n {
                            let r = rank(fromScore: scores[i])
                            // The score first: a filter's test costs several scores, and only a row
                            // that would enter the top k needs one.
                            if r > best.threshold, allowed?(payloads[start + i]) ?? true { best.offer(rank: r, row: start + i) }
                        }
                        start += n
                    }
                }
            }
        }
        return best.sorted().map { e in hit(row: e.row, rank: e.rank) }
    }

    /// The `k` nearest among the documents `ids` names (unknown ones are
    /// skipped) that `allowed` accepts: the scan of a filter's candidates.
    public func search<IDs: Sequence<String>>(_ query: [Float], k: Int, among ids: IDs,
                                              allowed: ((Payload) -> Bool)? = nil) throws(Problem) -> [Hit] {
        let q = try prepared(query)
        guard k > 0, count > 0 else { return [] }
        var best = TopK(min(k, count))
        for id in ids {
            guard let row = rowOf[id] else { continue }
            let r = rank(q, row: row)
            if r > best.threshold, allowed?(payloads[row]) ?? true { best.offer(rank: r, row: row) }
        }
        return best.sorted().map { e in hit(row: e.row, rank: e.rank) }
    }

    /// Higher is nearer: −‖q − v‖² (l2) or q·v, computed as the scan computes it
    /// (so a document has one score whichever search found it).
    func rank(_ q: [Float], row: Int) -> Float {
        var s: Float = 0
        q.withUnsafeBufferPointer { qp in
            values.withUnsafeBufferPointer { vp in score(qp.baseAddress!, vp.baseAddress! + row * dimension, 1, &s) }
        }
        return rank(fromScore: s)
    }

    /// The kernels' scores of `n` consecutive rows (C, `scan_kernels.cpp`, as
    /// Swift's SIMD types compile to the baseline's 4-lane SSE only, and the
    /// scan is bound by how many bytes each instruction brings in):
    /// q·v, or ‖q − v‖² for l2, summed directly — the expansion
    /// ‖q‖² + ‖v‖² − 2 q·v would cost the same and lose every digit to
    /// cancellation once the norms are large.
    private func score(_ q: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        if metric == .l2 { vector_squared_distance_rows(q, rows, dimension, n, out) } else { vector_dot_rows(q, rows, dimension, n, out) }
    }

    /// l2 ranks by the negated squared distance: higher is nearer for every metric.
    @inline(__always)
    private func rank(fromScore s: Float) -> Float { metric == .l2 ? -s : s }

    func hit(row: Int, rank: Float) -> Hit { Hit(id: ids[row], score: metric == .l2 ? (-rank).squareRoot() : rank) }

    // MARK: - Arithmetic

    /// Checks a vector and puts it in stored form (unit length for cosine).
    func prepared(_ vector: [Float]) throws(Problem) -> [Float] {
        if let problem = Self.problem(vector, dimension: dimension, metric: metric) { throw problem }
        guard metric == .cosine else { return vector }
        let length = Self.norm(vector)
        return vector.map { Float(Double($0) / length) }
    }

    /// The Euclidean norm in double precision: no float32 vector overflows or
    /// underflows it (1e38 squared, or 1e-45 squared, would in float32).
    public static func norm(_ vector: [Float]) -> Double {
        vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// Why a vector cannot be stored under this metric and dimension (the
    /// checks of an add, before anything is written); nil: it can.
    public static func problem(_ vector: [Float], dimension: Int, metric: VectorMetric) -> Problem? {
        guard vector.count == dimension else { return .dimension(expected: dimension, got: vector.count) }
        if let bad = vector.firstIndex(where: { !$0.isFinite }) { return .notFinite(index: bad) }
        let length = norm(vector)
        if metric == .cosine, length == 0 { return .zeroVector }
        if metric != .cosine, length > largestNorm { return .tooLong(norm: length) }
        return nil
    }

    /// Σ a[i]·b[i] of two vectors of one length (SIMD, as the scan does it).
    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        var s: Float = 0
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in vector_dot_rows(ap.baseAddress!, bp.baseAddress!, a.count, 1, &s) } }
        return s
    }
}

extension VectorMatrix where Payload == Void {
    public init(dimension: Int, metric: VectorMetric) {
        self.init(dimension: dimension, metric: metric, payload: Void.self)
    }

    public mutating func upsert(id: String, _ vector: [Float]) throws(Problem) {
        try upsert(id: id, vector, payload: ())
    }
}
