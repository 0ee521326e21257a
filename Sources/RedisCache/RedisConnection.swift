import CHiredis
import EventLoop
import ProxyCore

/// One Redis connection on the libuv loop: hiredis's async API through its
/// libuv adapter. This file is the only place that touches hiredis's C
/// callbacks. The connection is retained (through `ac->data`) from connect
/// until hiredis reports it gone: the connect callback with an error, or the
/// disconnect callback; each command's callback box is retained until hiredis
/// calls it, which it always does once (with no reply when the connection
/// goes). Commands are pipelined: sent at once, answered in order.
///
///     connect ──connected──▶ up: command() … ──error / close()──▶ gone (onGone, once)
///
/// Loop thread only.
public final class RedisConnection {
    public enum Target: Equatable, Sendable {
        case tcp(host: String, port: Int)
        case unix(String)
    }

    public typealias ReplyDone = (Result<RedisReply, ProxyError>) -> Void

    private var ac: UnsafeMutablePointer<redisAsyncContext>?
    private var connectDone: ((Result<RedisConnection, ProxyError>) -> Void)?
    /// Called once when an established connection is lost or closed, with why.
    public var onGone: ((String) -> Void)?
    public private(set) var isUp = false
    /// Commands sent and not answered yet, and since when the connection has
    /// waited without any reply (replies come in order, so no progress for
    /// long means the server stopped answering).
    private var unanswered = 0
    private var waitingSince = 0.0

    private init() {}

    /// Commands are waiting and no reply came for `seconds`.
    func hasStalled(for seconds: Double, now: Double) -> Bool { unanswered > 0 && now - waitingSince > seconds }

    /// Starts connecting; returns the connection while it is in progress (to
    /// `abandon` it), nil when it failed at once (`done` has run then).
    @discardableResult
    public static func connect(loop: UVLoop, to target: Target,
                               _ done: @escaping (Result<RedisConnection, ProxyError>) -> Void) -> RedisConnection? {
        let raw: UnsafeMutablePointer<redisAsyncContext>?
        switch target {
        case .tcp(let host, let port): raw = redisAsyncConnect(host, Int32(port))
        case .unix(let path): raw = redisAsyncConnectUnix(path)
        }
        guard let raw else {
            done(.failure(.backendUnavailable("Redis: out of memory", retryAfterMs: 1000)))
            return nil
        }
        if raw.pointee.err != 0 {
            let why = raw.pointee.errstr.map { String(cString: $0) } ?? "unknown error"
            redisAsyncFree(raw)
            done(.failure(.backendUnavailable("cannot connect to Redis: \(why)", retryAfterMs: 1000)))
            return nil
        }
        guard storage_proxy_redis_attach(raw, loop.raw) == REDIS_OK else {
            redisAsyncFree(raw)
            done(.failure(.backendUnavailable("Redis: cannot watch the socket", retryAfterMs: 1000)))
            return nil
        }
        let c = RedisConnection()
        c.ac = raw
        c.connectDone = done
        raw.pointee.data = Unmanaged.passRetained(c).toOpaque()
        redisAsyncSetConnectCallback(raw) { ac, status in
            let c = RedisConnection.owner(of: ac)
            c.connected(ok: status == REDIS_OK, why: ac!.pointee.errstr.map { String(cString: $0) } ?? "unknown error")
        }
        redisAsyncSetDisconnectCallback(raw) { ac, status in
            let c = RedisConnection.owner(of: ac)
            c.gone(why: status == REDIS_OK ? "closed" : "connection lost")
        }
        return c
    }

    private static func owner(of ac: UnsafePointer<redisAsyncContext>?) -> RedisConnection {
        Unmanaged<RedisConnection>.fromOpaque(ac!.pointee.data!).takeUnretainedValue()
    }

    private func connected(ok: Bool, why: String) {
        let done = connectDone
        connectDone = nil
        if ok {
            isUp = true
            done?(.success(self))
        } else {
            // hiredis frees the context after this callback; the disconnect callback does not come.
            ac = nil
            Unmanaged.passUnretained(self).release()
            done?(.failure(.backendUnavailable("cannot connect to Redis: \(why)", retryAfterMs: 1000)))
        }
    }

    /// Gives up a connect still in progress (a host that does not answer):
    /// `done` gets the failure. Whether hiredis then calls the disconnect
    /// callback depends on how far its connect got, so the release is ours
    /// unless `gone` did it.
    public func abandonConnect(_ why: String) {
        guard let ac, !isUp, let done = connectDone else { return }
        connectDone = nil
        isReleased = false
        redisAsyncFree(ac)
        self.ac = nil
        if !isReleased { Unmanaged.passUnretained(self).release() }
        done(.failure(.backendUnavailable("cannot connect to Redis: \(why)", retryAfterMs: 1000)))
    }

    private var isReleased = false

    private func gone(why: String) {
        isReleased = true
        ac = nil  // hiredis frees it when this returns
        let wasUp = isUp
        isUp = false
        let notify = onGone
        onGone = nil
        if wasUp { notify?(why) }
        Unmanaged.passUnretained(self).release()
    }

    /// Sends one command; `done` runs with its reply, after the replies of
    /// earlier commands. An error reply is `.error`, not a failure; a failure
    /// means the connection is gone.
    public func command(_ command: RedisCommand, _ done: @escaping ReplyDone) {
        send(command) { reply in
            guard let reply else { return done(.failure(.backendUnavailable("the Redis connection was lost", retryAfterMs: 500))) }
            done(.success(RedisReply(reply.raw)))
        }
    }

    /// The same, with the reply read in place (nil: the connection is gone).
    func send(_ command: RedisCommand, _ done: @escaping (RedisReplyView?) -> Void) {
        guard let ac, isUp else { return done(nil) }
        let box = Unmanaged.passRetained(ReplyBox(done)).toOpaque()
        let sent: Int32 = command.withArgv { argv, lengths in
            redisAsyncCommandArgv(ac, { ac, reply, privdata in
                // Teardown calls back with no reply, from inside redisAsyncFree: `data` is still ours then.
                RedisConnection.owner(of: ac).answered()
                let done = Unmanaged<ReplyBox>.fromOpaque(privdata!).takeRetainedValue().done
                done(reply.map { RedisReplyView(raw: $0.assumingMemoryBound(to: redisReply.self)) })
            }, box, Int32(command.count), UnsafeMutablePointer(mutating: argv), lengths)
        }
        if sent != REDIS_OK {
            Unmanaged<ReplyBox>.fromOpaque(box).release()
            return done(nil)
        }
        if unanswered == 0 { waitingSince = MonotonicClock.coarseSeconds() }
        unanswered += 1
    }

    private func answered() {
        unanswered -= 1
        if unanswered > 0 { waitingSince = MonotonicClock.coarseSeconds() }
    }

    /// Closes now: commands still waiting get a failure, `onGone` runs.
    public func close() {
        guard let ac else { return }
        redisAsyncFree(ac)  // runs the disconnect callback, which releases us
    }
}

private final class ReplyBox {
    let done: (RedisReplyView?) -> Void
    init(_ done: @escaping (RedisReplyView?) -> Void) { self.done = done }
}
