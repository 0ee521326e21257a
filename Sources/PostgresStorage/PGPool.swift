import EventLoop
import ProxyConfig
import ProxyCore

extension PGConnection: PooledConnection {}

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
/// wake-up instead of many backends one query each.
///
/// The decisions are `PoolPolicy`'s (pure, tested with a fake clock); this
/// driver carries them out: connects, pre-pings, the waiters' timer.
/// Loop thread only.
public final class PGPool {
    /// The pool's settings: the configuration's (`ProxyConfig.PostgreSQL`,
    /// where every default is declared once) and two of the pool's own.
    public struct Settings: Sendable {
        public var conninfo: String
        public var poolSize: Int
        public var maxOverflow: Int
        public var recycleAfter: Double
        public var prePingAfter = 30.0
        public var acquireTimeout = 5.0
        /// Autocommit statements queued on one connection before another is used; 1: one at a time.
        public var pipelineDepth: Int
        /// The same for statements that write, without group commit (their commits flush one after another on one connection).
        public var writePipelineDepth: Int
        /// Autocommit writes share commits (`PGGroupCommit`); off: each commits alone.
        public var groupCommit: Bool
        /// Groups committing at once, at most, each on a pooled connection of its own (a second starts only beside a slow one).
        public var commitGroups: Int
        /// Writes in one group at most.
        public var maxGroupWrites: Int
        /// A write in a group waits this long for a row lock, then leaves the group to wait alone.
        public var groupLockWaitMs: Int

        public init(conninfo: String, _ c: ProxyConfig.PostgreSQL = .init()) {
            self.conninfo = conninfo
            poolSize = c.poolSize
            maxOverflow = c.maxOverflow
            recycleAfter = Double(c.poolRecycle)
            pipelineDepth = c.pipelineDepth
            writePipelineDepth = c.writePipelineDepth
            groupCommit = c.groupCommit
            commitGroups = c.commitGroups
            maxGroupWrites = c.maxGroupWrites
            groupLockWaitMs = c.groupLockWaitMs
        }
    }

    public typealias Lease = (Result<PGConnection, ProxyError>) -> Void

    private let loop: UVLoop
    private let conninfo: String
    private var policy: PoolPolicy<PGConnection, Lease>
    private var timer: UVCallback?
    /// Told once when PostgreSQL becomes unreachable (with the reason) and
    /// once when it is back (nil).
    public var onReachabilityChange: ((_ lostBecause: String?) -> Void)?

    public init(loop: UVLoop, settings: Settings) {
        self.loop = loop
        conninfo = settings.conninfo
        policy = PoolPolicy(settings: settings)
    }

    public var isReachable: Bool { policy.isReachable }

    // MARK: - Lending

    public func acquire(_ done: @escaping Lease) {
        LoopThread.check()
        carryOut(policy.acquire(done, now: MonotonicClock.seconds()))
    }

    /// For one autocommit statement; give it back with `releaseShared` once it has answered.
    public func acquireShared(_ done: @escaping Lease) { carryOut(policy.acquireShared(done, now: MonotonicClock.seconds())) }

    /// For one autocommit statement that writes: shared only up to `writePipelineDepth`.
    public func acquireSharedForWrite(_ done: @escaping Lease) {
        carryOut(policy.acquireShared(done, now: MonotonicClock.seconds(), depth: policy.settings.writePipelineDepth))
    }

    /// The health probe's own connect went through (nil) or failed: the pool's reachability and back-off follow it.
    func probed(_ error: ProxyError?, startedAt: Double) {
        carryOut(policy.probed(error, now: MonotonicClock.seconds(), startedAt: startedAt))
    }

    public func release(_ connection: PGConnection) { carryOut(policy.release(connection, now: MonotonicClock.seconds())) }

    public func releaseShared(_ connection: PGConnection) { carryOut(policy.releaseShared(connection, now: MonotonicClock.seconds())) }

    /// Closes idle connections now and lent ones as they come back.
    public func close() {
        carryOut(policy.close())
        timer?.close()
        timer = nil
    }

    // MARK: - Carrying out the policy's steps

    private func carryOut(_ steps: [PoolPolicy<PGConnection, Lease>.Step]) {
        for step in steps {
            switch step {
            case .lend(let connection, let done): done(.success(connection))
            case .fail(let done, let error): done(.failure(error))
            case .close(let connection): connection.close()
            case .reachability(let why): onReachabilityChange?(why)
            case .prePing(let connection, let done):
                connection.query("SELECT 1") { [self] result in
                    let ok: Bool
                    if case .success = result { ok = true } else { ok = false }
                    carryOut(policy.pinged(connection, ok: ok, for: done, now: MonotonicClock.seconds()))
                }
            case .connect(let done, let shared):
                let started = MonotonicClock.seconds()
                PGConnection.connect(loop: loop, conninfo: conninfo) { [self] result in
                    carryOut(policy.connected(result, for: done, shared: shared, now: MonotonicClock.seconds(), startedAt: started))
                }
            }
        }
        updateTimer()
    }

    /// A 50 ms tick while anyone waits: waiters past the acquire timeout fail.
    private func updateTimer() {
        if policy.nextDeadline == nil {
            timer?.close()
            timer = nil
        } else if timer == nil {
            let t = UVCallback(loop: loop, .timer) { [unowned self] in carryOut(policy.expire(now: MonotonicClock.seconds())) }
            t.startTimer(ms: 50, repeatMs: 50)
            timer = t
        }
    }

    public var figures: JSONValue {
        ["open": .int(Int64(policy.open)), "idle": .int(Int64(policy.idleCount)), "shared": .int(Int64(policy.sharing.count)),
         "waiting": .int(Int64(policy.waitingCount)), "pool_size": .int(Int64(policy.settings.poolSize)),
         "max_overflow": .int(Int64(policy.settings.maxOverflow)),
         "connects": .int(Int64(policy.connectsSucceeded)), "connect_failures": .int(Int64(policy.connectsFailed))]
    }
}
