import Foundation
import ProxyCore
import Spawn
import StorageProxyClient
import Testing

/// A small OpenAI-compatible embeddings server (Fixtures/embedder_server.py),
/// started per test: deterministic vectors, faults switched by a file.
final class FakeEmbedder {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/embedder_server.py").path
    let dir = ProxyProcess.makeTempDir()
    let process: ChildProcess
    let url: String

    init(key: String = "") throws {
        let portFile = dir + "/port"
        process = try ChildProcess("/usr/bin/python3", [Self.script, portFile] + (key.isEmpty ? [] : ["--key", key]),
                                   stdout: .appendTo(dir + "/server.log"), stderr: .appendTo(dir + "/server.log"))
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: portFile) {
            guard Date() < deadline, process.isRunning else { throw ClientError("the fake embedder did not start: \(ChildProcess.contents(of: dir + "/server.log"))") }
            usleep(20_000)
        }
        url = "http://127.0.0.1:\(ChildProcess.contents(of: portFile))/v1/embeddings"
    }

    deinit {
        process.send(SIGKILL)
        process.wait()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// ok, slow, down, garbage, wrong-count, refuse-long.
    func mode(_ m: String) throws { try m.write(toFile: dir + "/port.mode", atomically: true, encoding: .utf8) }

    var stats: JSONObject { (try? JSONParser.parse(ChildProcess.contents(of: dir + "/port.stats")).objectValue) ?? [:] }
    var requests: Int64 { stats["requests"]?.intValue ?? 0 }

    func config(timeoutMs: Int = 2000, retrySeconds: Double = 0.2, extra: String = "") -> String {
        """
        vector:
          embedder:
            url: "\(url)"
            model: fake-16
            batch_size: 8
            timeout_ms: \(timeoutMs)
            retry_seconds: \(retrySeconds)
        \(extra)
        """
    }
}

@Suite("Vector store with an embedder")
struct EmbedderTests {
    static func ids(_ hits: JSONValue) -> [String] { VectorStoreTests.ids(hits) }

