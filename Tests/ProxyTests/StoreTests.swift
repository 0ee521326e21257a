import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// LangGraph's long-term store (`store.*`) over real proxies, on every
/// backend alike: items by namespace, searches with filters and embeddings,
/// namespaces, TTLs. (LangGraph's own store tests run in the Python client's.)
@Suite("Long-term store (every backend)")
struct StoreTests {
    static func put(_ c: LineClient, _ ns: [String], _ key: String, _ value: JSONObject, ttl: Double? = nil,
                    vectors: [(String, [Double])]? = nil) throws {
        var params: JSONObject = ["namespace": .array(ns.map { .string($0) }), "key": .string(key), "value": .object(value)]
        if let ttl { params["ttl"] = .double(ttl) }
        if let vectors { params["vectors"] = .array(vectors.map { ["field": .string($0.0), "embedding": .array($0.1.map { .double($0) })] }) }
        #expect(try c.result("store.put", .object(params)) == .null)
    }

    static func keys(_ answer: JSONValue) -> [String] { (answer.arrayValue ?? []).map { $0["key"]?.stringValue ?? "?" } }

    @Test("put, get, delete; a namespace prefix is whole labels; pages; filters with LangGraph's operators", arguments: TestBackend.allCases)
    func itemsAndSearch(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        try Self.put(c, ["users", "a"], "prefs", ["theme": "dark", "size": 3])
        let item = try c.result("store.get", ["namespace": ["users", "a"], "key": "prefs"])
        #expect(item["namespace"] == ["users", "a"] && item["value"] == ["theme": "dark", "size": 3])
        let created = try #require(item["created_at"]?.stringValue)
        try Self.put(c, ["users", "a"], "prefs", ["theme": "light", "size": 5])
        let updated = try c.result("store.get", ["namespace": ["users", "a"], "key": "prefs"])
        #expect(updated["value"]?["theme"] == "light" && updated["created_at"]?.stringValue == created && updated["updated_at"] != item["updated_at"])
        try Self.put(c, ["users", "ab"], "x", ["size": 1])  // "users.ab" is not under "users.a"
        try Self.put(c, ["users", "a", "deep"], "y", ["size": 9, "tags": ["q"]])
        #expect(Set(Self.keys(try c.result("store.search", ["namespace_prefix": ["users", "a"]]))) == ["prefs", "y"])
        #expect(Self.keys(try c.result("store.search", ["namespace_prefix": ["users"], "filter": ["size": ["$gt": 2, "$lte": 5]]])) == ["prefs"])
        #expect(Set(Self.keys(try c.result("store.search", ["namespace_prefix": [], "filter": ["size": ["$ne": 5]]]))) == ["x", "y"])
        #expect(Self.keys(try c.result("store.search", ["namespace_prefix": [], "filter": ["tags": ["q"]]])) == ["y"])
        // Pages: newest update first; together they are the whole listing.
        let all = Self.keys(try c.result("store.search", ["namespace_prefix": [], "limit": 100]))
        #expect(all == ["y", "x", "prefs"])
        let paged = try (0..<3).flatMap { i in Self.keys(try c.result("store.search", ["namespace_prefix": [], "limit": 1, "offset": .int(Int64(i))])) }
        #expect(paged == all)
        #expect(try c.result("store.delete", ["namespace": ["users", "a"], "key": "prefs"]) == true)
        #expect(try c.result("store.delete", ["namespace": ["users", "a"], "key": "prefs"]) == false)
        #expect(try c.result("store.get", ["namespace": ["users", "a"], "key": "prefs"]) == .null)
        #expect(try c.call("store.put", ["namespace": ["a.b"], "key": "k", "value": [:]])["error"]?["data"]?["field"] == "namespace[0]")
        #expect(try c.call("store.put", ["namespace": [], "key": "k", "value": [:]])["error"]?["data"]?["field"] == "namespace")
        #expect(try c.call("store.search", ["namespace_prefix": [], "filter": ["n": ["$regex": "x"]]])["error"]?["data"]?["field"] == "filter.n")
    }

