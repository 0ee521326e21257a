import Foundation
import StorageProxyClient

/// The throwaway Redis that `scripts/test` starts. Each test gets its own key
/// prefix, so tests running at once never see each other's keys.
enum TestRedis {
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["STORAGE_PROXY_TEST_REDIS"] else {
            throw ClientError("no test Redis: run the tests through scripts/test, which starts one")
        }
        return url
    }

    static func freshPrefix() -> String { "t\(UInt32.random(in: 0...UInt32.max)):" }

    /// `serve` flags for a proxy on `url` with `prefix` (proxies given the same prefix share entries).
    static func serveArguments(url: String? = nil, password: String? = nil, prefix: String) throws -> [String] {
        let config = try writeConfig("""
            storage:
              cache:
                type: redis
                redis:
                  url: "\(try url ?? Self.url())"
                  key_prefix: "\(prefix)"
                  pool_size: 2
            """ + (password.map { "\n      password: \"\($0)\"" } ?? ""))
        return ["--config", config]
    }

    /// Runs `redis-cli` against `url` and returns what it printed.
    @discardableResult
    static func cli(_ args: [String], url: String? = nil) throws -> String {
        try cli(args, connect: ["-u", try url ?? Self.url()])
    }

    /// Runs `redis-cli` with its own connection flags (`-s path -a password -n db`).
    @discardableResult
    static func cli(_ args: [String], connect: [String]) throws -> String {
        try runProgram("/usr/bin/redis-cli", ["--no-auth-warning"] + connect + args).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
