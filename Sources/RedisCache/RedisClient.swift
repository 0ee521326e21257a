import EventLoop
import ProxyCore

/// Where Redis is and how to talk to it (the seed's `cache.redis` keys).
public struct RedisSettings: Sendable {
    public var target: RedisConnection.Target
    public var password: String?
    public var db = 0
    public var poolSize = 4
    /// Every key the proxy writes starts with this: `{prefix}app:` for
    /// `cache.*`, `{prefix}rt:` for its read-through entries.
    public var keyPrefix = "storage-proxy:"

    public init(target: RedisConnection.Target) { self.target = target }

    /// Where, never the password.
    public var description: String {
        switch target {
        case .tcp(let host, let port): return "redis://\(host):\(port)/\(db)"
        case .unix(let path): return "redis+unix://\(path)?db=\(db)"
        }
    }
}

/// `poolSize` Redis connections used in turn (each pipelines its commands;
/// several spread the parsing over the server's I/O and our wake-ups).
/// Users register `prepare` steps that run on every new connection before
/// it takes commands. Loop thread only.
public final class RedisClient {
    public let settings: RedisSettings
    private let loop: UVLoop
    private var links: [RedisLink] = []
    private var next = 0
    private var prepareSteps: [(RedisConnection, @escaping (Bool) -> Void) -> Void] = []
    /// Told once when Redis becomes unavailable (with why) and once when it is back (nil).
    public var onAvailabilityChange: ((String?) -> Void)?
    private var wasAvailable: Bool?
    public private(set) var outages = 0
    private var turnHooks: [() -> Void] = []
    private var turnHandle: UVCallback?
    private var stallCheck: UVCallback?

    public init(loop: UVLoop, settings: RedisSettings) {
        self.loop = loop
        self.settings = settings
    }

    /// Adds a step run on each new connection before it is used; call before `start`.
    public func onEveryConnect(_ step: @escaping (RedisConnection, @escaping (Bool) -> Void) -> Void) {
        prepareSteps.append(step)
    }

    public func start() {
        if !turnHooks.isEmpty {
            turnHandle = UVCallback(loop: loop, .prepare) { [unowned self] in for f in turnHooks { f() } }
        }
        let check = UVCallback(loop: loop, .timer) { [unowned self] in
            let now = MonotonicClock.coarseSeconds()
            for l in links { l.dropIfStalled(now: now) }
        }
        check.startTimer(ms: 250, repeatMs: 250)
        stallCheck = check
        for _ in 0..<max(1, settings.poolSize) {
            links.append(RedisLink(loop: loop, settings: settings, prepare: { [unowned self] c, done in
                runSteps(c, from: 0, done)
            }, onStateChange: { [unowned self] _, _ in availabilityMayHaveChanged() }))
        }
    }

    /// Runs the loop until every connection's first attempt has succeeded or
    /// failed (at most `RedisLink.setUpTimeoutMs`). A proxy that waits for
    /// this before it listens serves its first request with the cache in the
    /// state it will stay in, and every connection has already bumped the
    /// generation, so no later connect retires entries filled meanwhile.
    public func awaitFirstAttempts() {
        while links.contains(where: { !$0.hasTriedOnce }) { loop.runOnce() }
    }

    private func runSteps(_ c: RedisConnection, from i: Int, _ done: @escaping (Bool) -> Void) {
        guard i < prepareSteps.count else { return done(true) }
        prepareSteps[i](c) { [self] ok in ok ? runSteps(c, from: i + 1, done) : done(false) }
    }

    /// At least one connection takes commands.
    public var isAvailable: Bool { links.contains { $0.isReady } }

    private func availabilityMayHaveChanged() {
        let now = isAvailable
        guard now != wasAvailable else { return }
        let starting = wasAvailable == nil
        wasAvailable = now
        if starting && now { return }  // up at start: nothing to tell
        if !now { outages += 1 }
        onAvailabilityChange?(now ? nil : (links.compactMap(\.lastError).first ?? "unreachable"))
    }

    /// Sends on the next ready connection; fails at once (retryably) if none is.
    public func command(_ command: RedisCommand, _ done: @escaping RedisConnection.ReplyDone) {
        LoopThread.check()
        guard let c = nextReady() else { return done(.failure(unavailable)) }
        c.command(command, done)
    }

    /// The same, with the reply read in place (nil: no reply, Redis is unavailable).
    func send(_ command: RedisCommand, _ done: @escaping (RedisReplyView?) -> Void) {
        LoopThread.check()
        guard let c = nextReady() else { return done(nil) }
        c.send(command, done)
    }

    private func nextReady() -> RedisConnection? {
        for _ in 0..<links.count {
            let link = links[next]
            next = next + 1 == links.count ? 0 : next + 1
            if let c = link.readyConnection { return c }
        }
        return nil
    }

    private var unavailable: ProxyError {
        .backendUnavailable("Redis is unavailable" + (links.compactMap(\.lastError).first.map { ": \($0)" } ?? ""), retryAfterMs: 500)
    }

    /// Runs `flush` on every loop turn just before the loop waits for I/O, so
    /// a user can gather what a turn's requests ask for and send it as one
    /// command (hiredis writes on the next poll either way, so this adds no
    /// delay). Call before `start`.
    public func beforeWaiting(_ flush: @escaping () -> Void) {
        turnHooks.append(flush)
    }

    /// Every connection reconnects (and prepares again): after a reply that
    /// shows Redis cannot be trusted to have applied what we sent.
    public func resetAll(_ why: String) {
        for l in links { l.reset(why) }
    }

    public func close() {
        turnHandle?.close()
        turnHandle = nil
        stallCheck?.close()
        stallCheck = nil
        for l in links { l.close() }
        links = []
    }

    public var figures: JSONValue {
        ["state": isAvailable ? "up" : "down", "server": .string(settings.description),
         "connections": .int(Int64(links.count)), "ready": .int(Int64(links.filter(\.isReady).count)),
         "connects": .int(Int64(links.reduce(0) { $0 + $1.connects })), "outages": .int(Int64(outages)),
         "last_error": links.compactMap(\.lastError).first.map { .string($0) } ?? .null]
    }
}
