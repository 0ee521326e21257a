import ArgumentParser
import Foundation
import ProxyCore
import ProxyConfig
import PostgresStorage
import RedisCache

/// The options `serve` and `migrate` share: a config file and the flags
/// that override it (flags > file > defaults).
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (keys as config/storage.yaml; ${VAR} and ${VAR:-default} are expanded).")
    var config: String?

    @Option(name: .long, help: "Storage backend: sqlite or postgresql.")
    var storage: String?

    @Option(name: .long, help: "SQLite file path, or a postgresql:// URL.")
    var database: String?

    @Option(name: .long, help: "Cache: none (no read-through), memory (in-process, default) or redis://host:port.")
    var cache: String?

    @Option(name: .long, help: "Unix socket path (default ./storage/proxy.sock); an empty string switches it off.")
    var socket: String?

    @Option(name: .long, help: "TCP listen address HOST:PORT, or PORT for loopback (default: off).")
    var listen: String?

    @Option(name: .customLong("http-listen"), help: "HTTP endpoint (/metrics, /healthz, /readyz, POST /) at HOST:PORT, or PORT for loopback (default: off).")
    var httpListen: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warning or error (server.log_level).")
    var logLevel: String?

    func resolve() throws -> ProxyConfig {
        var c = ProxyConfig()
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw RuntimeError("cannot read the config file \(config)")
            }
            do {
                c = try ConfigLoader.load(yaml: text, file: config, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw RuntimeError(error.description)
            }
        }
        if let storage {
            guard let t = ProxyConfig.StorageType(rawValue: storage) else { throw ValidationError("--storage must be sqlite or postgresql") }
            c.storageType = t
        }
        if let database {
            // SQLite opens a private temporary database for an empty path: acknowledged writes would vanish.
            guard !database.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("--database must not be empty (a SQLite file path or a postgresql:// URL)")
            }
            if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
                c.postgresql.url = database
                if storage == nil { c.storageType = .postgresql }
            } else {
                c.sqlite.path = database
            }
        }
        if let cache {
            if cache.hasPrefix("redis://") || cache.hasPrefix("rediss://") || cache.hasPrefix("unix://") {
                c.cacheType = .redis
                c.redis.url = cache
            } else {
                guard let t = ProxyConfig.CacheType(rawValue: cache) else { throw ValidationError("--cache must be none, memory or redis://…") }
                c.cacheType = t
            }
        }
        if let socket { c.server.socket = socket }
        if let listen { c.server.listen = listen }
        if let httpListen { c.server.httpListen = httpListen }
        if let logLevel {
            guard ["debug", "info", "warning", "error"].contains(logLevel.lowercased()) else {
                throw ValidationError("--log-level must be debug, info, warning or error")
            }
            c.server.logLevel = logLevel.lowercased()
        }
        // The token may come from the environment instead of a file (the file wins when it sets one).
        if (c.server.authToken ?? "").isEmpty, let token = ProcessInfo.processInfo.environment["STORAGE_PROXY_AUTH_TOKEN"], !token.isEmpty {
            c.server.authToken = token
        }
        // The backends' URLs are checked now, as every other key is: a bad one
        // stops the command before anything starts, naming the key.
        do throws(ConfigError) {
            if c.cacheType == .redis { _ = try RedisSettings(config: c.redis) }
            if c.storageType == .postgresql { try PGConnectionString.validate(c.postgresql) }
        } catch {
            throw RuntimeError(error.description)
        }
        return c
    }
}
