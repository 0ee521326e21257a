import StorageCore

/// `health_check` asks storage and cache for real, but callers that arrive
/// while a probe is in flight share its answer (single-flight): a load
/// balancer or a pipelining client cannot turn health checks into a queue
/// of storage round trips. Loop thread only.
final class HealthProbe {
    private var waiting: [(Bool) -> Void]?

    func check(storage: StorageAdapter, cache: CacheAdapter, _ done: @escaping (Bool) -> Void) {
        if waiting != nil { waiting!.append(done); return }
        waiting = [done]
        storage.healthCheck { [self] storageResult in
            let storageUp = (try? storageResult.get()) == true
            cache.ping { [self] cacheResult in
                let up = storageUp && (try? cacheResult.get()) == true
                let callers = waiting ?? []
                waiting = nil
                for caller in callers { caller(up) }
            }
        }
    }
}
