import Foundation
import Glibc
import Testing
@testable import VectorSearch

/// A graph saved and read back: the same answers, only what changed redone,
/// and a file that cannot serve refused with its reason, never searched.
/// Small enough for the sanitizers (hnswlib's loader is C++ reading a file).
@Suite("NeighbourGraph on disk")
struct GraphFileTests {
    /// Documents per graph: fewer under a sanitizer, where each hnswlib insert takes long (scripts/sanitize).
    static let n = ProcessInfo.processInfo.environment["STORAGE_PROXY_SANITIZER"] == nil ? 400 : 100
    /// Documents removed, replaced and added between a save and the read back.
    static let changed = n / 10

    static func folder() -> String {
        var template = Array("/tmp/graph-file-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    static func matrix(_ n: Int, seed: UInt64 = 7) throws -> VectorMatrix<Int> {
        var matrix = VectorMatrix(dimension: 16, metric: .cosine, payload: Int.self)
        for (i, v) in NeighbourGraphTests.clustered(n, dimension: 16, seed: seed).enumerated() { try matrix.upsert(id: "d\(i)", v, payload: i) }
        return matrix
    }

    static func load(_ path: String, _ matrix: VectorMatrix<Int>, shape: NeighbourGraph<Int>.Shape = .init()) throws -> NeighbourGraph<Int> {
        let loaded = try NeighbourGraph<Int>.load(from: path, dimension: 16, metric: .cosine, shape: shape, capacity: matrix.count)
        return try #require(try NeighbourGraph<Int>.build(dimension: 16, metric: .cosine, shape: shape, starting: loaded,
                                                          read: { matrix.rows(from: $0, limit: $1) }, cancelled: { false }))
    }

    @Test("saved and read back: the same hits for every query, nothing redone, payloads set from the matrix")
    func roundTrip() throws {
        let dir = Self.folder(), path = dir + "/g.hnsw"
        let matrix = try Self.matrix(Self.n)
        let graph = try NeighbourGraphTests.built(matrix)
        #expect(graph.changedSinceSave == Self.n)
        try graph.save(to: path)
        #expect(graph.changedSinceSave == 0)
        let loaded = try Self.load(path, matrix)
        #expect(loaded.count == Self.n && loaded.changedSinceSave == 0, "\(loaded.changedSinceSave) redone")
        for q in NeighbourGraphTests.clustered(20, dimension: 16, seed: 5) {
            #expect(try matrix.search(q, k: 10, graph: loaded, ef: 32) == matrix.search(q, k: 10, graph: graph, ef: 32))
            // The filter reads the payloads the build set (from the matrix: d<i> carries i).
            let even = try matrix.search(q, k: 10, graph: loaded, ef: 64, allowed: { $0 % 2 == 0 })
            #expect(even.count == 10 && even.allSatisfy { Int($0.id.dropFirst())! % 2 == 0 })
        }
    }

    @Test("read back under a matrix that changed since: removed ids gone, replaced and new ones found where they are now")
    func changedSinceTheSave() throws {
        let dir = Self.folder(), path = dir + "/g.hnsw"
        let (n, c) = (Self.n, Self.changed)
        var matrix = try Self.matrix(n)
        let graph = try NeighbourGraphTests.built(matrix)
        graph.remove(id: "d3")  // a free label in the file
        try graph.save(to: path)
        let moved = NeighbourGraphTests.clustered(c, dimension: 16, seed: 11)
        let removed = Set((n / 4..<n / 4 + c).map { "d\($0)" })
        for id in removed { matrix.remove(id: id) }
        for i in 0..<c { try matrix.upsert(id: "d\(i + n / 2)", moved[i], payload: i + n / 2) }
        for i in 0..<c { try matrix.upsert(id: "new\(i)", moved[(i + 7) % c], payload: 1000 + i) }
        let loaded = try Self.load(path, matrix)
        #expect(loaded.count == matrix.count)
        #expect(loaded.changedSinceSave == 3 * c + 1, "\(loaded.changedSinceSave): removed, replaced, new, and d3 again")
        #expect(Set(loaded.allIDs) == Set(matrix.ids))
        for q in moved {
            let hits = try matrix.search(q, k: 5, graph: loaded, ef: 64)
            let exact = try matrix.search(q, k: 5)
            #expect(hits.first == exact.first, "a moved vector is found where it is now")
            #expect(!hits.contains { removed.contains($0.id) })
        }
    }

    @Test("a damaged, mismatched or other-shaped file is refused with its reason")
    func refusals() throws {
        let dir = Self.folder(), path = dir + "/g.hnsw"
        let matrix = try Self.matrix(Self.n)
        let graph = try NeighbourGraphTests.built(matrix)
        try graph.save(to: path)
        func reason(_ shape: NeighbourGraph<Int>.Shape = .init()) -> String? {
            do { _ = try Self.load(path, matrix, shape: shape); return nil } catch { return (error as? NeighbourGraph<Int>.Failure)?.reason }
        }
        #expect(reason() == nil)
        #expect(reason(.init(m: 8)).map { $0.contains("hnsw_m") } == true, "\(reason(.init(m: 8)) ?? "loaded")")
        #expect(throws: NeighbourGraph<Int>.Failure.self) {
            try NeighbourGraph<Int>.load(from: path, dimension: 8, metric: .cosine, shape: .init(), capacity: Self.n)
        }
        // One byte of hnswlib's file changed: its ids file no longer vouches for it.
        let file = fopen(path, "r+b")!
        fseek(file, 5000, SEEK_SET)
        let byte = fgetc(file)
        fseek(file, 5000, SEEK_SET)
        fputc(byte ^ 1, file)
        fclose(file)
        #expect(reason()?.contains("not the one its ids were written for") == true, "\(reason() ?? "loaded")")
        // The ids file cut short.
        try graph.save(to: path)
        #expect(reason() == nil)
        #expect(truncate(path + ".ids", 100) == 0)
        #expect(reason()?.contains("damaged") == true, "\(reason() ?? "loaded")")
        // No graph file beside a whole ids file.
        try graph.save(to: path)
        unlink(path)
        #expect(reason()?.contains("cannot open") == true, "\(reason() ?? "loaded")")
    }
}
