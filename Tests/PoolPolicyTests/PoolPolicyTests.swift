@testable import PostgresStorage
import ProxyCore
import Testing

/// A connection as the policy sees it: a few flags the test sets.
final class Conn: PooledConnection, CustomStringConvertible {
    let name: String
    var isBroken = false
    var isClosed = false
    let openedAt: Double
    var queued = 0
    init(_ name: String, openedAt: Double) { self.name = name; self.openedAt = openedAt }
    var description: String { name }
}

/// The pool policy under a fake clock: each step the policy asks for is
/// carried out by hand (a connect succeeds or fails when the test says).
@Suite("PostgreSQL pool policy (no database, fake clock)")
struct PoolPolicyTests {
    typealias Policy = PoolPolicy<Conn, String>  // a waiter is a name
    typealias Step = Policy.Step

    static func settings(_ change: (inout Policy.Settings) -> Void = { _ in }) -> Policy.Settings {
        var s = PGPool.Settings(conninfo: "")
        s.poolSize = 2; s.maxOverflow = 1; s.recycleAfter = 100; s.prePingAfter = 10; s.acquireTimeout = 5; s.pipelineDepth = 3
        change(&s)
        return s
    }

    /// The steps as text, e.g. `lend c1 a`, `connect b`, `fail c -32006`.
    static func text(_ steps: [Step]) -> [String] {
        steps.map { step in
            switch step {
            case .lend(let c, let w): return "lend \(c) \(w)"
            case .prePing(let c, let w): return "ping \(c) \(w)"
            case .connect(let w, let shared): return "connect \(w)" + (shared ? " shared" : "")
            case .fail(let w, let e): return "fail \(w) \(e.code)"
            case .close(let c): return "close \(c)"
            case .reachability(let why): return why == nil ? "reachable" : "unreachable"
            }
        }
    }

    @Test("lends up to pool_size + max_overflow, then queues; waiters time out at the acquire timeout, retryably")
    func capacityThenQueueThenTimeout() {
        var p = Policy(settings: Self.settings())
        #expect(Self.text(p.acquire("a", now: 0)) == ["connect a"])
        #expect(Self.text(p.acquire("b", now: 0)) == ["connect b"])
        #expect(Self.text(p.acquire("c", now: 0)) == ["connect c"])  // the overflow connection
        #expect(Self.text(p.acquire("d", now: 1)).isEmpty && p.waitingCount == 1 && p.nextDeadline == 6)
        #expect(Self.text(p.expire(now: 5.9)).isEmpty)
        #expect(Self.text(p.expire(now: 6)) == ["fail d -32006"])
        #expect(p.nextDeadline == nil)
    }

    @Test("a returned connection goes to the first waiter; past pool_size it is closed instead of kept")
    func releaseToWaiterThenCloseOverflow() {
        var p = Policy(settings: Self.settings())
        let conns = (1...3).map { Conn("c\($0)", openedAt: 0) }
        for (i, c) in conns.enumerated() {
            _ = p.acquire("w\(i)", now: 0)
            _ = p.connected(.success(c), for: "w\(i)", shared: false, now: 0)
        }
        _ = p.acquire("late", now: 1)
        #expect(Self.text(p.release(conns[0], now: 2)) == ["lend c1 late"])
        #expect(Self.text(p.release(conns[1], now: 3)) == ["close c2"])  // 3 open > pool_size 2
        #expect(Self.text(p.release(conns[2], now: 3)).isEmpty && p.idleCount == 1)
        #expect(Self.text(p.acquire("next", now: 4)) == ["lend c3 next"])  // the idle one, no connect
    }

    @Test("an idle connection past prePingAfter is checked first; one that fails the check is replaced")
    func prePing() {
        var p = Policy(settings: Self.settings())
        let c1 = Conn("c1", openedAt: 0)
        _ = p.acquire("a", now: 0)
        _ = p.connected(.success(c1), for: "a", shared: false, now: 0)
        _ = p.release(c1, now: 1)
        #expect(Self.text(p.acquire("b", now: 5)) == ["lend c1 b"])  // idle 4 s: no check
        _ = p.release(c1, now: 5)
        #expect(Self.text(p.acquire("c", now: 20)) == ["ping c1 c"])  // idle 15 s
        #expect(Self.text(p.pinged(c1, ok: false, for: "c", now: 20)) == ["close c1", "connect c"])
        #expect(p.open == 1)
    }

    @Test("a connection older than recycleAfter, or broken, is closed instead of lent")
    func recycleAndBroken() {
        var p = Policy(settings: Self.settings())
        let old = Conn("old", openedAt: 0), broken = Conn("broken", openedAt: 50)
        for (w, c) in [("a", old), ("b", broken)] {
            _ = p.acquire(w, now: 50)
            _ = p.connected(.success(c), for: w, shared: false, now: 50)
        }
        _ = p.release(old, now: 60)
        #expect(Self.text(p.acquire("x", now: 101)) == ["close old", "connect x"])
        broken.isBroken = true
        #expect(Self.text(p.release(broken, now: 102)) == ["close broken"])
    }

