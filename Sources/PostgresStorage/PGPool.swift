import EventLoop
import ProxyCore

/// Connections to one PostgreSQL database, as the seed configures them:
/// `pool_size` kept, up to `max_overflow` more under load (closed when
/// returned), a connection idle longer than `prePingAfter` is checked
/// before use, one older than `recycleAfter` is replaced, and a caller that
/// waits longer than `acquireTimeout` gets the retryable `overloaded` error.
/// After a failed connect, callers fail fast for a back-off that doubles up
/// to 5 s and resets on success.
///
/// One-statement autocommit calls (`get_task`, `save_log`, …) may share a
/// connection: each is its own pipeline sync segment, so none sees another's
/// transaction or failure. Packing up to `pipelineDepth` of them onto one
/// backend before waking another is what closes most of the gap to direct
/// connections (BENCHMARKS.md): one backend reads a batch of queries per
/// wake-up instead of many backends one query each. Loop thread only.
public final class PGPool {
    public struct Settings: Sendable {
        public var conninfo: String
        public var poolSize = 10
        public var maxOverflow = 20
        public var recycleAfter = 3600.0
        public var prePingAfter = 30.0
        public var acquireTimeout = 5.0
        /// Autocommit statements queued on one connection before another is used; 1: one at a time.
        public var pipelineDepth = 8

        public init(conninfo: String) { self.conninfo = conninfo }
    }

    public typealias Lease = (Result<PGConnection, ProxyError>) -> Void

    private let loop: UVLoop
    private let settings: Settings
    private var idle: [(connection: PGConnection, since: Double)] = []
    /// Lent for autocommit statements, each with at least one in flight.
    private var sharing: [PGConnection] = []
    private var open = 0                      // connected or connecting
    private var waiters: [(deadline: Double, done: Lease)] = []
    private var timer: UVCallback?
    private var backoff = 0.0
    private var failedUntil = 0.0
    private var isClosed = false
    public private(set) var connectsSucceeded = 0
    public private(set) var connectsFailed = 0
    /// Whether the last connect reached PostgreSQL. Connects are the signal:
    /// a connection lost in an outage is discarded, and the next call opens
    /// a new one. Each change is reported once to `onReachabilityChange`
    /// (the reason when it is lost, nil when it is back), so an outage is
    /// logged once and its end once, however many calls fail in between.
    public private(set) var isReachable = true
    public var onReachabilityChange: ((_ lostBecause: String?) -> Void)?

    public init(loop: UVLoop, settings: Settings) {
        self.loop = loop
        self.settings = settings
    }

    public var capacity: Int { settings.poolSize + settings.maxOverflow }

    /// The last connect failed and the back-off has not run out.
    public var isBackingOff: Bool { MonotonicClock.seconds() < failedUntil }

    // MARK: - Lending

    public func acquire(_ done: @escaping Lease) {
        guard !isClosed else { return done(.failure(.backendUnavailable("storage is shutting down", retryAfterMs: 1000))) }
        let now = MonotonicClock.seconds()
        while let (connection, since) = idle.popLast() {
            if connection.isBroken || now - connection.openedAt > settings.recycleAfter {
                discard(connection)
                continue
            }
            if now - since > settings.prePingAfter { return prePing(connection, done) }
            return done(.success(connection))
        }
        if open < capacity {
            if now < failedUntil {
                return done(.failure(.backendUnavailable("PostgreSQL is unreachable", retryAfterMs: Int((failedUntil - now) * 1000) + 1)))
            }
            return openConnection(for: done)
        }
        waiters.append((now + settings.acquireTimeout, done))
        startTimer()
    }

    /// Lends a connection for one autocommit statement: the least busy one
    /// already shared while it has fewer than `pipelineDepth` queued, else a
    /// pooled one, else (pool_size all lent) the least busy shared one anyway.
    /// Give it back with `releaseShared` once the statement has answered.
    public func acquireShared(_ done: @escaping Lease) {
        let leastBusy = sharing.min { $0.queued < $1.queued }
        if let leastBusy, leastBusy.queued < settings.pipelineDepth || !canLendWithinPoolSize {
            return done(.success(leastBusy))
        }
        acquire { [self] lease in
            if case .success(let connection) = lease { sharing.append(connection) }
            done(lease)
        }
    }

