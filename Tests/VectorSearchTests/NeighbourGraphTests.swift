import Testing
@testable import VectorSearch

/// The HNSW graph against the exact scan of the same matrix: recall, filters,
/// removals and replacements, scores.
@Suite("NeighbourGraph: approximate nearest neighbours")
struct NeighbourGraphTests {
    typealias Random = VectorMatrixTests.Random

    /// Vectors shaped as embeddings are: 50 centres, each document near one,
    /// varying along a few directions (embeddings have a low intrinsic
    /// dimension; uniform noise in every direction is a different, harder
    /// problem for any graph). Unit length for `dot`: HNSW walks inner
    /// products well only over vectors of one norm (what dot-product
    /// embedding models produce), see STORAGE.md.
    static func clustered(_ n: Int, dimension: Int, seed: UInt64, unit: Bool = false) -> [[Float]] {
        var random = Random(state: 1)
        let centres = (0..<50).map { _ in random.vector(dimension) }
        let directions = (0..<8).map { _ in random.vector(dimension) }
        random = Random(state: seed)
        return (0..<n).map { i in
            var v = centres[i % 50].map { $0 + 0.02 * random.float() }
            for d in directions {
                let r = 0.3 * random.float()
                for j in v.indices { v[j] += r * d[j] }
            }
            guard unit else { return v }
            let norm = Float(VectorMatrix<Int>.norm(v))
            return v.map { $0 / norm }
        }
    }

    static func built(_ matrix: VectorMatrix<Int>) throws -> NeighbourGraph<Int> {
        try #require(try NeighbourGraph<Int>.build(dimension: matrix.dimension, metric: matrix.metric, shape: .init(),
                                                    read: { matrix.rows(from: $0, limit: $1) }, cancelled: { false }))
    }

    /// Mean share of the exact top-k the graph finds.
    static func recall(_ matrix: VectorMatrix<Int>, _ graph: NeighbourGraph<Int>, queries: [[Float]], k: Int, ef: Int,
                       allowed: ((Int) -> Bool)? = nil) throws -> Double {
        var found = 0, wanted = 0
        for q in queries {
            let exact = Set(try matrix.search(q, k: k, allowed: allowed).map(\.id))
            let approximate = try matrix.search(q, k: k, graph: graph, ef: ef, allowed: allowed)
            if let allowed { #expect(approximate.allSatisfy { allowed(matrix.stored($0.id)!.payload) }) }
            found += approximate.filter { exact.contains($0.id) }.count
            wanted += exact.count
        }
        return Double(found) / Double(max(wanted, 1))
    }

    @Test("recall@10 ≥ 0.95 for every metric, and a hit's score is the scan's", arguments: VectorMetric.allCases)
    func recallAndScores(metric: VectorMetric) throws {
        var matrix = VectorMatrix(dimension: 48, metric: metric, payload: Int.self)
        for (i, v) in Self.clustered(3_000, dimension: 48, seed: 7, unit: metric == .dot).enumerated() {
            try matrix.upsert(id: "d\(i)", v, payload: i)
        }
        let graph = try Self.built(matrix)
        #expect(graph.count == 3_000)
        let queries = Self.clustered(40, dimension: 48, seed: 99, unit: metric == .dot)
        let r = try Self.recall(matrix, graph, queries: queries, k: 10, ef: 64)
        #expect(r >= 0.95, "recall \(r)")
        // Few candidates explored: worse, and still an answer of k.
        #expect(try matrix.search(queries[0], k: 10, graph: graph, ef: 1).count == 10)
        let exact = try matrix.search(queries[1], k: 5)
        let approximate = try matrix.search(queries[1], k: 5, graph: graph, ef: 200)
        for hit in approximate { if let same = exact.first(where: { $0.id == hit.id }) { #expect(same.score == hit.score) } }
    }

    @Test("filters passing 10% and 1% of the documents keep recall ≥ 0.95; nothing outside them returns")
    func filtered() throws {
        var matrix = VectorMatrix(dimension: 32, metric: .cosine, payload: Int.self)
        for (i, v) in Self.clustered(5_000, dimension: 32, seed: 3).enumerated() { try matrix.upsert(id: "d\(i)", v, payload: i) }
        let graph = try Self.built(matrix)
        let queries = Self.clustered(30, dimension: 32, seed: 41)
        let tenth = try Self.recall(matrix, graph, queries: queries, k: 10, ef: 64, allowed: { $0 % 10 == 3 })
        let hundredth = try Self.recall(matrix, graph, queries: queries, k: 10, ef: 64, allowed: { $0 % 100 == 7 })
        #expect(tenth >= 0.95, "10%: \(tenth)")
        #expect(hundredth >= 0.95, "1%: \(hundredth)")
    }

    @Test("removed documents never return; replaced ones are found where they moved; freed labels are reused")
    func removalsAndReplacements() throws {
        var matrix = VectorMatrix(dimension: 16, metric: .l2, payload: Int.self)
        let vectors = Self.clustered(3_000, dimension: 16, seed: 5)
        for (i, v) in vectors.enumerated() { try matrix.upsert(id: "d\(i)", v, payload: i) }
        let graph = try Self.built(matrix)
        let bytes = graph.byteCount(searchThreads: 2)
        for i in stride(from: 0, to: 3_000, by: 2) {
            matrix.remove(id: "d\(i)")
            graph.remove(id: "d\(i)")
        }
        #expect(graph.count == 1_500)
        let queries = Self.clustered(40, dimension: 16, seed: 77)
        for q in queries { #expect(try matrix.search(q, k: 10, graph: graph, ef: 64).allSatisfy { Int($0.id.dropFirst())! % 2 == 1 }) }
        #expect(try Self.recall(matrix, graph, queries: queries, k: 10, ef: 64) >= 0.95)
        // New documents take the freed labels: the graph does not grow.
        for i in 0..<1_500 {
            let v = vectors[(i * 7) % 3_000].map { -$0 }
            try matrix.upsert(id: "n\(i)", v, payload: i)
            try graph.upsert(id: "n\(i)", stored: matrix.stored("n\(i)")!.vector, payload: i)
        }
        #expect(graph.count == 3_000)
        #expect(graph.byteCount(searchThreads: 2) <= bytes + bytes / 10)
        // A replaced vector is found at its new place.
        let target = vectors[11].map { $0 * 3 + 5 }
        try matrix.upsert(id: "d11", target, payload: 11)
        try graph.upsert(id: "d11", stored: matrix.stored("d11")!.vector, payload: 11)
        #expect(try matrix.search(target, k: 1, graph: graph, ef: 64).first?.id == "d11")
        #expect(try Self.recall(matrix, graph, queries: queries, k: 10, ef: 64) >= 0.95)
    }

    @Test("a cancelled build stops and returns nothing")
    func cancelled() throws {
        var matrix = VectorMatrix(dimension: 8, metric: .dot, payload: Int.self)
        for (i, v) in Self.clustered(5_000, dimension: 8, seed: 1).enumerated() { try matrix.upsert(id: "d\(i)", v, payload: i) }
        var pages = 0
        let graph = try NeighbourGraph<Int>.build(dimension: 8, metric: .dot, shape: .init(),
                                                  read: { pages += 1; return matrix.rows(from: $0, limit: $1) }, cancelled: { pages >= 2 })
        #expect(graph == nil)
    }
}
