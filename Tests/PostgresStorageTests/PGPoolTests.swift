import EventLoop
import Foundation
import PostgresStorage
import ProxyCore
import Testing

@Suite("PostgreSQL pool")
struct PGPoolTests {
    func settings(_ change: (inout PGPool.Settings) -> Void = { _ in }) throws -> PGPool.Settings {
        var s = PGPool.Settings(conninfo: try testDatabaseURL())
        change(&s)
        return s
    }

    func pid(_ c: PGConnection, _ done: @escaping (String?) -> Void) {
        c.query("SELECT pg_backend_pid()") { done(try? $0.get().string(0, 0)) }
    }

    @Test func lendsUpToSizePlusOverflowThenQueuesThenTimesOut() throws {
        let s = try settings { $0.poolSize = 2; $0.maxOverflow = 1; $0.acquireTimeout = 0.3 }
        var events: [String] = []
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: s)
            var leased: [PGConnection] = []
            for i in 0..<3 {
                pool.acquire { r in
                    guard case .success(let c) = r else { events.append("fail \(i)"); return }
                    leased.append(c)
                    events.append("lease \(i)")
                    if leased.count == 3 {
                        pool.acquire { r in  // the 4th waits for a release
                            if let c = try? r.get() { leased.append(c) }
                            events.append((try? r.get()) != nil ? "lease 3 after release" : "fail 3")
                            pool.acquire { r in  // the 5th waits and times out
                                if case .failure(let e) = r { events.append("timeout \(e.code)") }
                                pool.close()
                                for c in leased { c.close() }
                            }
                        }
                        pool.release(leased.removeFirst())
                    }
                }
            }
        }
        #expect(events.prefix(3).sorted() == ["lease 0", "lease 1", "lease 2"])
        #expect(events.dropFirst(3) == ["lease 3 after release", "timeout -32006"])
    }

    /// Opens `count` connections and puts them back idle, then runs `then`
    /// (connecting is asynchronous; idle connections are lent at once).
    func warm(_ pool: PGPool, _ count: Int, then: @escaping () -> Void) {
        var opened: [PGConnection] = []
        for _ in 0..<count {
            pool.acquire { r in
                if let c = try? r.get() { opened.append(c) }
                if opened.count == count { for c in opened { pool.release(c) }; then() }
            }
        }
    }

    @Test func autocommitStatementsShareConnectionsUpToThePipelineDepth() throws {
        let s = try settings { $0.poolSize = 3; $0.pipelineDepth = 4 }
        var pids: [String] = []
        var answers: [String] = []
        var sharedWhileBusy: JSONValue?
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: s)
            warm(pool, 3) {
              for i in 0..<6 {
                pool.acquireShared { r in
                    guard case .success(let c) = r else { answers.append("no connection"); return }
                    // The fourth fails (division by zero): alone, since each statement is its own sync segment.
                    let sql = i % 4 == 3 ? "SELECT 1 / ($1::int - $1::int)" : "SELECT pg_backend_pid()::text || ' ' || $1::text"
                    c.query(sql, ["\(i)"]) { r in
                        pool.releaseShared(c)
                        switch r {
                        case .success(let rows):
                            let text = rows.string(0, 0) ?? ""
                            pids.append(String(text.split(separator: " ")[0]))
                            answers.append(String(text.split(separator: " ")[1]))
                        case .failure(let e): answers.append("error \(e.code)")
                        }
                        if answers.count == 6 { pool.close() }
                    }
                }
              }
              sharedWhileBusy = pool.figures.objectValue?["shared"]
            }
        }
        #expect(sharedWhileBusy == .int(2))  // 4 + 2 statements on 2 of the 3 connections
        #expect(Set(pids).count == 2)
        #expect(answers.filter { $0.hasPrefix("error") } == ["error -32603"])
        #expect(answers.filter { !$0.hasPrefix("error") }.sorted() == ["0", "1", "2", "4", "5"])
    }

    @Test func pastPoolSizeSharedStatementsQueueDeeperInsteadOfWaiting() throws {
        let s = try settings { $0.poolSize = 1; $0.maxOverflow = 0; $0.pipelineDepth = 2; $0.acquireTimeout = 0.2 }
        var pids: Set<String> = []
        var failures = 0
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: s)
            var answered = 0
            warm(pool, 1) {
              for _ in 0..<6 {
                pool.acquireShared { r in
                    guard case .success(let c) = r else { failures += 1; answered += 1; return }
                    pid(c) { p in
                        pool.releaseShared(c)
                        if let p { pids.insert(p) } else { failures += 1 }
                        answered += 1
                        if answered == 6 { pool.close() }
                    }
                }
              }
            }
        }
        #expect(failures == 0)
        #expect(pids.count == 1)
    }

    @Test func recyclesOldConnections() throws {
        let s = try settings { $0.recycleAfter = 0 }
        var pids: [String?] = []
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: s)
            pool.acquire { r in
                guard case .success(let c) = r else { return }
                pid(c) { p in
                    pids.append(p)
                    pool.release(c)
                    pool.acquire { r in
                        guard case .success(let c2) = r else { return }
                        pid(c2) { p in pids.append(p); c2.close(); pool.close() }
                    }
                }
            }
        }
        #expect(pids.count == 2 && pids[0] != nil && pids[0] != pids[1])
    }

    @Test func prePingReplacesAConnectionTheServerDropped() throws {
        let s = try settings { $0.prePingAfter = 0 }
        var answer: String?
        var pids: [String?] = []
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: s)
            pool.acquire { r in
                guard case .success(let victim) = r else { return }
                pid(victim) { p in
                    pids.append(p)
                    pool.release(victim)  // idle in the pool…
                    PGConnection.connect(loop: loop, conninfo: s.conninfo) { r in
                        guard case .success(let killer) = r, let p else { return }
                        killer.query("SELECT pg_terminate_backend($1::int)", [p]) { _ in  // …and killed by the server
                            killer.close()
                            usleep(100_000)
                            pool.acquire { r in
                                guard case .success(let c) = r else { return }
                                pid(c) { p in
                                    pids.append(p)
                                    answer = p == nil ? nil : "usable"
                                    c.close()
                                    pool.close()
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(answer == "usable")
        #expect(pids.count == 2 && pids[0] != pids[1])
    }

    @Test func anUnreachableServerFailsFastAndRetryably() throws {
        var codes: [Int] = []
        var elapsed = 0.0
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: PGPool.Settings(conninfo: "postgresql://u@127.0.0.1:1/db?connect_timeout=2"))
            pool.acquire { r in
                if case .failure(let e) = r { codes.append(e.code) }
                let start = Date()
                pool.acquire { r in  // within the back-off: no new connect attempt
                    if case .failure(let e) = r { codes.append(e.code) }
                    elapsed = Date().timeIntervalSince(start)
                    pool.close()
                }
            }
        }
        #expect(codes == [-32003, -32003])
        #expect(elapsed < 0.01)
    }
}
