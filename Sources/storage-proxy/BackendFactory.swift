import ArgumentParser
import ProxyServer
import SQLiteStorage
import StorageCore

/// Picks the backends an edition runs on (the seed's `StorageFactory`).
enum BackendFactory {
    static func make(_ config: ProxyConfig, completions: CompletionQueue) throws -> (StorageAdapter, CacheAdapter) {
        let storage: StorageAdapter
        switch config.storageType {
        case .sqlite:
            storage = try SQLiteStorage(config: config.sqlite, completions: completions)
        case .postgresql:
            throw RuntimeError("the PostgreSQL backend is not available in this build yet; use --storage sqlite")
        }
        switch config.cacheType {
        case .none:
            return (storage, MemoryCache())
        case .memory:
            return (ReadThroughStorage(storage: storage, cache: MemoryTaskCache()), MemoryCache())
        case .redis:
            throw RuntimeError("the Redis cache is not available in this build yet; use --cache memory or none")
        }
    }

    static func describe(_ config: ProxyConfig) -> String {
        switch config.storageType {
        case .sqlite: return "Personal Edition: SQLite at \(config.sqlite.path) (synchronous=\(config.sqlite.synchronous)), cache \(config.cacheType.rawValue)"
        case .postgresql: return "Enterprise Edition: PostgreSQL, cache \(config.cacheType.rawValue)"
        }
    }
}
