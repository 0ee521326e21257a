import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// Approximate vector search (the HNSW graph) over real proxies: when it
/// answers, how well (recall against the exact scan of the same proxy), and
/// that it stays current with writes through any proxy.
@Suite("Approximate search: the HNSW graph")
struct ApproximateSearchTests {
    typealias Seeded = VectorStoreTests.Seeded

    /// Vectors shaped as embeddings are (clusters varying along a few directions; see NeighbourGraphTests).
    static func vectors(_ n: Int, dimension: Int, seed: UInt64) -> [[Double]] {
        var r = Seeded(state: 5)
        func unit() -> Double { Double(r.next() >> 11) / Double(1 << 53) * 2 - 1 }
        let centres = (0..<20).map { _ in (0..<dimension).map { _ in unit() } }
        let directions = (0..<4).map { _ in (0..<dimension).map { _ in unit() } }
        r = Seeded(state: seed)
        return (0..<n).map { i in
            var v = centres[i % 20].map { $0 + 0.02 * unit() }
            for d in directions {
                let w = 0.3 * unit()
                for j in v.indices { v[j] += w * d[j] }
            }
            return v.map { ($0 * 1e6).rounded() / 1e6 }
        }
    }

    static func approximateSearches(_ c: LineClient) throws -> Int64 {
        try c.result("server.status").objectValue!["vectors"]!.objectValue!["approximate_searches"]!.intValue!
    }

    static func hits(_ c: LineClient, _ q: [Double], _ extra: JSONObject = [:]) throws -> [(id: String, score: Double)] {
        var p: JSONObject = ["embedding": .array(q.map { .double($0) }), "top_k": 10, "collection": "g"]
        for (k, v) in extra.members { p[k] = v }
        return try VectorStoreTests.search(c, p).arrayValue!.map { ($0.objectValue!["id"]!.stringValue!, $0.objectValue!["score"]!.doubleValue!) }
    }

    /// The share of the exact top-10 the default search finds, over the queries.
    static func recall(_ c: LineClient, _ queries: [[Double]], _ extra: JSONObject = [:]) throws -> Double {
        var found = 0, wanted = 0
        for q in queries {
            var exactly = extra
            exactly["exact"] = true
            let exact = try hits(c, q, exactly)
            let approximate = try hits(c, q, extra)
            let scores = Dictionary(exact.map { ($0.id, $0.score) }, uniquingKeysWith: { a, _ in a })
            for h in approximate where scores[h.id] != nil {
                found += 1
                #expect(scores[h.id] == h.score, "one document, one score, whichever search found it")
            }
            wanted += exact.count
        }
        return Double(found) / Double(max(wanted, 1))
    }

    @Test("from vector.approximate_from_documents the graph answers, with recall ≥ 0.95 (filtered too); writes through any proxy are found",
          arguments: TestBackend.allCases)
    func graphAnswers(backend: TestBackend) throws {
        // Small: under ThreadSanitizer every hnswlib lock passes its deadlock detector, and an insert takes many.
        let config = try writeConfig("vector:\n  approximate_from_documents: 400\n")
        let a = try ProxyProcess(backend: backend, arguments: ["--config", config])
        // A second proxy on the same database (SQLite: the same file).
        let shared = backend == .postgresql ? try TestPostgres.database(named: a.dir) : "\(a.dir)/data.db"
        let b = try ProxyProcess(backend: backend, arguments: ["--config", config, "--database", shared])
        let ca = try a.client(), cb = try b.client()
        _ = try ca.result("vector.create_collection", ["name": "g", "dimension": 16])
        let vs = Self.vectors(600, dimension: 16, seed: 9)
        for start in stride(from: 0, to: vs.count, by: 300) {
            try VectorStoreTests.add(ca, (start..<start + 300).map { i in ("d\(i)", "doc \(i)", ["g": .int(Int64(i % 10))], vs[i]) }, collection: "g")
        }
        let queries = Self.vectors(20, dimension: 16, seed: 123)
        // The first search past the size starts the build and is answered by the scan; exact: false waits for the graph.
        _ = try Self.hits(ca, queries[0], ["exact": false])
        let before = try Self.approximateSearches(ca)
        let r = try Self.recall(ca, queries)
        #expect(r >= 0.95, "recall \(r)")
        #expect(try Self.approximateSearches(ca) == before + Int64(queries.count), "each default search walked the graph, each exact one did not")
        // On SQLite a search of a collection held in memory runs on one worker (version, ranking, documents); PostgreSQL reads on the loop.
        let oneThread = try Self.vectorStatus(ca)["one_thread_searches"]?.intValue ?? -1
        #expect(backend == .sqlite ? oneThread >= 2 * Int64(queries.count) : oneThread == 0, "\(oneThread) searches on one thread")
        let filtered = try Self.recall(ca, queries, ["filter": ["g": 3], "exact": false])
        #expect(filtered >= 0.95, "recall with a filter passing 10%, in the walk: \(filtered)")
        for q in queries.prefix(5) {
            let ids = try Self.hits(ca, q, ["filter": ["g": 3], "exact": false]).map(\.id)
            #expect(ids.count == 10 && ids.allSatisfy { Int($0.dropFirst())! % 10 == 3 })
        }
        // Writes through the other proxy: a removed nearest is gone at once, a new exact match comes first.
        let q = queries[7]
        let nearest = try Self.hits(ca, q)[0].id
        #expect(try cb.result("vector.delete_documents", ["ids": [.string(nearest)], "collection": "g"]) == 1)
        try VectorStoreTests.add(cb, [("fresh", "fresh", [:], q)], collection: "g")
        let after = try Self.hits(ca, q).map(\.id)
        #expect(after.first == "fresh")
        #expect(!after.contains(nearest))
        #expect(try Self.hits(cb, q, ["exact": false]).first?.id == "fresh", "the other proxy builds its own graph, current too")
        // New metadata, the same vector: the walk's filter reads the new metadata.
        try VectorStoreTests.add(cb, [("fresh", "fresh", ["g": 42], q)], collection: "g")
        #expect(try Self.hits(ca, q, ["filter": ["g": 42], "exact": false]).map(\.id) == ["fresh"])
        #expect(try Self.hits(ca, q, ["filter": ["g": 3], "exact": false]).allSatisfy { $0.id != "fresh" })
    }