    /// Back from one statement: to the pool once nothing is queued on it.
    public func releaseShared(_ connection: PGConnection) {
        guard connection.queued == 0 || connection.isBroken,
              let i = sharing.firstIndex(where: { $0 === connection }) else { return }
        sharing.remove(at: i)
        release(connection)
    }

    /// A connection can be lent now without overflow or waiting.
    private var canLendWithinPoolSize: Bool {
        !idle.isEmpty || (open < settings.poolSize && !isBackingOff)
    }

    /// Gives a connection back: to the next waiter, to the idle list, or closed when over `pool_size`.
    public func release(_ connection: PGConnection) {
        guard !connection.isBroken, !connection.isClosed, !isClosed else { return discard(connection) }
        if !waiters.isEmpty {
            let next = waiters.removeFirst()
            return next.done(.success(connection))
        }
        if open > settings.poolSize { return discard(connection) }
        idle.append((connection, MonotonicClock.seconds()))
    }

    private func prePing(_ connection: PGConnection, _ done: @escaping Lease) {
        connection.query("SELECT 1") { [self] result in
            if case .success = result { return done(.success(connection)) }
            discard(connection)
            acquire(done)  // the server dropped it: try another (or a new one)
        }
    }

    private func openConnection(for done: @escaping Lease) {
        open += 1
        PGConnection.connect(loop: loop, conninfo: settings.conninfo) { [self] result in
            switch result {
            case .success(let connection):
                connectsSucceeded += 1
                backoff = 0
                reachable(true, nil)
                if isClosed { connection.close(); open -= 1; return done(.failure(.backendUnavailable("storage is shutting down", retryAfterMs: 1000))) }
                done(.success(connection))
            case .failure(let error):
                connectsFailed += 1
                open -= 1
                backoff = min(5, max(0.05, backoff * 2))
                failedUntil = MonotonicClock.seconds() + backoff
                reachable(false, error.message)
                done(.failure(error))
                failWaitersIfNothingOpen(error)
            }
        }
    }

    private func reachable(_ now: Bool, _ why: String?) {
        guard now != isReachable else { return }
        isReachable = now
        onReachabilityChange?(why)
    }

    private func discard(_ connection: PGConnection) {
        connection.close()
        open -= 1
        // A slot came free: the first waiter may open a new connection.
        if !waiters.isEmpty, open < capacity, !isClosed { openConnection(for: waiters.removeFirst().done) }
    }

    private func failWaitersIfNothingOpen(_ error: ProxyError) {
        guard open == 0 else { return }
        let all = waiters
        waiters = []
        for w in all { w.done(.failure(error)) }
    }

    // MARK: - Waiting

    private func startTimer() {
        guard timer == nil else { return }
        let t = UVCallback(loop: loop, .timer) { [unowned self] in expireWaiters() }
        t.startTimer(ms: 50, repeatMs: 50)
        timer = t
    }

    private func expireWaiters() {
        let now = MonotonicClock.seconds()
        while let first = waiters.first, first.deadline <= now {
            waiters.removeFirst()
            first.done(.failure(.overloaded("no PostgreSQL connection free within \(settings.acquireTimeout) s (pool of \(capacity))")))
        }
        if waiters.isEmpty {
            timer?.close()
            timer = nil
        }
    }

    // MARK: - Closing and figures

    /// Closes idle connections now and leased ones as they come back.
    public func close() {
        isClosed = true
        for (c, _) in idle { c.close() }
        open -= idle.count
        idle = []
        let all = waiters
        waiters = []
        for w in all { w.done(.failure(.backendUnavailable("storage is shutting down", retryAfterMs: 1000))) }
        timer?.close()
        timer = nil
    }

    public var figures: JSONValue {
        ["open": .int(Int64(open)), "idle": .int(Int64(idle.count)), "shared": .int(Int64(sharing.count)), "waiting": .int(Int64(waiters.count)),
         "pool_size": .int(Int64(settings.poolSize)), "max_overflow": .int(Int64(settings.maxOverflow)),
         "connects": .int(Int64(connectsSucceeded)), "connect_failures": .int(Int64(connectsFailed))]
    }
}