    /// Waits (up to `seconds`) until `ready` holds.
    static func eventually(_ seconds: Double = 10, _ ready: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try ready() { return true }
            usleep(50_000)
        }
        return try ready()
    }

    @Test("documents without embeddings are embedded (batched, once per text); a text search is hybrid; the key is sent, never shown",
          arguments: TestBackend.allCases)
    func embedsOnAddAndSearch(backend: TestBackend) throws {
        let key = "sk-test-\(UUID().uuidString)"
        setenv("STORAGE_PROXY_TEST_EMBEDDER_KEY_\(backend)", key, 1)
        let embedder = try FakeEmbedder(key: key)
        let config = try writeConfig(embedder.config() + "    api_key_env: STORAGE_PROXY_TEST_EMBEDDER_KEY_\(backend)\n")
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", config])
        let c = try proxy.client()
        let texts = (0..<10).map { "note \($0) about the cat" } + ["dogs run fast", "weather report"]
        let ids = try #require(try c.result("vector.add_documents", ["documents": .array(texts.map { .string($0) })]).arrayValue)
        #expect(ids.count == 12)
        #expect(embedder.requests == 2, "12 texts in batches of 8: \(embedder.stats)")
        #expect(embedder.stats["last_auth"] == .string("Bearer \(key)"))
        _ = try c.result("vector.add_documents", ["documents": ["dogs run fast", "weather report"]])
        #expect(embedder.requests == 2, "texts already embedded come from the cache")
        #expect(try c.result("vector.list_collections").arrayValue?.first?.objectValue?["dimension"] == 16)

        let hybrid = try #require(try c.result("vector.search", ["query": "dogs run", "top_k": 3]).arrayValue)
        #expect(hybrid.first?.objectValue?["document"] == "dogs run fast")
        #expect(hybrid.first?.objectValue?["matched"] == ["keyword", "vector"])
        let vector = try #require(try c.result("vector.search", ["query": "weather", "mode": "vector", "top_k": 1]).arrayValue)
        #expect(vector.first?.objectValue?["document"] == "weather report" && vector.first?.objectValue?["matched"] == ["vector"])
        // A collection of another dimension: the error blames the collection, not embeddings the client never sent.
        _ = try c.result("vector.create_collection", ["name": "three", "dimension": 3])
        let refused = try c.call("vector.add_documents", ["documents": ["no vector given"], "collection": "three"])
        #expect(refused["error"]?.objectValue?["data"]?.objectValue?["field"] == "collection", "\(refused)")
        #expect(refused["error"]?.objectValue?["message"]?.stringValue?.contains("fake-16") == true)
        let status = try c.result("server.status").jsonText
        #expect(status.contains("\"model\":\"fake-16\"") && !status.contains(key))
        #expect(!ChildProcess.contents(of: proxy.dir + "/proxy.log").contains(key))
    }

    @Test("embedder down, slow or answering garbage: text searches fall back to keyword, saying why; adds are stored and embedded later",
          arguments: TestBackend.allCases)
    func faults(backend: TestBackend) throws {
        let embedder = try FakeEmbedder()
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig(embedder.config(timeoutMs: 500))])
        let c = try proxy.client()
        try embedder.mode("down")
        let ids = try c.result("vector.add_documents", ["documents": ["the cat sat", "a dog barked"], "ids": ["cat", "dog"]])
        #expect(ids == ["cat", "dog"], "stored without embeddings rather than refused")
        let fallback = try #require(try c.result("vector.search", ["query": "cat"]).arrayValue?.first?.objectValue)
        #expect(fallback["id"] == "cat" && fallback["matched"] == ["keyword"])
        #expect(fallback["fallback"]?.stringValue?.contains("HTTP 503: model is loading") == true, "\(fallback)")
        #expect(try c.errorCode("vector.search", ["query": "cat", "mode": "vector"]) == -32003, "asked for vectors: no silent fallback")
        for (mode, says) in [("slow", "imeout"), ("garbage", "not an embeddings response"), ("wrong-count", "0 embeddings for 1 texts")] {
            try embedder.mode(mode)
            // A query of two new words: never cached.
            let hit = try #require(try c.result("vector.search", ["query": .string("cat \(mode)")]).arrayValue?.first?.objectValue)
            #expect(hit["fallback"]?.stringValue?.contains(says) == true, "\(mode): \(hit)")
        }
        // Back up: the background pass embeds what was stored without.
        try embedder.mode("ok")
        #expect(try Self.eventually {
            Self.ids(try c.result("vector.search", ["query": "a dog", "mode": "vector", "top_k": 1])) == ["dog"]
        })
        #expect(try c.result("vector.list_collections").arrayValue?.first?.objectValue?["dimension"] == 16)
        #expect(try c.result("server.status").objectValue?["vectors"]?.objectValue?["embedded_later"]?.intValue ?? 0 >= 2)
    }

    @Test("a text the embedder refuses on its own is marked, and the others are embedded past it")
    func refusedTextDoesNotBlock() throws {
        let embedder = try FakeEmbedder()
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig(embedder.config())])
        let c = try proxy.client()
        try embedder.mode("refuse-long")
        let long = String(repeating: "word ", count: 20)
        _ = try c.result("vector.add_documents", ["documents": .array([.string(long), "short one", "short two"]), "ids": ["long", "s1", "s2"]])
        #expect(try Self.eventually {
            Set(Self.ids(try c.result("vector.search", ["query": "short", "mode": "vector", "top_k": 5]))) == ["s1", "s2"]
        })
        let settled = embedder.requests
        usleep(800_000)  // four more passes' time: the refused text is not asked again
        #expect(embedder.requests == settled, "\(embedder.requests) after \(settled)")
        #expect(Self.ids(try c.result("vector.search", ["query": "word", "mode": "keyword"])) == ["long"], "still found by keyword")
    }

    @Test("a proxy with an embedder stops at once on SIGTERM (the background pass's wait does not hold it for retry_seconds)")
    func stopsAtOnce() throws {
        let embedder = try FakeEmbedder()
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig(embedder.config(retrySeconds: 30))])
        _ = try proxy.client().result("vector.add_documents", ["documents": ["a note"]])
        let started = Date()
        #expect(proxy.stop() == .exited(0))
        #expect(Date().timeIntervalSince(started) < 5, "took \(Date().timeIntervalSince(started)) s")
    }
}
