import ProxyCore
import StoragePorts

/// `health_check` asks storage for real, at most once per
/// `maxAge`: an answer younger than that is reused, and callers that arrive
/// while a probe is in flight share its answer (single-flight). A load
/// balancer or a pipelining client cannot turn health checks into a queue of
/// storage round trips, and a dead backend shows within `maxAge`. The cache
/// does not count: without it the proxy still serves every storage call
/// (`server.status` shows the cache's state). Loop thread only.
final class HealthProbe {
    static let maxAge = 0.1  // seconds
    private var waiting: [(Bool) -> Void]?
    private var last: (up: Bool, at: Double)?

    /// The last answer while it is young enough to reuse: callers answer at
    /// once without creating a callback (an allocation per request otherwise).
    var recent: Bool? {
        guard let last, MonotonicClock.coarseSeconds() - last.at < Self.maxAge else { return nil }
        return last.up
    }

    func check(storage: StorageAdapter, _ done: @escaping (Bool) -> Void) {
        if let up = recent { return done(up) }
        if waiting != nil { waiting!.append(done); return }
        waiting = [done]
        storage.healthCheck { [self] storageResult in
            let up = (try? storageResult.get()) == true
            last = (up, MonotonicClock.coarseSeconds())
            let callers = waiting ?? []
            waiting = nil
            for caller in callers { caller(up) }
        }
    }
}
