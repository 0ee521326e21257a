import ProxyCore

/// The pool's decisions, with no I/O and no clock of its own: every input
/// comes with `now`, and every output is a `Step` for the driver (`PGPool`)
/// to carry out: lend, check, connect, close, fail, report reachability.
/// So the seed's policy (`pool_size`, `max_overflow`, recycle, pre-ping,
/// acquire timeout, connect back-off, sharing one-statement calls up to
/// `pipeline_depth`) is tested with a fake clock and no database.
struct PoolPolicy<Connection: PooledConnection, Waiter> {
    /// `PGPool.Settings` (its conninfo is the driver's business).
    typealias Settings = PGPool.Settings

    enum Step {
        /// Hand the connection to the waiter.
        case lend(Connection, Waiter)
        /// Idle too long: check it (`SELECT 1`), then `pinged`.
        case prePing(Connection, Waiter)
        /// Open a new connection (already counted), then `connected` with the same `shared`.
        case connect(Waiter, shared: Bool)
        case fail(Waiter, ProxyError)
        case close(Connection)
        /// PostgreSQL became unreachable (why) or reachable again (nil).
        case reachability(lostBecause: String?)
    }

    private struct Waiting {
        let waiter: Waiter
        let shared: Bool
        let deadline: Double
    }

    let settings: Settings
    private var idle: [(connection: Connection, since: Double)] = []
    /// Lent for one-statement calls, each with at least one in flight.
    private(set) var sharing: [Connection] = []
    /// Connected or connecting.
    private(set) var open = 0
    private var waiting: [Waiting] = []
    private var backoff = 0.0
    private var failedUntil = 0.0
    private(set) var isClosed = false
    private(set) var isReachable = true
    /// When the latest connect that succeeded had started: a failure of one
    /// started earlier is stale (it was under way during an outage that has
    /// ended since) and says nothing about PostgreSQL now.
    private var latestSuccessStarted = -Double.infinity
    private(set) var connectsSucceeded = 0
    private(set) var connectsFailed = 0

    init(settings: Settings) { self.settings = settings }

    var capacity: Int { settings.poolSize + settings.maxOverflow }
    var idleCount: Int { idle.count }
    var waitingCount: Int { waiting.count }
    /// When the first waiter times out; nil when nobody waits (the driver's timer).
    var nextDeadline: Double? { waiting.first?.deadline }

    // MARK: - Lending

    /// A connection for a caller who will give it back with `release`.
    mutating func acquire(_ waiter: Waiter, now: Double) -> [Step] {
        acquire(waiter, shared: false, now: now)
    }

    /// A connection for one autocommit statement: the least busy one already
    /// shared while it has fewer than `depth` (default `pipelineDepth`)
    /// queued, else a pooled one, else (pool_size all lent) the least busy
    /// shared one anyway. Give it back with `releaseShared` once the
    /// statement has answered.
    mutating func acquireShared(_ waiter: Waiter, now: Double, depth: Int? = nil) -> [Step] {
        if let leastBusy = sharing.min(by: { $0.queued < $1.queued }),
           leastBusy.queued < (depth ?? settings.pipelineDepth) || !canLendWithinPoolSize(now: now) {
            return [.lend(leastBusy, waiter)]
        }
        return acquire(waiter, shared: true, now: now)
    }

    private mutating func acquire(_ waiter: Waiter, shared: Bool, now: Double) -> [Step] {
        guard !isClosed else { return [.fail(waiter, Self.shuttingDown)] }
        var steps: [Step] = []
        while let (connection, since) = idle.popLast() {
            if connection.isBroken || now - connection.openedAt > settings.recycleAfter {
                steps += discard(connection, now: now)
                continue
            }
            if shared { sharing.append(connection) }
            steps.append(now - since > settings.prePingAfter ? .prePing(connection, waiter) : .lend(connection, waiter))
            return steps
        }
        if open < capacity {
            if now < failedUntil {
                let ms = Int((failedUntil - now) * 1000) + 1
                return steps + [.fail(waiter, .backendUnavailable("PostgreSQL is unreachable", retryAfterMs: ms))]
            }
            open += 1
            return steps + [.connect(waiter, shared: shared)]
        }
        waiting.append(Waiting(waiter: waiter, shared: shared, deadline: now + settings.acquireTimeout))
        return steps
    }

    /// A connection can be lent now without overflow or waiting.
    private func canLendWithinPoolSize(now: Double) -> Bool {
        !idle.isEmpty || (open < settings.poolSize && now >= failedUntil)
    }

    /// The answer of a pre-ping: lend it, or drop it and try again.
    mutating func pinged(_ connection: Connection, ok: Bool, for waiter: Waiter, now: Double) -> [Step] {
        if ok { return [.lend(connection, waiter)] }
        let shared = sharing.contains { $0 === connection }
        unshare(connection)
        return discard(connection, now: now) + acquire(waiter, shared: shared, now: now)
    }

