import CHNSW
import Testing
@testable import VectorSearch

/// Exact search against a brute-force reference computed in Double.
@Suite("VectorMatrix: exact nearest neighbours")
struct VectorMatrixTests {
    /// A reproducible generator (SplitMix64), so a failure can be replayed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
        mutating func vector(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
    }

    static func reference(_ metric: VectorMetric, _ q: [Float], _ v: [Float]) -> Double {
        let dot = zip(q, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        switch metric {
        case .dot: return dot
        case .cosine:
            let nq = q.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nv = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return dot / (nq * nv)
        case .l2: return zip(q, v).reduce(0.0) { $0 + pow2(Double($1.0) - Double($1.1)) }.squareRoot()
        }
    }
    static func pow2(_ x: Double) -> Double { x * x }

    @Test("top-k equals the brute-force answer, for every metric, odd and SIMD-sized dimensions",
          arguments: VectorMetric.allCases, [37, 384])
    func exactAgainstBruteForce(metric: VectorMetric, dimension: Int) throws {
        var random = Random(state: UInt64(dimension) * 31 + UInt64(metric.rawValue.count))
        var matrix = VectorMatrix(dimension: dimension, metric: metric)
        var stored: [String: [Float]] = [:]
        for i in 0..<1_000 {
            let v = random.vector(dimension)
            stored["d\(i)"] = v
            try matrix.upsert(id: "d\(i)", v)
        }
        for _ in 0..<10 {
            let q = random.vector(dimension)
            let hits = try matrix.search(q, k: 10)
            let expected = stored.map { ($0.key, Self.reference(metric, q, $0.value)) }
                .sorted { metric == .l2 ? $0.1 < $1.1 : $0.1 > $1.1 }.prefix(10)
            #expect(hits.map(\.id) == expected.map(\.0))
            for (hit, (_, score)) in zip(hits, expected) {
                #expect(abs(Double(hit.score) - score) <= 1e-3 * max(1, abs(score)), "\(hit) vs \(score)")
            }
        }
    }

    @Test("a row's score is the same whether the scan met it among four rows or alone, or a candidate scan did",
          arguments: VectorMetric.allCases, [1, 5, 16, 17, 33, 390])
    func oneScorePerRow(metric: VectorMetric, dimension: Int) throws {
        var random = Random(state: UInt64(dimension) * 7 + 3)
        var matrix = VectorMatrix(dimension: dimension, metric: metric)
        for i in 0..<11 { try matrix.upsert(id: "d\(i)", random.vector(dimension)) }  // two groups of four, then three alone
        let q = random.vector(dimension)
        let scanned = try matrix.search(q, k: 11)
        #expect(scanned.count == 11)
        for hit in scanned {
            let alone = try matrix.search(q, k: 1, among: [hit.id])
            #expect(alone == [hit], "\(hit.id): the scan and a one-row candidate scan disagree")
        }
        let byID = Dictionary(uniqueKeysWithValues: scanned.map { ($0.id, $0.score) })
        let everyOther = try matrix.search(q, k: 11, among: (0..<11).filter { $0 % 2 == 1 }.map { "d\($0)" })
        for hit in everyOther { #expect(hit.score == byID[hit.id], "\(hit.id)") }
    }

    @Test("the four-row and the one-row kernels (each machine runs one of them) give every row the same score",
          arguments: [false, true], [1, 5, 16, 17, 33, 390])
    func kernelsAgree(l2: Bool, dimension: Int) {
        var random = Random(state: UInt64(dimension) * 11 + (l2 ? 1 : 0))
        let rows = (0..<11).flatMap { _ in random.vector(dimension) }, q = random.vector(dimension)  // two groups of four, then three alone
        var four = [Float](repeating: 0, count: 11), one = [Float](repeating: .nan, count: 11)
        vector_rows_by_kernel(q, rows, dimension, 11, &four, l2, true)
        vector_rows_by_kernel(q, rows, dimension, 11, &one, l2, false)
        #expect(four.map(\.bitPattern) == one.map(\.bitPattern))
        #expect(four.allSatisfy { $0.isFinite })
    }

    @Test("replace, remove (the last row moves), filters before ranking, k past the count")
    func writesAndFilters() throws {
        var m = VectorMatrix(dimension: 3, metric: .dot, payload: String.self)
        try m.upsert(id: "a", [1, 0, 0], payload: "a")
        try m.upsert(id: "b", [0, 1, 0], payload: "b")
        try m.upsert(id: "c", [0, 0, 1], payload: "c")
        #expect(try m.search([0, 1, 0], k: 1).map(\.id) == ["b"])
        try m.upsert(id: "b", [0, 0.1, 0], payload: "b")  // replaced: still one row
        #expect(m.count == 3)
        #expect(try m.search([0, 1, 0], k: 1) == [.init(id: "b", score: 0.1)])
        #expect(m.remove(id: "a") && !m.remove(id: "a"))
        #expect(m.count == 2 && !m.contains("a") && m.contains("c"))
        #expect(try m.search([0, 0, 1], k: 5).map(\.id) == ["c", "b"])  // c moved into a's row and is still found
        // A filter leaves fewer rows than k: all of them, none missing.
        try m.upsert(id: "d", [0, 0, 2], payload: "d")
        #expect(try m.search([0, 0, 1], k: 2, allowed: { $0 != "d" }).map(\.id) == ["c", "b"])
        #expect(try m.search([0, 0, 1], k: 0).isEmpty)
        // Three rows: their vectors, ids and payloads, and the id map, counted alike (short ids, inline strings).
        let three = m.byteCount
        #expect(three > 3 * 3 * 4 && three % 3 == 0)
        #expect(m.remove(id: "d") && m.byteCount == three / 3 * 2)
        // A long id and a payload that says it weighs 1,000 bytes count too.
        var weighed = VectorMatrix(dimension: 3, metric: .dot, payload: Int.self, weigh: { $0 })
        try weighed.upsert(id: String(repeating: "x", count: 100), [1, 0, 0], payload: 1000)
        #expect(weighed.byteCount >= 3 * 4 + 100 + 1000)
        weighed.remove(id: String(repeating: "x", count: 100))
        #expect(weighed.byteCount == 0)
    }

    @Test("bad vectors are refused and change nothing")
    func badVectors() throws {
        var m = VectorMatrix(dimension: 2, metric: .cosine)
        #expect(throws: VectorMatrix<Void>.Problem.dimension(expected: 2, got: 3)) { try m.upsert(id: "x", [1, 2, 3]) }
        #expect(throws: VectorMatrix<Void>.Problem.notFinite(index: 1)) { try m.upsert(id: "x", [1, .nan]) }
        #expect(throws: VectorMatrix<Void>.Problem.notFinite(index: 0)) { try m.upsert(id: "x", [.infinity, 1]) }
        #expect(throws: VectorMatrix<Void>.Problem.zeroVector) { try m.upsert(id: "x", [0, 0]) }
        #expect(throws: VectorMatrix<Void>.Problem.dimension(expected: 2, got: 1)) { try m.search([1], k: 1) }
        #expect(m.count == 0)
        try m.upsert(id: "x", [3, 4])
        #expect(try m.search([6, 8], k: 1).first?.score == 1)  // cosine of parallel vectors
    }

    @Test("ties keep the earlier row first")
    func ties() throws {
        var m = VectorMatrix(dimension: 2, metric: .dot)
        for i in 0..<10 { try m.upsert(id: "t\(i)", [1, 1]) }
        #expect(try m.search([1, 0], k: 3).map(\.id) == ["t0", "t1", "t2"])
    }
}
