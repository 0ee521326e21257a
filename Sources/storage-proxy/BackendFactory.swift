import ArgumentParser
import EventLoop
import PostgresStorage
import RedisCache
import ProxyServer
import SQLiteStorage
import SQLStore
import ProxyCore
import StoragePorts
import ProxyConfig

/// Picks the backends an edition runs on (the seed's `StorageFactory`).
enum BackendFactory {
    /// The backends, on the loop the server will run (PostgreSQL and Redis do
    /// their I/O on it; SQLite's workers hand results back through `handoff`).
    static func make(_ config: ProxyConfig, loop: UVLoop, handoff: LoopHandoff, log: Logger) throws -> Backends {
        let storage: StorageAdapter & OperationRunner
        switch config.storageType {
        case .sqlite:
            logMigrations(try SQLiteStorage.migrate(config: config.sqlite), log: log)
            storage = try SQLiteStorage(config: config.sqlite, completions: handoff)
        case .postgresql:
            // libpq's notices (a shutdown's WARNING, a terminated idle connection's FATAL) as log lines.
            PGNotice.sink.withLock {
                $0 = { notice in
                    log.log(notice.isWarning ? .warning : .info, "postgres_notice", "PostgreSQL says: \(notice.message)",
                            ["severity": notice.severity])
                }
            }
            logMigrations(try PostgresStorage.migrate(conninfo: PGConnectionString.make(config.postgresql)), log: log)  // before serving
            let postgres = PostgresStorage(loop: loop, settings: poolSettings(config.postgresql))
            postgres.onReachabilityChange = { problem in
                if let problem {
                    log.warning("PostgreSQL unreachable (\(problem)): storage calls fail with -32003 until it is back", event: "storage_down")
                } else {
                    log.info("PostgreSQL is reachable again", event: "storage_up")
                }
            }
            storage = postgres
        }
        // Operations run on the backend, through the read-through cache's `ReadThrough` when there is one.
        func backends(_ entries: ReadCache?, _ cache: CacheAdapter) -> Backends {
            Backends(storage: storage, operations: Operations(runner: storage, readThrough: entries.map(ReadThrough.init)), cache: cache)
        }
        switch config.cacheType {
        case .none:
            return backends(nil, MemoryCache(maxBytes: config.memoryCache.maxMemory))
        case .memory where config.storageType == .postgresql:
            // Several proxies share one PostgreSQL; a per-process read-through cache
            // cannot see the others' writes (stale reads). That needs Redis (shared
            // invalidation); until then reads go to PostgreSQL.
            return backends(nil, MemoryCache(maxBytes: config.memoryCache.maxMemory))
        case .memory:
            return backends(MemoryReadCache(maxBytes: config.memoryCache.readThroughMaxMemory),
                            MemoryCache(maxBytes: config.memoryCache.maxMemory))
        case .redis:
            // Shared by every proxy on this Redis: read-through is correct across them.
            let redis = RedisClient(loop: loop, settings: try RedisSettings(config: config.redis))
            let entries = RedisReadCache(redis: redis)  // registers its step on every connect: before start
            redis.onAvailabilityChange = { problem in
                if let problem {
                    log.warning("Redis unavailable (\(problem)): storage calls go straight to storage, cache.* fails until it is back",
                                event: "cache_down")
                } else {
                    log.info("Redis is back; entries from before are retired (new generation)", event: "cache_up")
                }
            }
            redis.start()
            redis.awaitFirstAttempts()  // before listening: see there why
            return backends(entries, RedisCache(redis: redis))
        }
    }

    private static func logMigrations(_ outcome: (applied: [Int], version: Int), log: Logger) {
        if outcome.applied.isEmpty {
            log.info("schema is up to date (version \(outcome.version))", event: "migrations")
        } else {
            log.info("applied migration(s) \(outcome.applied.map(String.init).joined(separator: ", ")); schema version \(outcome.version)",
                     event: "migrations")
        }
    }

    static func poolSettings(_ c: ProxyConfig.PostgreSQL) -> PGPool.Settings {
        PGPool.Settings(conninfo: PGConnectionString.make(c), c)
    }

    static func migrate(_ config: ProxyConfig) throws(ProxyError) -> (applied: [Int], version: Int) {
        switch config.storageType {
        case .sqlite: return try SQLiteStorage.migrate(config: config.sqlite)
        case .postgresql: return try PostgresStorage.migrate(conninfo: PGConnectionString.make(config.postgresql))
        }
    }

    /// The settings an operator checks first, for the start event (no secret: only whether a token is set).
    static func summary(_ c: ProxyConfig) -> KeyValuePairs<String, String> {
        ["storage": c.storageType.rawValue, "cache": c.cacheType.rawValue, "socket": c.server.socket, "listen": c.server.listen,
         "http_listen": c.server.httpListen, "auth_token": (c.server.authToken ?? "").isEmpty ? "none" : "set",
         "max_connections": String(c.server.maxConnections), "log_level": c.server.logLevel, "slow_log_ms": String(c.server.slowLogMs)]
    }

    static func describe(_ config: ProxyConfig) -> String {
        let cache: String
        switch config.cacheType {
        case .redis: cache = "Redis at " + ((try? RedisSettings(config: config.redis))?.description ?? "?")
        case .memory where config.storageType == .postgresql: cache = "memory (cache.* only: read-through across proxies needs Redis)"
        default: cache = config.cacheType.rawValue
        }
        switch config.storageType {
        case .sqlite: return "Personal Edition: SQLite at \(config.sqlite.path) (synchronous=\(config.sqlite.synchronous)), cache \(cache)"
        case .postgresql: return "Enterprise Edition: PostgreSQL \(PGConnectionString.describe(config.postgresql)), cache \(cache)"
        }
    }
}
