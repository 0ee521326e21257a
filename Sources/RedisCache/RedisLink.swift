import EventLoop
import ProxyCore

/// A Redis connection that keeps itself up: it connects, authenticates,
/// selects the database, runs the owner's `prepare` step (the read-through
/// cache bumps its generation there), and only then takes commands. When the
/// connection is lost it reconnects after a back-off that doubles from 50 ms
/// to 5 s. Connecting and setting up must finish within `setUpTimeoutMs`, or
/// the attempt counts as failed: a host that drops packets would otherwise
/// hold the link in `connecting` for the kernel's TCP timeout (minutes). A
/// ready connection whose commands get no reply for as long is dropped. While
/// it is not ready, commands fail at once with the retryable `backend
/// unavailable` error. Loop thread only.
final class RedisLink {
    enum State: String { case connecting, ready, down }

    private let loop: UVLoop
    private let settings: RedisSettings
    private let prepare: (RedisConnection, @escaping (Bool) -> Void) -> Void
    private let onStateChange: (RedisLink, String?) -> Void
    private var connection: RedisConnection?
    /// The connect in progress (hiredis has not said yet), to abandon on timeout.
    private var pending: RedisConnection?
    private var retryTimer: UVCallback?
    private var setUpTimer: UVCallback?
    static let setUpTimeoutMs: UInt64 = 2000
    private var backoff = 0.0
    private var isClosed = false
    private var announcedDown = false
    private(set) var state = State.connecting
    private(set) var connects = 0
    private(set) var lastError: String?

    init(loop: UVLoop, settings: RedisSettings,
         prepare: @escaping (RedisConnection, @escaping (Bool) -> Void) -> Void,
         onStateChange: @escaping (RedisLink, String?) -> Void) {
        self.loop = loop
        self.settings = settings
        self.prepare = prepare
        self.onStateChange = onStateChange
        connect()
    }

    var isReady: Bool { state == .ready }

    /// The first attempt has ended, ready or failed (it ends within `setUpTimeoutMs`).
    var hasTriedOnce: Bool { connects > 0 || lastError != nil }

    /// The connection, while it takes commands.
    var readyConnection: RedisConnection? { state == .ready ? connection : nil }

    /// Drops the connection (a reply showed it cannot be trusted); it reconnects and prepares again.
    func reset(_ why: String) {
        guard state == .ready else { return }
        connection?.close()  // onGone → down → reconnect
        if state == .ready { lost(why) }
    }

    /// A server that stopped answering (stopped, hung, cut off without a
    /// reset) would hold every cached read: once commands have waited
    /// `setUpTimeoutMs` with no reply, the connection is dropped, they fail
    /// (reads go to storage), and it reconnects as after any loss.
    func dropIfStalled(now: Double) {
        guard state == .ready, let c = connection,
              c.hasStalled(for: Double(Self.setUpTimeoutMs) / 1000, now: now) else { return }
        fail(c, "no answer within \(Self.setUpTimeoutMs) ms")
    }

    func close() {
        isClosed = true
        retryTimer?.close()
        retryTimer = nil
        stopSetUpTimer()
        pending?.abandonConnect("closed")
        pending = nil
        connection?.onGone = nil
        connection?.close()
        connection = nil
        state = .down
    }

    // MARK: - Connecting

    private func connect() {
        state = .connecting
        let attempt = RedisConnection.connect(loop: loop, to: settings.target) { [self] result in
            pending = nil
            guard !isClosed else { (try? result.get())?.close(); return }
            switch result {
            case .failure(.backendUnavailable(let why, _)): lost(why)
            case .failure(let error): lost(error.message)
            case .success(let c):
                connection = c
                c.onGone = { [unowned self] why in lost(why) }
                setUp(c)
            }
        }
        guard state == .connecting, let attempt else { return }  // failed at once
        pending = attempt
        let timer = UVCallback(loop: loop, .timer) { [unowned self] in
            stopSetUpTimer()
            guard !isClosed, state == .connecting else { return }
            let why = "no answer within \(Self.setUpTimeoutMs) ms"
            if let c = connection { fail(c, "connected, but " + why) } else { pending?.abandonConnect(why) }
        }
        timer.startTimer(ms: Self.setUpTimeoutMs, repeatMs: 0)
        setUpTimer = timer
    }

    private func stopSetUpTimer() {
        setUpTimer?.close()
        setUpTimer = nil
    }

    /// AUTH, SELECT, then the owner's step, pipelined; ready when all succeeded.
    /// The password never appears in what is reported.
    private func setUp(_ c: RedisConnection) {
        var failure: String?
        if let password = settings.password, !password.isEmpty {
            c.command(["AUTH", password]) { r in
                if case .success(.error(let e)) = r { failure = failure ?? "authentication failed: \(e)" }
            }
        }
        let db = settings.db
        if db != 0 {
            c.command(["SELECT", String(db)]) { r in
                if case .success(.error(let e)) = r { failure = failure ?? "SELECT \(db): \(e)" }
            }
        }
        c.command(["PING"]) { [self] r in
            guard !isClosed, connection === c else { return }
            if let failure { return fail(c, failure) }
            switch r {
            case .success(.status("PONG")): break
            case .success(.error(let e)) where e.hasPrefix("NOAUTH"):
                return fail(c, "Redis requires a password (\(e)); set redis.password")
            case .success(.error(let e)): return fail(c, "PING refused: \(e)")
            default: return fail(c, "no answer to PING")
            }
            prepare(c) { [self] ok in
                guard !isClosed, connection === c else { return }
                guard ok else { return fail(c, "could not prepare the connection") }
                stopSetUpTimer()
                backoff = 0
                connects += 1
                lastError = nil
                state = .ready
                announcedDown = false
                onStateChange(self, nil)
            }
        }
    }

    private func fail(_ c: RedisConnection, _ why: String) {
        c.onGone = nil
        connection = nil  // the replies that fail as it closes belong to no one now
        c.close()
        lost(why)
    }

    private func lost(_ why: String) {
        guard !isClosed, retryTimer == nil else { return }
        stopSetUpTimer()
        connection = nil
        state = .down
        lastError = why
        if !announcedDown {  // once per outage, not per retry
            announcedDown = true
            onStateChange(self, why)
        }
        backoff = min(5, max(0.05, backoff * 2))
        let t = UVCallback(loop: loop, .timer) { [unowned self] in
            retryTimer?.close()
            retryTimer = nil
            if !isClosed { connect() }
        }
        t.startTimer(ms: UInt64(backoff * 1000), repeatMs: 0)
        retryTimer = t
    }
}
