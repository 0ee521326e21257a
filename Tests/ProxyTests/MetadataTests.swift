import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `save_metadata`, `get_metadata`, `list_metadata`, `delete_metadata` on
/// every backend alike, and their read-through entries.
@Suite("Metadata (every backend)")
struct MetadataTests {
    @Test("list_metadata pages keys in byte order from a prefix; delete_metadata says whether the key was there",
          arguments: TestBackend.allCases)
    func listAndDelete(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        // Byte order, not a locale's: "B" < "a" < "a/1" < "a/2" < "a:b" < "ab" < "b" < "é" < "😀".
        let keys = ["b", "a/2", "é", "a", "ab", "B", "a:b", "a/1", "😀"]
        for (i, k) in keys.enumerated() { _ = try c.result("save_metadata", ["key": .string(k), "value": .int(Int64(i))]) }
        let all = ["B", "a", "a/1", "a/2", "a:b", "ab", "b", "é", "😀"]
        #expect(try c.result("list_metadata", ["prefix": ""]) == .array(all.map { .string($0) }))
        #expect(try c.result("list_metadata", ["prefix": "a"]) == ["a", "a/1", "a/2", "a:b", "ab"])
        #expect(try c.result("list_metadata", ["prefix": "a/"]) == ["a/1", "a/2"])
        #expect(try c.result("list_metadata", ["prefix": "zz"]) == [])
        // Pages: each starts after the last key of the one before, and together they are the whole list.
        var paged: [JSONValue] = []
        var after: JSONValue = .null
        while true {
            var params: JSONObject = ["prefix": "", "limit": 2]
            if after != .null { params["after"] = after }
            let page = try #require(try c.result("list_metadata", .object(params)).arrayValue)
            #expect(page.count <= 2)
            paged += page
            guard page.count == 2, let last = page.last else { break }
            after = last
        }
        #expect(paged == all.map { .string($0) })
        #expect(try c.result("list_metadata", ["prefix": "a", "after": "a/2"]) == ["a:b", "ab"])

        #expect(try c.result("delete_metadata", ["key": "a/1"]) == .bool(true))
        #expect(try c.result("delete_metadata", ["key": "a/1"]) == .bool(false))
        #expect(try c.result("get_metadata", ["key": "a/1"]) == .null)
        #expect(try c.result("list_metadata", ["prefix": "a/"]) == ["a/2"])
        #expect(try c.call("list_metadata", ["prefix": "", "limit": 0])["error"]?["data"]?["field"] == "limit")
        #expect(try c.errorCode("list_metadata", [:]) == -32602)
    }

    @Test("metadata reads see every acknowledged write at once, through the cache; a rolled-back delete keeps the key",
          arguments: TestBackend.allCases)
    func readsFollowWrites(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let writer = try proxy.client(), reader = try proxy.client()
        for round in 0..<3 {
            _ = try writer.result("save_metadata", ["key": "k", "value": .int(Int64(round))])
            #expect(try reader.result("get_metadata", ["key": "k"]) == .int(Int64(round)))
            #expect(try reader.result("get_metadata", ["key": "k"]) == .int(Int64(round)))  // a hit, if cached, is the same
            #expect(try reader.result("list_metadata", ["prefix": "k"]) == ["k"])
        }
        let tx = try #require(try writer.result("begin_transaction").stringValue)
        #expect(try writer.result("delete_metadata", ["key": "k", "transaction": .string(tx)]) == .bool(true))
        #expect(try writer.result("list_metadata", ["prefix": "k", "transaction": .string(tx)]) == [])  // its own delete
        _ = try writer.result("rollback_transaction", ["transaction": .string(tx)])
        #expect(try reader.result("get_metadata", ["key": "k"]) == 2)
        let tx2 = try #require(try writer.result("begin_transaction").stringValue)
        #expect(try writer.result("delete_metadata", ["key": "k", "transaction": .string(tx2)]) == .bool(true))
        _ = try writer.result("save_metadata", ["key": "k2", "value": "v", "transaction": .string(tx2)])
        _ = try writer.result("commit_transaction", ["transaction": .string(tx2)])
        #expect(try reader.result("get_metadata", ["key": "k"]) == .null)
        #expect(try reader.result("list_metadata", ["prefix": "k"]) == ["k2"])
    }

    @Test("get_metadata and list_metadata are read-through entries: a second read is a hit, a write retires them")
    func cachedOnSQLite() throws {
        let proxy = try ProxyProcess(backend: .sqlite)
        let c = try proxy.client()
        _ = try c.result("save_metadata", ["key": "m", "value": 1])
        let start = try readThrough(c)
        #expect(try c.result("get_metadata", ["key": "m"]) == 1)
        #expect(try c.result("get_metadata", ["key": "m"]) == 1)
        #expect(try c.result("list_metadata", ["prefix": ""]) == ["m"])
        #expect(try c.result("list_metadata", ["prefix": ""]) == ["m"])
        let warm = try readThrough(c)
        #expect(figure(warm, "hits") - figure(start, "hits") == 2)
        #expect(figure(warm, "storage_reads") - figure(start, "storage_reads") == 2)
        _ = try c.result("save_metadata", ["key": "n", "value": 2])  // retires every listing, not m's entry
        #expect(try c.result("get_metadata", ["key": "m"]) == 1)
        #expect(try c.result("list_metadata", ["prefix": ""]) == ["m", "n"])
        let after = try readThrough(c)
        #expect(figure(after, "hits") - figure(warm, "hits") == 1)
        #expect(figure(after, "storage_reads") - figure(warm, "storage_reads") == 1)
    }

    @Test("two proxies sharing Redis: a metadata write through one is read at once through the other")
    func sharedCache() throws {
        let prefix = TestRedis.freshPrefix()
        let a = try ProxyProcess(backend: .postgresql, arguments: try TestRedis.serveArguments(prefix: prefix))
        let b = try ProxyProcess(backend: .postgresql,
                                 arguments: try TestRedis.serveArguments(prefix: prefix) + ["--database", try TestPostgres.database(named: a.dir)])
        let ca = try a.client(), cb = try b.client()
        for round in 0..<3 {
            _ = try ca.result("save_metadata", ["key": "shared", "value": .int(Int64(round))])
            #expect(try cb.result("get_metadata", ["key": "shared"]) == .int(Int64(round)))
            #expect(try cb.result("list_metadata", ["prefix": "sh"]) == ["shared"])
        }
        #expect(figure(try readThrough(cb), "hits") == 0)  // every read followed a write: none may be a hit
        #expect(try cb.result("get_metadata", ["key": "shared"]) == 2)
        #expect(figure(try readThrough(cb), "hits") == 1)
        #expect(try ca.result("delete_metadata", ["key": "shared"]) == .bool(true))
        #expect(try cb.result("get_metadata", ["key": "shared"]) == .null)
        #expect(try cb.result("list_metadata", ["prefix": "sh"]) == [])
    }
}
