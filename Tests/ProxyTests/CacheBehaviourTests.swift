import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The cache backends the `cache.*` suite runs against. Each cache added to
/// the proxy adds a case (Redis: issue 4); every test below then runs on it.
enum TestCache: String, CaseIterable, CustomStringConvertible, Sendable {
    case memory
    case redis

    var description: String { rawValue }
    func serveArguments() throws -> [String] {
        switch self {
        case .memory: return ["--cache", "memory"]
        case .redis: return try TestRedis.serveArguments(prefix: TestRedis.freshPrefix())
        }
    }
}

/// The seed's `CacheAdapter` over the wire, as the contract defines it.
@Suite("cache.* behaviour (every cache)")
struct CacheBehaviourTests {
    /// Runs `body` with a client of a fresh proxy that lives until `body` returns.
    func withClient(_ cache: TestCache, _ body: (LineClient) throws -> Void) throws {
        let proxy = try ProxyProcess(arguments: try cache.serveArguments())
        try withExtendedLifetime(proxy) { try body(try proxy.client()) }
    }

    @Test("set, get, exists, delete keep any JSON value", arguments: TestCache.allCases)
    func basics(cache: TestCache) throws {
        try withClient(cache) { (c: LineClient) throws in
            let value: JSONValue = ["text": "hi", "n": 9_007_199_254_740_991, "list": [1.5, nil, true]]
            #expect(try c.result("cache.get", ["key": "k"]) == .null)
            #expect(try c.result("cache.exists", ["key": "k"]) == false)
            #expect(try c.result("cache.set", ["key": "k", "value": value]) == true)
            #expect(try c.result("cache.get", ["key": "k"]) == value)
            #expect(try c.result("cache.exists", ["key": "k"]) == true)
            #expect(try c.result("cache.delete", ["key": "k"]) == true)
            #expect(try c.result("cache.delete", ["key": "k"]) == false)
            #expect(try c.result("cache.get", ["key": "k"]) == .null)
        }
    }

    @Test("ttl expires; a set without ttl clears an earlier ttl", arguments: TestCache.allCases)
    func ttl(cache: TestCache) throws {
        try withClient(cache) { (c: LineClient) throws in
            _ = try c.result("cache.set", ["key": "short", "value": 1, "ttl": 0.3])
            _ = try c.result("cache.set", ["key": "kept", "value": 1, "ttl": 0.3])
            _ = try c.result("cache.set", ["key": "kept", "value": 2])  // no ttl: lives on
            #expect(try c.result("cache.get", ["key": "short"]) == 1)
            usleep(700_000)
            #expect(try c.result("cache.get", ["key": "short"]) == .null)
            #expect(try c.result("cache.exists", ["key": "short"]) == false)
            #expect(try c.result("cache.get", ["key": "kept"]) == 2)
            #expect(try c.errorCode("cache.set", ["key": "x", "value": 1, "ttl": 0]) == -32602)
            #expect(try c.errorCode("cache.set", ["key": "x", "value": 1, "ttl": "soon"]) == -32602)
        }
    }

    @Test("clear_pattern follows Redis globs and counts what it removed", arguments: TestCache.allCases)
    func clearPattern(cache: TestCache) throws {
        try withClient(cache) { (c: LineClient) throws in
            for key in ["response:news:1", "response:news:2", "response:mail:1", "responses", "other"] {
                _ = try c.result("cache.set", ["key": .string(key), "value": 1])
            }
            #expect(try c.result("cache.clear_pattern", ["pattern": "response:news:?"]) == 2)
            #expect(try c.result("cache.clear_pattern", ["pattern": "response:[a-m]*"]) == 1)
            #expect(try c.result("cache.clear_pattern", ["pattern": "response:*"]) == 0)
            #expect(try c.result("cache.exists", ["key": "responses"]) == true)
            #expect(try c.result("cache.clear_pattern", ["pattern": "*"]) == 2)
        }
    }

    @Test("the proxy's own task entries are outside the application's key space", arguments: TestCache.allCases)
    func namespaces(cache: TestCache) throws {
        try withClient(cache) { (c: LineClient) throws in
            _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
            _ = try c.result("get_task", ["task_id": "t1"])  // fills the read-through entry
            _ = try c.result("list_tasks")
            #expect(try c.result("cache.exists", ["key": "task:t1"]) == false)
            #expect(try c.result("cache.clear_pattern", ["pattern": "*"]) == 0)
            #expect(try c.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1")
        }
    }

    /// Found by hostile-client testing: a recursive glob overflowed the stack
    /// on a long pattern and backtracked for minutes on `*a*a…*b`; a ttl of
    /// 1e16 trapped converting to milliseconds. Each answer must come back
    /// promptly and the proxy must keep serving.
    @Test("abusive patterns and numbers are answered, not fatal", arguments: TestCache.allCases)
    func abusiveInput(cache: TestCache) throws {
        try withClient(cache) { (c: LineClient) throws in
            let longKey = String(repeating: "a", count: 150_000)
            #expect(try c.result("cache.set", ["key": .string(longKey), "value": 1]) == true)
            #expect(try c.errorCode("cache.clear_pattern", ["pattern": .string(String(repeating: "*?", count: 150_000))]) == -32602)
            let started = Date()
            #expect(try c.result("cache.clear_pattern", ["pattern": .string(String(repeating: "*?", count: 500))]) == 1)
            _ = try c.result("cache.set", ["key": .string(String(repeating: "a", count: 60)), "value": 1])
            #expect(try c.result("cache.clear_pattern", ["pattern": .string(String(repeating: "*a", count: 12) + "*b")]) == 0)
            #expect(try c.result("cache.clear_pattern", ["pattern": .string(String(repeating: "*a", count: 300) + "*b")]) == 0)
            #expect(Date().timeIntervalSince(started) < 2)
            for ttl: JSONValue in [1e16, -1, 1e300, .int(Int64.max)] {
                let r = try c.call("cache.set", ["key": "x", "value": 1, "ttl": ttl])
                #expect(r["error"]?.objectValue?["code"] == -32602, "ttl \(ttl.jsonText)")
                #expect(r["error"]?.objectValue?["data"]?.objectValue?["field"] == "ttl")
            }
            #expect(try c.result("cache.set", ["key": "x", "value": 1, "ttl": 1e9]) == true)
            #expect(try c.result("health_check") == true)
        }
    }
}
