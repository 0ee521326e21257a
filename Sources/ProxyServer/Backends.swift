import SQLStore
import StoragePorts

/// What the server serves from, built on its loop before it (the CLI's
/// `BackendFactory`): the storage (behind the read-through cache when there
/// is one), the operations that run on it, and `cache.*`'s key space.
public struct Backends {
    public let storage: StorageAdapter
    public let operations: Operations
    public let cache: CacheAdapter

    public init(storage: StorageAdapter, operations: Operations, cache: CacheAdapter) {
        self.storage = storage
        self.operations = operations
        self.cache = cache
    }
}