    @Test("after a failed connect callers fail fast for a back-off that doubles to 5 s, and success resets it")
    func backOff() {
        var p = Policy(settings: Self.settings())
        let down = ProxyError.backendUnavailable("cannot connect", retryAfterMs: 500)
        var now = 0.0
        var backoffs: [Double] = []
        for i in 0..<9 {
            #expect(Self.text(p.acquire("w\(i)", now: now)) == ["connect w\(i)"])
            let steps = Self.text(p.connected(.failure(down), for: "w\(i)", shared: false, now: now))
            #expect(steps == (i == 0 ? ["unreachable", "fail w\(i) -32003"] : ["fail w\(i) -32003"]))  // the outage is told once
            // Until the back-off runs out, a call fails at once, with how long to wait.
            guard case .fail(_, .backendUnavailable(_, let ms))? = p.acquire("fast", now: now + 0.01).first else {
                Issue.record("expected a fast failure"); return
            }
            backoffs.append(Double(ms) / 1000 + 0.01)
            let wait = Double(ms) / 1000 + 0.01
            now += wait
        }
        #expect(backoffs.first! < 0.1 && backoffs.last! > 4.9 && backoffs.last! < 5.1)
        #expect(zip(backoffs, backoffs.dropFirst()).allSatisfy { $1 >= $0 })
        #expect(Self.text(p.acquire("ok", now: now + 0.1)) == ["connect ok"])
        #expect(Self.text(p.connected(.success(Conn("c", openedAt: now)), for: "ok", shared: false, now: now + 0.1)) == ["reachable", "lend c ok"])
        #expect(p.connectsFailed == 9 && p.connectsSucceeded == 1)
    }

    @Test("a connect that started before one that got through and fails after it says nothing: PostgreSQL stays reachable")
    func staleConnectFailure() {
        var p = Policy(settings: Self.settings())
        let down = ProxyError.backendUnavailable("cannot connect", retryAfterMs: 500)
        _ = p.acquire("old", now: 0)   // under way while PostgreSQL is still away
        _ = p.acquire("new", now: 1)
        #expect(Self.text(p.connected(.success(Conn("c", openedAt: 2)), for: "new", shared: false, now: 2, startedAt: 1)) == ["lend c new"])
        #expect(Self.text(p.connected(.failure(down), for: "old", shared: false, now: 3, startedAt: 0)) == ["fail old -32003"])
        #expect(p.isReachable)
        #expect(Self.text(p.acquire("next", now: 3)) == ["connect next"], "no back-off either")
        // A connect begun after that success and failing is news: unreachable.
        #expect(Self.text(p.connected(.failure(down), for: "next", shared: false, now: 4, startedAt: 3)) == ["unreachable", "fail next -32003"])
    }

    @Test("when the last connect fails with nobody connected, everyone waiting fails at once")
    func failedConnectFailsWaiters() {
        var p = Policy(settings: Self.settings { $0.poolSize = 1; $0.maxOverflow = 0 })
        _ = p.acquire("a", now: 0)
        _ = p.acquire("b", now: 0)
        #expect(Self.text(p.connected(.failure(.backendUnavailable("down", retryAfterMs: 1)), for: "a", shared: false, now: 0))
                == ["unreachable", "fail a -32003", "fail b -32003"])
    }

    @Test("one-statement calls share a connection up to pipeline_depth, then take another; past pool_size they queue deeper")
    func sharing() {
        var p = Policy(settings: Self.settings())
        let c1 = Conn("c1", openedAt: 0), c2 = Conn("c2", openedAt: 0)
        #expect(Self.text(p.acquireShared("s1", now: 0)) == ["connect s1 shared"])
        _ = p.connected(.success(c1), for: "s1", shared: true, now: 0)
        c1.queued = 1
        #expect(Self.text(p.acquireShared("s2", now: 0)) == ["lend c1 s2"])
        c1.queued = 3  // pipeline_depth reached
        #expect(Self.text(p.acquireShared("s3", now: 0)) == ["connect s3 shared"])
        _ = p.connected(.success(c2), for: "s3", shared: true, now: 0)
        c2.queued = 3
        // Both pooled connections are shared and full: no overflow connection, the least busy gets it.
        c1.queued = 4
        #expect(Self.text(p.acquireShared("s4", now: 0)) == ["lend c2 s4"])
        // Back to the pool only once nothing is queued on it.
        #expect(Self.text(p.releaseShared(c2, now: 1)).isEmpty && p.sharing.count == 2)
        c2.queued = 0
        #expect(Self.text(p.releaseShared(c2, now: 1)).isEmpty && p.sharing.count == 1 && p.idleCount == 1)
    }

    @Test("writes share only up to write_pipeline_depth (1: an idle shared connection, else another)")
    func writesShareLess() {
        var p = Policy(settings: Self.settings())
        let c1 = Conn("c1", openedAt: 0)
        _ = p.acquireShared("s1", now: 0)
        _ = p.connected(.success(c1), for: "s1", shared: true, now: 0)
        c1.queued = 1
        #expect(Self.text(p.acquireShared("w1", now: 0, depth: 1)) == ["connect w1 shared"], "a write does not queue behind another")
        #expect(Self.text(p.acquireShared("r1", now: 0)) == ["lend c1 r1"], "a read still does")
        c1.queued = 0
        #expect(Self.text(p.acquireShared("w2", now: 0, depth: 1)) == ["lend c1 w2"])
    }

    @Test("closing fails the waiters, closes idle connections, and closes a connection that arrives after")
    func closing() {
        var p = Policy(settings: Self.settings { $0.poolSize = 1; $0.maxOverflow = 0 })
        let c1 = Conn("c1", openedAt: 0)
        _ = p.acquire("a", now: 0)
        _ = p.connected(.success(c1), for: "a", shared: false, now: 0)
        _ = p.acquire("b", now: 0)  // waits
        #expect(Self.text(p.close()) == ["fail b -32003"])
        #expect(Self.text(p.release(c1, now: 1)) == ["close c1"])
        #expect(Self.text(p.acquire("c", now: 1)) == ["fail c -32003"])
        #expect(p.open == 0)
    }
}
