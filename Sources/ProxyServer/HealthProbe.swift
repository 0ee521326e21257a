import StorageCore

/// `health_check` asks storage and cache for real, at most once per
/// `maxAge`: an answer younger than that is reused, and callers that arrive
/// while a probe is in flight share its answer (single-flight). A load
/// balancer or a pipelining client cannot turn health checks into a queue of
/// storage round trips, and a dead backend shows within `maxAge`. Loop thread only.
final class HealthProbe {
    static let maxAge = 0.1  // seconds
    private var waiting: [(Bool) -> Void]?
    private var last: (up: Bool, at: Double)?

    func check(storage: StorageAdapter, cache: CacheAdapter, _ done: @escaping (Bool) -> Void) {
        if let last, MonotonicClock.coarseSeconds() - last.at < Self.maxAge { return done(last.up) }
        if waiting != nil { waiting!.append(done); return }
        waiting = [done]
        storage.healthCheck { [self] storageResult in
            let storageUp = (try? storageResult.get()) == true
            cache.ping { [self] cacheResult in
                let up = storageUp && (try? cacheResult.get()) == true
                last = (up, MonotonicClock.coarseSeconds())
                let callers = waiting ?? []
                waiting = nil
                for caller in callers { caller(up) }
            }
        }
    }
}