    @Test("an item's fields are bounded: more vectors or texts than vector.max_documents_per_call is -32602, nothing stored")
    func fieldsBounded() throws {
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig("vector:\n  max_documents_per_call: 2\n")])
        let c = try proxy.client()
        let three: JSONValue = .array((0..<3).map { ["field": .string("f\($0)"), "embedding": [1, 0]] })
        let refused = try c.call("store.put", ["namespace": ["n"], "key": "k", "value": [:], "vectors": three])
        #expect(refused["error"]?["data"]?["field"] == "vectors" && refused["error"]?["message"]?.stringValue?.contains("max_documents_per_call") == true)
        #expect(try c.call("store.put", ["namespace": ["n"], "key": "k", "value": [:], "texts": [["field": "a", "text": "x"], ["field": "b", "text": "y"],
                                                                                          ["field": "c", "text": "z"]]])["error"]?["data"]?["field"] == "texts")
        #expect(try c.result("store.get", ["namespace": ["n"], "key": "k"]) == .null)
        try Self.put(c, ["n"], "k", [:], vectors: [("a", [1, 0]), ("b", [0, 1])])
    }

    @Test("list_namespaces: prefix and suffix with wildcards, max_depth, pages, in order", arguments: TestBackend.allCases)
    func namespaces(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        for ns in [["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["b", "b", "c"], ["a%", "_"]] { try Self.put(c, ns, "k", ["v": 1]) }
        func list(_ params: JSONObject) throws -> JSONValue { try c.result("store.list_namespaces", .object(params)) }
        #expect(try list([:]) == [["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["a%", "_"], ["b", "b", "c"]])
        #expect(try list(["prefix": ["a"]]) == [["a", "b", "c"], ["a", "b", "d"], ["a", "x"]])
        #expect(try list(["prefix": ["*", "b"]]) == [["a", "b", "c"], ["a", "b", "d"], ["b", "b", "c"]])
        #expect(try list(["suffix": ["c"]]) == [["a", "b", "c"], ["b", "b", "c"]])
        #expect(try list(["prefix": ["a"], "max_depth": 2]) == [["a", "b"], ["a", "x"]])
        #expect(try list(["limit": 2, "offset": 1]) == [["a", "b", "d"], ["a", "x"]])
    }

    @Test("query_embedding ranks by cosine (an item's best field), items without one after, unscored", arguments: TestBackend.allCases)
    func similarity(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        try Self.put(c, ["docs"], "near", ["t": 1], vectors: [("title", [1, 0, 0]), ("body", [0, 1, 0])])
        try Self.put(c, ["docs"], "far", ["t": 2], vectors: [("title", [-1, 0, 0])])
        try Self.put(c, ["docs"], "plain", ["t": 3])
        let hits = try #require(try c.result("store.search", ["namespace_prefix": ["docs"], "query_embedding": [0, 1, 0]]).arrayValue)
        #expect(hits.map { $0["key"]?.stringValue } == ["near", "far", "plain"])
        #expect(hits[0]["score"]?.doubleValue == 1 && hits[1]["score"]?.doubleValue == 0 && hits[2]["score"] == nil)
        // Vectors replaced by a put that names them, kept by one that does not, gone with the item.
        try Self.put(c, ["docs"], "far", ["t": 2], vectors: [("title", [0, 1, 0])])
        try Self.put(c, ["docs"], "near", ["t": 9])
        let again = try c.result("store.search", ["namespace_prefix": ["docs"], "query_embedding": [0, 1, 0], "filter": ["t": ["$lt": 9]]])
        #expect(Self.keys(again) == ["far", "plain"])
        #expect(Self.keys(try c.result("store.search", ["namespace_prefix": ["docs"], "query_embedding": [0, 1, 0], "limit": 1, "offset": 1])) == ["near"])
    }

    @Test("a TTL: expired items are gone to every read at once, reads with refresh_ttl start it again, the sweep deletes them",
          arguments: TestBackend.allCases)
    func ttl(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        try Self.put(c, ["s"], "short", ["v": 1], ttl: 0.02)  // 1.2 s
        try Self.put(c, ["s"], "kept", ["v": 2], ttl: 0.02)
        try Self.put(c, ["s"], "forever", ["v": 3])
        for _ in 0..<4 {  // 0.4 s apart: "kept" refreshed each time, "short" read without refreshing
            Thread.sleep(forTimeInterval: 0.4)
            #expect(try c.result("store.get", ["namespace": ["s"], "key": "kept"])["value"] == ["v": 2])
            _ = try c.result("store.get", ["namespace": ["s"], "key": "short", "refresh_ttl": false])
        }
        #expect(try c.result("store.get", ["namespace": ["s"], "key": "short"]) == .null)
        #expect(Set(Self.keys(try c.result("store.search", ["namespace_prefix": ["s"], "refresh_ttl": false]))) == ["kept", "forever"])
        #expect(try c.result("store.list_namespaces", [:]) == [["s"]])
        #expect(try c.result("store.sweep") == 1)  // "short"
        #expect(try c.result("store.sweep") == 0)
        #expect(try c.call("store.put", ["namespace": ["s"], "key": "k", "value": [:], "ttl": 0])["error"]?["data"]?["field"] == "ttl")
    }

    @Test("with the proxy's embedder: a put's texts and a search's query are embedded by it; without one, -32602 naming the field",
          arguments: TestBackend.allCases)
    func proxyEmbedder(backend: TestBackend) throws {
        let embedder = try FakeEmbedder()
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig(embedder.config())])
        let c = try proxy.client()
        for (key, text) in [("cats", "cats purr softly"), ("rain", "rain falls on the roof"), ("dogs", "dogs bark loudly")] {
            _ = try c.result("store.put", ["namespace": ["notes"], "key": .string(key), "value": ["text": .string(text)],
                                           "texts": [["field": "text", "text": .string(text)]]])
        }
        let hits = try #require(try c.result("store.search", ["namespace_prefix": ["notes"], "query": "rain falls"]).arrayValue)
        #expect(hits.first?["key"] == "rain" && (hits.first?["score"]?.doubleValue ?? 0) > 0.5)
        #expect(hits.count == 3 && hits.allSatisfy { $0["score"] != nil })
        #expect(try c.call("store.search", ["namespace_prefix": [], "query": "x", "query_embedding": [1]])["error"]?["data"]?["field"] == "query")

        let plain = try ProxyProcess(backend: backend)
        let p = try plain.client()
        #expect(try p.call("store.search", ["namespace_prefix": [], "query": "x"])["error"]?["data"]?["field"] == "query")
        #expect(try p.call("store.put", ["namespace": ["n"], "key": "k", "value": [:], "texts": [["field": "t", "text": "x"]]])["error"]?["data"]?["field"]
                == "texts")
        #expect(try p.result("store.get", ["namespace": ["n"], "key": "k"]) == .null)  // nothing stored
    }
}
