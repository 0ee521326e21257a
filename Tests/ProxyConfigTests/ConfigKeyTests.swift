import Foundation
import ProxyConfig
import ProxyCore
import Testing

/// Every configuration key is declared once (`ConfigKey.all`); these hold the
/// places that read the declaration to it.
@Suite("Config keys, declared once")
struct ConfigKeyTests {
    @Test func readmeTableIsTheDeclaredOne() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "<!-- config-keys"))
        let end = try #require(text.range(of: "<!-- /config-keys -->"))
        let body = text[start.upperBound..<end.lowerBound].drop { $0 != "\n" }.dropFirst()
        #expect(String(body) == ConfigKey.markdownTable, "regenerate with: storage-proxy config-keys")
    }

    @Test func everyDeclaredKeyLoadsAndEveryRangeIsEnforced() throws {
        // Each integer key: its bounds load, one past the upper bound is refused naming the key.
        for key in ConfigKey.all where key.type.first?.isNumber == true || key.type.hasPrefix("-") {
            let bounds = key.type.split(separator: " ").compactMap { Int($0) }
            guard bounds.count == 2 else { continue }
            let yaml = Self.yaml(key.name, "\(bounds[1])")
            #expect(throws: Never.self, "\(key.name) at its upper bound") { try ConfigLoader.load(yaml: yaml, environment: [:]) }
            guard bounds[1] < Int.max else { continue }
            do {
                _ = try ConfigLoader.load(yaml: Self.yaml(key.name, "\(bounds[1] + 1)"), environment: [:])
                Issue.record("\(key.name): \(bounds[1] + 1) was accepted")
            } catch {
                #expect(error.description.contains(key.name))
            }
        }
    }

    @Test func theModelsDefaultsAreTheOnlyDefaults() throws {
        // The pool's settings come from the configuration's (they disagreed once: 10/20 against 20/40).
        let c = ProxyConfig()
        #expect(ConfigKey.byName["storage.postgresql.pool_size"]?.show(c) == .int(Int64(c.postgresql.poolSize)))
        #expect(ConfigKey.byName["storage.postgresql.max_overflow"]?.defaultText == "\(c.postgresql.maxOverflow)")
        #expect(ConfigKey.byName["server.max_answer_bytes"]?.defaultText == "16 MiB")
    }

    @Test func restartsAreNamedFromTheDeclarations() throws {
        var new = ProxyConfig()
        new.server.listen = "7000"
        new.server.maxConnections = 5  // applied live
        new.server.computeThreads = 3  // made at start: a restart
        new.postgresql.poolSize = 7
        #expect(ProxyConfig.keysNeedingRestart(from: ProxyConfig(), to: new)
                == ["storage.postgresql.pool_size", "server.listen", "server.compute_threads"])
    }

    @Test func statusShowsEveryKeyButNoSecret() throws {
        var c = ProxyConfig()
        c.postgresql.password = "hunter2"
        c.redis.url = "redis://:hunter3@cache:6379/0"
        c.server.authToken = "tok-secret"
        var grant = ProxyConfig.Grant()
        grant.name = "news"
        grant.token = "tok-news"
        c.server.tokens = [grant]
        let status = ConfigKey.status(of: c)
        #expect(status.objectValue?.count == ConfigKey.all.count)
        let text = status.jsonText
        for secret in ["hunter2", "hunter3", "tok-secret", "tok-news"] { #expect(!text.contains(secret)) }
        #expect(status.objectValue?["storage.postgresql.password"] == .bool(true))
        #expect(status.objectValue?["server.tokens"] == ["news"])
        #expect(status.objectValue?["server.max_connections"] == 1024)
    }

    @Test func aMistypedKeyNamesTheClosestOfItsSection() {
        for (yaml, want) in [("server:\n  max_conections: 3\n", "server.max_connections"),
                             ("storage:\n  postgresql:\n    pool_sise: 3\n", "storage.postgresql.pool_size"),
                             ("storage:\n  sqllite:\n    path: x\n", "storage.sqlite"),
                             ("vector:\n  embedder:\n    url: http://x\n    modle: m\n", "vector.embedder.model")] {
            do {
                _ = try ConfigLoader.load(yaml: yaml, environment: [:])
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.contains("did you mean \(want)?"), "\(error)")
            }
        }
    }

    /// `a.b.c: v` as nested YAML.
    static func yaml(_ name: String, _ value: String) -> String {
        let parts = name.split(separator: ".")
        var out = ""
        for (i, p) in parts.enumerated() {
            out += String(repeating: "  ", count: i) + p + ":" + (i == parts.count - 1 ? " \(value)\n" : "\n")
        }
        return out
    }
}
