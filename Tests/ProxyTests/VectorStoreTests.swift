import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The vector store (`vector.*`) over real proxies, on every backend.
@Suite("Vector store")
struct VectorStoreTests {
    /// Deterministic random numbers (SplitMix64): the same data every run.
    struct Seeded {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) * 2 - 1 }
        mutating func vector(_ n: Int) -> [Double] { (0..<n).map { _ in unit() } }
    }

    static func json(_ v: [Double]) -> JSONValue { .array(v.map { .double($0) }) }

    /// A vector as its float32 bytes (little-endian) in base64, the wire's other form.
    static func base64(_ v: [Double]) -> JSONValue {
        .string(Base64.encode(v.flatMap { d in withUnsafeBytes(of: Float(d).bitPattern.littleEndian) { Array($0) } }))
    }

    static func ids(_ hits: JSONValue) -> [String] { hits.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } ?? [] }

    static func add(_ c: LineClient, _ docs: [(id: String, text: String, meta: JSONValue, vector: [Double]?)],
                    collection: String? = nil, transaction: String? = nil) throws {
        var p: JSONObject = ["ids": .array(docs.map { .string($0.id) }), "documents": .array(docs.map { .string($0.text) }),
                             "metadata": .array(docs.map(\.meta))]
        if docs.contains(where: { $0.vector != nil }) { p["embeddings"] = .array(docs.map { $0.vector.map(json) ?? .null }) }
        if let collection { p["collection"] = .string(collection) }
        if let transaction { p["transaction"] = .string(transaction) }
        let r = try c.result("vector.add_documents", .object(p))
        #expect(r == .array(docs.map { .string($0.id) }))
    }

    static func search(_ c: LineClient, _ params: JSONObject) throws -> JSONValue { try c.result("vector.search", .object(params)) }

    @Test("add, search, replace by id, delete; the default collection exists implicitly", arguments: TestBackend.allCases)
    func addSearchReplaceDelete(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        #expect(try Self.search(c, ["query": "anything"]) == [], "an empty default collection answers nothing, not an error")
        #expect(try c.result("vector.delete_documents", ["ids": ["x"]]) == 0)
        try Self.add(c, [("a", "the cat sat on the mat", ["kind": "pet"], [1, 0, 0]),
                         ("b", "dogs chase cats in the park", ["kind": "pet"], [0.8, 0.6, 0]),
                         ("c", "quantum physics of black holes", ["kind": "science"], [0, 0, 1])])
        let nearest = try Self.search(c, ["embedding": [1, 0, 0], "top_k": 2])
        #expect(Self.ids(nearest) == ["a", "b"])
        let first = try #require(nearest.arrayValue?.first?.objectValue)
        #expect(first["document"] == "the cat sat on the mat" && first["metadata"] == ["kind": "pet"] && first["matched"] == ["vector"])
        #expect(abs((first["score"]?.doubleValue ?? 0) - 1) < 1e-6, "cosine of a vector with itself")

        // Replacing by id: new text, metadata and vector; still three documents.
        try Self.add(c, [("a", "a physics lecture", ["kind": "science"], [0, 0.1, 1])])
        #expect(Self.ids(try Self.search(c, ["embedding": [0, 0.1, 1], "top_k": 2])) == ["a", "c"])
        #expect(Self.ids(try Self.search(c, ["query": "mat"])) == [], "the replaced text is no longer indexed")
        #expect(Self.ids(try Self.search(c, ["query": "lecture"])) == ["a"])
        let listed = try c.result("vector.list_collections")
        #expect(listed == [["name": "default", "dimension": 3, "metric": "cosine", "count": 3]])

        #expect(try c.result("vector.delete_documents", ["ids": ["a", "nope", "a"]]) == 1)
        #expect(Self.ids(try Self.search(c, ["embedding": [0, 0, 1], "top_k": 5])) == ["c", "b"])
        #expect(Self.ids(try Self.search(c, ["query": "lecture"])) == [])
        // Server-made ids.
        let made = try c.result("vector.add_documents", ["documents": ["no id given"]])
        let id = try #require(made.arrayValue?.first?.stringValue)
        #expect(Self.ids(try Self.search(c, ["query": "given"])) == [id])
    }

    @Test("collections: create is idempotent, other settings conflict, drop removes the documents", arguments: TestBackend.allCases)
    func collections(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let made = try c.result("vector.create_collection", ["name": "notes", "dimension": 2, "metric": "l2"])
        #expect(made == ["name": "notes", "dimension": 2, "metric": "l2", "created": true])
        #expect(try c.result("vector.create_collection", ["name": "notes", "dimension": 2, "metric": "l2"]).objectValue?["created"] == false)
        #expect(try c.errorCode("vector.create_collection", ["name": "notes", "dimension": 3]) == -32002)
        try Self.add(c, [("n1", "near", [:], [1, 1]), ("n2", "far", [:], [5, 5])], collection: "notes")
        let hits = try Self.search(c, ["embedding": [1, 2], "collection": "notes"])
        #expect(Self.ids(hits) == ["n1", "n2"])
        #expect(abs((hits.arrayValue?.first?.objectValue?["score"]?.doubleValue ?? 0) - 1) < 1e-6, "l2 reports the distance")
        #expect(Self.ids(try Self.search(c, ["embedding": [1, 2]])) == [], "other collections are apart")
        #expect(try c.result("vector.drop_collection", ["name": "notes"]) == true)
        #expect(try c.result("vector.drop_collection", ["name": "notes"]) == false)
        #expect(try c.errorCode("vector.search", ["embedding": [1, 2], "collection": "notes"]) == -32602)
        // Made again with another dimension: nothing of the old one is found.
        _ = try c.result("vector.create_collection", ["name": "notes", "dimension": 3])
        try Self.add(c, [("m", "new", [:], [1, 0, 0])], collection: "notes")
        #expect(Self.ids(try Self.search(c, ["embedding": [1, 0, 0], "collection": "notes", "top_k": 10])) == ["m"])
    }

    @Test("filters apply before ranking: top_k hits when enough pass, every one when fewer do; numbers by value", arguments: TestBackend.allCases)
    func filters(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        // 40 documents; the 5 of team "red" are the farthest from the query.
        var docs: [(id: String, text: String, meta: JSONValue, vector: [Double]?)] = []
        for i in 0..<40 {
            let red = i >= 35
            docs.append(("d\(i)", "report number \(i) about budgets", ["team": red ? "red" : "blue", "n": .int(Int64(i % 3)), "flag": .bool(i % 2 == 0)],
                         [1, Double(i) / 10]))
        }
        try Self.add(c, docs)
        try Self.add(c, [("dnull", "report number null about budgets", ["team": .null], [1, 5])])
        for mode in ["vector", "keyword", "hybrid"] {
            var p: JSONObject = ["top_k": 3, "filter": ["team": "red"], "mode": .string(mode)]
            if mode != "keyword" { p["embedding"] = [1, 0] }
            if mode != "vector" { p["query"] = "budgets report" }
            let three = Self.ids(try Self.search(c, p))
            #expect(three.count == 3 && three.allSatisfy { Int($0.dropFirst())! >= 35 }, "\(mode): \(three)")
            p["top_k"] = 10
            #expect(Set(Self.ids(try Self.search(c, p))) == Set((35..<40).map { "d\($0)" }), "\(mode): fewer than top_k pass")
            p["filter"] = ["n": 2.0, "team": ["$in": ["red", "green"]]]
            #expect(Set(Self.ids(try Self.search(c, p))) == Set([35, 38].map { "d\($0)" }), "\(mode): 2.0 equals 2; $in")
            p["filter"] = ["flag": true, "team": "red"]
            #expect(Set(Self.ids(try Self.search(c, p))) == Set([36, 38].map { "d\($0)" }), "\(mode): booleans")
            p["filter"] = ["flag": 1]
            #expect(Self.ids(try Self.search(c, p)).isEmpty, "\(mode): 1 is not true")
            p["filter"] = ["missing": .null]
            #expect(Self.ids(try Self.search(c, p)).isEmpty, "\(mode): a missing key is not null")
            p["filter"] = ["team": ["$in": [.null, "purple"]]]
            #expect(Self.ids(try Self.search(c, p)) == ["dnull"], "\(mode): a stored null matches null")
            p["filter"] = ["team": "null"]
            #expect(Self.ids(try Self.search(c, p)).isEmpty, "\(mode): the string \"null\" is not null")
        }
    }

    @Test("keyword ranking: more of the query's words, and rarer ones, rank higher; stems match", arguments: TestBackend.allCases)
    func keywordRanking(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        var docs: [(id: String, text: String, meta: JSONValue, vector: [Double]?)] = [
            ("both", "deploying the proxy with kubernetes", [:], nil),
            ("one", "the proxy restarts at night", [:], nil),
            ("stem", "we deployed it yesterday", [:], nil),
        ]
        for i in 0..<30 { docs.append(("filler\(i)", "notes on lunch menus number \(i)", [:], nil)) }
        try Self.add(c, docs)
        let hits = Self.ids(try Self.search(c, ["query": "Deploy the PROXY on Kubernetes!", "top_k": 3]))
        #expect(hits.first == "both", "\(hits)")
        #expect(Set(hits) == ["both", "one", "stem"], "\(hits)")
        #expect(Self.ids(try Self.search(c, ["query": "\"quoted\" OR -operators* (none) NEAR"])) == [], "no query text is syntax")
        #expect(Self.ids(try Self.search(c, ["query": "...!!!"])) == [])
    }

    @Test("vector search is exact: equal to a brute-force reference on random data, for each metric", arguments: TestBackend.allCases)
    func exactAgainstBruteForce(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        var rng = Seeded(state: 42)
        let dimension = 24, count = 600
        let vectors = (0..<count).map { _ in rng.vector(dimension) }
        for metric in ["cosine", "dot", "l2"] {
            _ = try c.result("vector.create_collection", ["name": .string(metric), "dimension": .int(Int64(dimension)), "metric": .string(metric)])
            for start in stride(from: 0, to: count, by: 200) {
                try Self.add(c, (start..<start + 200).map { ("v\($0)", "vector \($0)", [:], vectors[$0]) }, collection: metric)
            }
            for _ in 0..<5 {
                let q = rng.vector(dimension)
                let score: ([Double]) -> Double = { v in
                    let dot = zip(q, v).reduce(0) { $0 + $1.0 * $1.1 }
                    switch metric {
                    case "cosine": return dot / (q.reduce(0) { $0 + $1 * $1 }.squareRoot() * v.reduce(0) { $0 + $1 * $1 }.squareRoot())
                    case "dot": return dot
                    default: return -zip(q, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
                    }
                }
                let reference = vectors.indices.map { (id: "v\($0)", score: score(vectors[$0])) }.sorted { $0.score > $1.score }.prefix(10)
                let hits = try #require(try Self.search(c, ["embedding": Self.json(q), "top_k": 10, "collection": .string(metric)]).arrayValue)
                // The same query as float32 bytes in base64: the same floats, so the same hits and scores to the bit.
                #expect(try Self.search(c, ["embedding": Self.base64(q), "top_k": 10, "collection": .string(metric)]) == .array(hits))
                #expect(hits.map { $0.objectValue?["id"]?.stringValue ?? "" } == reference.map(\.id), "\(metric)")
                for (hit, ref) in zip(hits, reference) {
                    let got = hit.objectValue?["score"]?.doubleValue ?? .nan
                    #expect(abs(got - (metric == "l2" ? -ref.score : ref.score)) < 1e-3 * max(1, abs(ref.score)), "\(metric) \(ref.id)")
                }
            }
        }
    }

    @Test("a collection larger than one load page (10,000 rows) is loaded whole, and later changes on top", arguments: TestBackend.allCases)
    func pagedLoad(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("vector.create_collection", ["name": "big", "dimension": 2, "metric": "l2"])
        let n = 25_000
        for start in stride(from: 0, to: n, by: 2500) {
            try Self.add(c, (start..<start + 2500).map { ("p\($0)", "", [:], [Double($0), 0]) }, collection: "big")
        }
        for probe in [0, 9_999, 10_000, 19_999, 24_999] {
            #expect(Self.ids(try Self.search(c, ["embedding": [.double(Double(probe) + 0.1), 0], "top_k": 1, "collection": "big"])) == ["p\(probe)"])
        }
        let far = try c.result("vector.search", ["embedding": [100_000, 0], "top_k": 1000, "collection": "big"]).arrayValue ?? []
        #expect(far.count == 1000 && far.first?.objectValue?["id"] == "p24999")
        #expect(try c.result("vector.delete_documents", ["ids": ["p24999"], "collection": "big"]) == 1)
        try Self.add(c, [("p-new", "", [:], [100_000, 0])], collection: "big")
        #expect(Self.ids(try Self.search(c, ["embedding": [100_000, 0], "top_k": 2, "collection": "big"])) == ["p-new", "p24998"])
    }

    @Test("hybrid: reciprocal rank fusion, each hit saying which rankings found it", arguments: TestBackend.allCases)
    func hybrid(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        try Self.add(c, [("words", "solar panel maintenance schedule", [:], [0, 1]),
                         ("both", "solar panel cleaning", [:], [0.9, 0.1]),
                         ("vector", "an unrelated text", [:], [1, 0]),
                         ("neither", "garden tools", [:], [-1, 0])])
        let hits = try #require(try Self.search(c, ["query": "solar panel", "embedding": [1, 0], "top_k": 4]).arrayValue)
        let byID = Dictionary(uniqueKeysWithValues: hits.map { ($0.objectValue?["id"]?.stringValue ?? "", $0.objectValue ?? [:]) })
        #expect(hits.first?.objectValue?["id"] == "both", "found by both rankings, so first: \(hits)")
        #expect(byID["both"]?["matched"] == ["keyword", "vector"])
        #expect(byID["words"]?["matched"] == ["keyword", "vector"] || byID["words"]?["matched"] == ["keyword"])
        #expect(byID["vector"]?["matched"] == ["vector"])
        #expect(byID["both"]?["vector_score"] != nil && byID["both"]?["keyword_score"] != nil)
        let fused = hits.compactMap { $0.objectValue?["score"]?.doubleValue }
        #expect(fused == fused.sorted(by: >))
        #expect(abs(fused[0] - (1.0 / 61 + 1.0 / 62)) < 1e-9, "first by keyword (shorter), second by vector: 1/61 + 1/62")
        // The caller can force one ranking.
        #expect(try Self.search(c, ["query": "solar panel", "embedding": [1, 0], "mode": "keyword"]).arrayValue?
                    .allSatisfy { $0.objectValue?["matched"] == ["keyword"] } == true)
    }

    @Test("transactions: a rolled-back add is never found, a committed one is", arguments: TestBackend.allCases)
    func transactions(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        try Self.add(c, [("base", "baseline", [:], [1, 0])])
        _ = try Self.search(c, ["embedding": [1, 0]])  // the matrix is loaded before the transactions
        let tx = try #require(try c.result("begin_transaction").stringValue)
        try Self.add(c, [("undone", "rolled back words", [:], [0, 1])], transaction: tx)
        #expect(try c.result("vector.delete_documents", ["ids": ["base"], "transaction": .string(tx)]) == 1)
        _ = try c.result("rollback_transaction", ["transaction": .string(tx)])
        #expect(Self.ids(try Self.search(c, ["embedding": [0, 1], "top_k": 5])) == ["base"])
        #expect(Self.ids(try Self.search(c, ["query": "rolled"])) == [])
        let tx2 = try #require(try c.result("begin_transaction").stringValue)
        try Self.add(c, [("kept", "committed words", [:], [0, 1])], transaction: tx2)
        _ = try c.result("commit_transaction", ["transaction": .string(tx2)])
        #expect(Self.ids(try Self.search(c, ["embedding": [0, 1], "top_k": 5])) == ["kept", "base"])
        #expect(Self.ids(try Self.search(c, ["query": "committed"])) == ["kept"])
    }

    @Test("a restart rebuilds the matrices from storage")
    func restart() throws {
        for backend in TestBackend.allCases {
            let proxy = try ProxyProcess(backend: backend)
            var rng = Seeded(state: 7)
            let vectors = (0..<300).map { _ in rng.vector(8) }
            try Self.add(try proxy.client(), vectors.indices.map { ("r\($0)", "row \($0)", ["i": .int(Int64($0))], vectors[$0]) })
            try Self.add(try proxy.client(), [("r5", "row 5 again", ["i": 5], vectors[6])])
            _ = try proxy.client().result("vector.delete_documents", ["ids": ["r7"]])
            let q = Self.json(rng.vector(8))
            let before = try Self.search(try proxy.client(), ["embedding": q, "top_k": 20])
            _ = proxy.stop(signal: SIGKILL)
            try proxy.start()
            let after = try Self.search(try proxy.client(), ["embedding": q, "top_k": 20])
            #expect(before == after, "\(backend)")
            #expect(!Self.ids(after).contains("r7"), "\(backend)")
        }
    }

    @Test("two proxies on one PostgreSQL: an acknowledged add or delete through one is seen at once through the other")
    func twoProxies() throws {
        let first = try ProxyProcess(backend: .postgresql)
        let second = try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: first.dir)])
        let a = try first.client(), b = try second.client()
        try Self.add(a, [("seed", "seed", [:], [1, 0, 0])])
        #expect(Self.ids(try Self.search(b, ["embedding": [1, 0, 0]])) == ["seed"], "b loads the collection")
        for i in 0..<20 {
            let v: [Double] = [0, 1, Double(i)]
            try Self.add(a, [("n\(i)", "new \(i)", [:], v)])
            #expect(Self.ids(try Self.search(b, ["embedding": Self.json(v), "top_k": 1])) == ["n\(i)"], "add \(i)")
            #expect(try b.result("vector.delete_documents", ["ids": .array([.string("n\(i)")])]) == 1)
            #expect(!Self.ids(try Self.search(a, ["embedding": Self.json(v), "top_k": 3])).contains("n\(i)"), "delete \(i)")
        }
    }

    @Test("a collection whose in-memory index would pass vector.max_memory_bytes is refused with -32006, keyword search too; fine again under it")
    func memoryCeiling() throws {
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig("vector:\n  max_memory_bytes: 1048576\n")])
        let c = try proxy.client()
        var rng = Seeded(state: 3)
        for start in stride(from: 0, to: 1200, by: 100) {  // 1,200 × 256 float32: 1.2 MB of matrix
            try Self.add(c, (start..<start + 100).map { ("m\($0)", "row \($0)", [:], rng.vector(256)) })
        }
        let refused = try c.call("vector.search", ["embedding": Self.json(rng.vector(256))])
        #expect(refused["error"]?.objectValue?["code"] == -32006, "\(refused)")
        #expect(refused["error"]?.objectValue?["message"]?.stringValue?.contains("vector.max_memory_bytes") == true)
        #expect(try c.errorCode("vector.search", ["query": "row", "top_k": 1]) == -32006, "keyword search ranks in memory too")
        #expect(try c.result("vector.delete_documents", ["ids": .array((0..<600).map { .string("m\($0)") })]) == 600)
        #expect(Self.ids(try Self.search(c, ["embedding": Self.json(rng.vector(256)), "top_k": 3])).count == 3, "under the ceiling again")
        #expect(Self.ids(try Self.search(c, ["query": "row", "top_k": 3])).count == 3)
    }

    @Test("bad input: -32602 naming the field, and nothing stored", arguments: TestBackend.allCases)
    func badInput(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig("vector:\n  max_top_k: 50\n  max_documents_per_call: 10\n")])
        let c = try proxy.client()
        try Self.add(c, [("ok", "fine", [:], [1, 0])])
        func field(_ method: String, _ params: JSONValue) throws -> String? {
            let r = try c.call(method, params)
            let e = r["error"]?.objectValue
            #expect(e?["code"] == -32602, "\(method) \(params.jsonText): \(r)")
            return e?["data"]?.objectValue?["field"]?.stringValue
        }
        #expect(try field("vector.add_documents", ["documents": ["x", "y"], "embeddings": [[1, 0], [1, 2, 3]]]) == "embeddings[1]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": [[1, 1e39]]]) == "embeddings[0][1]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": [[0, 0]]]) == "embeddings[0]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": [[1, "a"]]]) == "embeddings[0][1]")
        // Base64 float32s: not base64, not whole float32s, a NaN, the wrong dimension.
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": ["@@@@"]]) == "embeddings[0]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": ["AAAAAAAA"]]) == "embeddings[0]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": [.string(Base64.encode([0, 0, 0x80, 0x3F, 0, 0, 0xC0, 0x7F]))]])
                == "embeddings[0][1]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "embeddings": [Self.base64([1, 0, 0])]]) == "embeddings[0]")
        #expect(try field("vector.search", ["embedding": Self.base64([1])]) == "embedding")
        #expect(try field("vector.search", ["embedding": ""]) == "embedding")
        // Longer than vector.max_dimension floats (4,096 by default) can be: refused before it is decoded.
        #expect(try field("vector.search", ["embedding": .string(String(repeating: "AAAA", count: 6_000))]) == "embedding")
        #expect(try field("vector.add_documents", ["documents": []]) == "documents")
        #expect(try field("vector.add_documents", ["documents": .array(Array(repeating: "x", count: 11))]) == "documents")
        #expect(try field("vector.add_documents", ["documents": ["x", "y"], "metadata": [[:]]]) == "metadata")
        #expect(try field("vector.add_documents", ["documents": ["x"], "metadata": ["text"]]) == "metadata[0]")
        #expect(try field("vector.add_documents", ["documents": [1]]) == "documents[0]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "ids": [""]]) == "ids[0]")
        #expect(try field("vector.add_documents", ["documents": ["x"], "collection": "nope"]) == "collection")
        #expect(try field("vector.search", ["embedding": [1, 0], "top_k": 0]) == "top_k")
        #expect(try field("vector.search", ["embedding": [1, 0], "top_k": 51]) == "top_k")
        #expect(try field("vector.search", ["embedding": [1, 0, 0]]) == "embedding")
        #expect(try field("vector.search", ["query": "x", "collection": "nope"]) == "collection")
        #expect(try field("vector.search", ["query": "x", "filter": ["k": [1, 2]]]) == "filter.k")
        #expect(try field("vector.search", ["query": "x", "filter": ["k": ["$like": 1]]]) == "filter.k.$like")
        #expect(try field("vector.search", ["query": "x", "filter": ["$or": [["k": ["$gt": true]]]]]) == "filter.$or[0].k.$gt")
        #expect(try field("vector.search", ["query": "x", "filter": ["k": ["$in": [[1]]]]]) == "filter.k.$in[0]")
        #expect(try field("vector.search", ["query": "x", "filter": ["$in": [1]]]) == "filter.$in")
        #expect(try field("vector.search", ["query": "x", "filter": "k"]) == "filter")
        #expect(try field("vector.search", ["query": "x", "mode": "vector"]) == "embedding")
        #expect(try field("vector.search", ["mode": "fuzzy", "query": "x"]) == "mode")
        #expect(try field("vector.search", [:]) == "query")
        #expect(try field("vector.delete_documents", ["ids": []]) == "ids")
        #expect(try field("vector.create_collection", ["name": "n", "dimension": 0]) == "dimension")
        #expect(try field("vector.create_collection", ["name": "n", "dimension": 2, "metric": "manhattan"]) == "metric")
        // Nothing of the refused calls was stored.
        #expect(try c.result("vector.list_collections") == [["name": "default", "dimension": 2, "metric": "cosine", "count": 1]])
        #expect(try c.errorCode("vector.add_documents", ["documents": ["x"], "embeddings": [[1, 0]]]) == nil, "the proxy goes on")
    }
}