    /// The outcome of a `.connect` that began at `startedAt` (nil: unknown, taken as fresh).
    mutating func connected(_ result: Result<Connection, ProxyError>, for waiter: Waiter, shared: Bool, now: Double,
                            startedAt: Double? = nil) -> [Step] {
        switch result {
        case .success(let connection):
            connectsSucceeded += 1
            latestSuccessStarted = max(latestSuccessStarted, startedAt ?? now)
            backoff = 0
            var steps = reachable(true, nil)
            if isClosed {
                open -= 1
                return steps + [.close(connection), .fail(waiter, Self.shuttingDown)]
            }
            if shared { sharing.append(connection) }
            steps.append(.lend(connection, waiter))
            return steps
        case .failure(let error):
            connectsFailed += 1
            open -= 1
            if let startedAt, startedAt < latestSuccessStarted {
                return [.fail(waiter, error)]  // stale: a later connect already got through
            }
            backoff = min(5, max(0.05, backoff * 2))
            failedUntil = now + backoff
            var steps = reachable(false, error.message) + [.fail(waiter, error)]
            if open == 0 {  // nothing will come back to the others: they fail now
                steps += waiting.map { .fail($0.waiter, error) }
                waiting = []
            }
            return steps
        }
    }

    // MARK: - Returning

    /// Gives a connection back: to the next waiter, to the idle list, or
    /// closed when broken or over `pool_size`.
    mutating func release(_ connection: Connection, now: Double) -> [Step] {
        guard !connection.isBroken, !connection.isClosed, !isClosed else { return discard(connection, now: now) }
        if !waiting.isEmpty {
            let next = waiting.removeFirst()
            if next.shared { sharing.append(connection) }
            return [.lend(connection, next.waiter)]
        }
        if open > settings.poolSize { return discard(connection, now: now) }
        idle.append((connection, now))
        return []
    }

    /// Back from one statement: returned to the pool once nothing is queued on it.
    mutating func releaseShared(_ connection: Connection, now: Double) -> [Step] {
        guard connection.queued == 0 || connection.isBroken, sharing.contains(where: { $0 === connection }) else { return [] }
        unshare(connection)
        return release(connection, now: now)
    }

    private mutating func unshare(_ connection: Connection) {
        if let i = sharing.firstIndex(where: { $0 === connection }) { sharing.remove(at: i) }
    }

    /// Closes a connection; the slot it frees goes to the first waiter.
    private mutating func discard(_ connection: Connection, now: Double) -> [Step] {
        open -= 1
        var steps: [Step] = [.close(connection)]
        if !waiting.isEmpty, open < capacity, !isClosed {
            let next = waiting.removeFirst()
            open += 1
            steps.append(.connect(next.waiter, shared: next.shared))
        }
        return steps
    }

    // MARK: - Time and closing

    /// Waiters past their deadline get the retryable `overloaded`.
    mutating func expire(now: Double) -> [Step] {
        var steps: [Step] = []
        while let first = waiting.first, first.deadline <= now {
            waiting.removeFirst()
            steps.append(.fail(first.waiter, .overloaded("no PostgreSQL connection free within \(settings.acquireTimeout) s (pool of \(capacity))")))
        }
        return steps
    }

    /// Closes idle connections now and lent ones as they come back; waiters fail.
    mutating func close() -> [Step] {
        isClosed = true
        let steps: [Step] = idle.map { .close($0.connection) } + waiting.map { .fail($0.waiter, Self.shuttingDown) }
        open -= idle.count
        idle = []
        waiting = []
        return steps
    }

    /// Each change is reported once: an outage is logged once and its end
    /// once, however many calls fail in between. Connects are the signal.
    /// The health probe's own connect (outside the pool, `PGProbeConnection`)
    /// got through or failed: as a pooled connect's, it tells whether
    /// PostgreSQL is reachable and sets the back-off of calls.
    mutating func probed(_ error: ProxyError?, now: Double, startedAt: Double) -> [Step] {
        guard let error else {
            latestSuccessStarted = max(latestSuccessStarted, startedAt)
            backoff = 0
            failedUntil = 0
            return reachable(true, nil)
        }
        guard startedAt >= latestSuccessStarted else { return [] }  // stale: a later connect already got through
        backoff = min(5, max(0.05, backoff * 2))
        failedUntil = now + backoff
        return reachable(false, error.message)
    }

    private mutating func reachable(_ now: Bool, _ why: String?) -> [Step] {
        guard now != isReachable else { return [] }
        isReachable = now
        return [.reachability(lostBecause: why)]
    }

    private static var shuttingDown: ProxyError { .backendUnavailable("storage is shutting down", retryAfterMs: 1000) }
}