    static func vectorStatus(_ c: LineClient) throws -> JSONObject {
        try #require(try c.result("server.status").objectValue?["vectors"]?.objectValue)
    }

    @Test("a restarted proxy reads its saved graph (vector.graph_directory) instead of building it; what changed since is redone; another shape is built afresh")
    func savedGraphIsReadBack() throws {
        // Small: each graph insert in a sanitized proxy takes long.
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig("vector:\n  approximate_from_documents: 200\n")])
        var c = try proxy.client()
        _ = try c.result("vector.create_collection", ["name": "g", "dimension": 16])
        let vs = Self.vectors(300, dimension: 16, seed: 9)
        try VectorStoreTests.add(c, vs.enumerated().map { ("d\($0.offset)", "doc", ["g": .int(Int64($0.offset % 10))], $0.element) }, collection: "g")
        let queries = Self.vectors(20, dimension: 16, seed: 123)
        _ = try Self.hits(c, queries[0], ["exact": false])  // built, then saved
        #expect(try Self.vectorStatus(c)["graphs_built"] == 1 && Self.vectorStatus(c)["graphs_loaded"] == 0)
        // Changes after the save: a removed nearest, a new exact match.
        let q = queries[7]
        let nearest = try Self.hits(c, q)[0].id
        #expect(try c.result("vector.delete_documents", ["ids": [.string(nearest)], "collection": "g"]) == 1)
        try VectorStoreTests.add(c, [("fresh", "fresh", ["g": 3], q)], collection: "g")

        proxy.stop()
        try proxy.start()
        c = try proxy.client()
        let first = try Self.hits(c, q, ["exact": false]).map(\.id)
        var status = try Self.vectorStatus(c)
        #expect(status["graphs_loaded"] == 1 && status["graphs_built"] == 0 && status["graph_file_problem"] == .null, "\(status)")
        #expect(first.first == "fresh" && !first.contains(nearest), "\(first)")
        #expect(try Self.hits(c, q, ["filter": ["g": 3], "exact": false]).first?.id == "fresh", "the metadata came from storage")
        let r = try Self.recall(c, queries, ["exact": false])
        #expect(r >= 0.95, "recall of the graph read back: \(r)")

        // Another hnsw_m: the saved graph cannot serve; named, and a new one is built (and saved).
        proxy.stop()
        let other = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig("vector:\n  approximate_from_documents: 200\n  hnsw_m: 8\n")],
                                     dir: proxy.dir)
        c = try other.client()
        #expect(try Self.hits(c, q, ["exact": false]).first?.id == "fresh")
        status = try Self.vectorStatus(c)
        #expect(status["graphs_loaded"] == 0 && status["graphs_built"] == 1, "\(status)")
        #expect(status["graph_file_problem"]?.stringValue?.contains("hnsw_m") == true, "\(status)")
    }

    @Test("exact: false walks a graph at any size; exact and ef are checked")
    func forcedAndChecked() throws {
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig("vector:\n  max_ef: 500\n")])
        let c = try proxy.client()
        _ = try c.result("vector.create_collection", ["name": "g", "dimension": 16])
        let vs = Self.vectors(200, dimension: 16, seed: 4)
        try VectorStoreTests.add(c, vs.enumerated().map { ("d\($0.offset)", "doc", [:], $0.element) }, collection: "g")
        let q = Self.vectors(1, dimension: 16, seed: 8)[0]
        let exact = try Self.hits(c, q)
        #expect(try Self.approximateSearches(c) == 0, "below the size the scan answers")
        let walked = try Self.hits(c, q, ["exact": false, "ef": 100])
        #expect(try Self.approximateSearches(c) == 1)
        #expect(walked.map(\.id) == exact.map(\.id), "a graph of 200 with ef 100 finds the exact top 10")
        for (params, field) in [(["ef": 0] as JSONObject, "ef"), (["ef": 501], "ef"), (["ef": 2.5], "ef"), (["exact": "yes"], "exact")] {
            var p: JSONObject = ["embedding": .array(q.map { .double($0) }), "collection": "g"]
            for (k, v) in params.members { p[k] = v }
            let e = try c.call("vector.search", .object(p))["error"]?.objectValue
            #expect(e?["code"] == -32602 && e?["data"]?.objectValue?["field"]?.stringValue == field, "\(params): \(String(describing: e))")
        }
    }
}
