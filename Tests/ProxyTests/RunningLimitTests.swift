import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `claim_due_tasks` with `max_running`: an agent's tasks running under live
/// leases never pass the limit, however many claimers on however many proxies.
@Suite("Running limits")
struct RunningLimitTests {
    static func saveDue(_ c: LineClient, _ ids: [String], agent: String) throws {
        for id in ids {
            _ = try c.result("save_task", ["task": sampleTask(agent: agent, id: id, extra: [("next_run", "2026-01-01T00:00:00Z")])])
        }
    }

    static func ids(_ claimed: JSONValue) -> [String] {
        (claimed.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue }
    }

    @Test("a claim takes what the limit leaves: running tasks with live leases count, ended leases and other agents do not",
          arguments: TestBackend.allCases)
    func limitCounts(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        try Self.saveDue(c, (0..<10).map { "l\($0)" }, agent: "limited")
        try Self.saveDue(c, ["o1", "o2"], agent: "other")
        let at = { (second: Int) -> JSONValue in .string("2026-06-01T00:00:\(String(format: "%02d", second))Z") }
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "x", "agent_name": "other", "limit": 2, "now": at(0)])).count == 2)

        let first = Self.ids(try c.result("claim_due_tasks", ["worker": "w1", "agent_name": "limited", "limit": 10, "lease_seconds": 10,
                                                                "max_running": 3, "now": at(0)]))
        #expect(first == ["l0", "l1", "l2"], "due first, three of ten")
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w2", "agent_name": "limited", "limit": 10, "max_running": 3,
                                                           "now": at(1)])).isEmpty, "claimed past the limit")
        // A higher limit leaves room for the difference only.
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w2", "agent_name": "limited", "limit": 10, "lease_seconds": 20,
                                                           "max_running": 4, "now": at(1)])) == ["l3"])
        // A completion frees a place.
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w3", "agent_name": "limited", "max_running": 4, "now": at(2)])).isEmpty)
        _ = try c.result("complete_task", ["task_id": "l0", "worker": "w1", "status": "completed", "next_run": .null, "now": at(2)])
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w3", "agent_name": "limited", "limit": 10, "lease_seconds": 20,
                                                           "max_running": 4, "now": at(2)])) == ["l4"])
        // At 00:10 w1's leases (l1, l2) still hold; just after, they have ended and free two places (l3 and l4
        // hold till 00:21 and 00:22), taken due first: l5 and l6, due since January, before leases ended at 00:10.
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w4", "agent_name": "limited", "limit": 10, "max_running": 4,
                                                           "now": at(10)])).isEmpty)
        let after = try c.result("claim_due_tasks", ["worker": "w4", "agent_name": "limited", "limit": 10, "lease_seconds": 60,
                                                     "max_running": 4, "now": "2026-06-01T00:00:10.000001Z"])
        #expect(Self.ids(after) == ["l5", "l6"])
        // Without a limit the same claim takes everything due: l7 to l9, and l1 and l2 whose leases ended.
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w5", "agent_name": "limited", "limit": 10, "now": at(11)])).count == 5)

        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "max_running": 2]) == -32602, "no agent to limit")
        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "agent_name": "limited", "max_running": 0]) == -32602)
        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "agent_name": "limited", "max_running": "2"]) == -32602)
    }

    @Test("claims by agent_prefix (no wildcards in it) and count_tasks: the counts a limit and a console need",
          arguments: TestBackend.allCases)
    func prefixClaimsAndCounts(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        for (agent, ids) in [("q:a", ["a1", "a2"]), ("q:b", ["b1"]), ("qx", ["x1"]), ("q_x", ["u1"]), ("qax", ["v1"])] {
            try Self.saveDue(c, ids, agent: agent)
        }
        let now: JSONValue = "2026-06-01T00:00:00Z"
        let claimed = Self.ids(try c.result("claim_due_tasks", ["worker": "w", "agent_prefix": "q:", "limit": 10, "lease_seconds": 30, "now": now]))
        #expect(Set(claimed) == ["a1", "a2", "b1"])
        #expect(Self.ids(try c.result("claim_due_tasks", ["worker": "w", "agent_prefix": "q_", "limit": 10, "now": now])) == ["u1"],
                "_ is a character, not a wildcard")
        #expect(try c.result("count_tasks", ["agent_name": "q:a", "status": "running"]) == 2)
        #expect(try c.result("count_tasks", ["leased_at": "2026-06-01T00:00:30Z"]) == 4, "u1's lease (60 s) and the three of 30 s")
        #expect(try c.result("count_tasks", ["leased_at": "2026-06-01T00:00:30.000001Z"]) == 1, "only u1's")
        #expect(try c.result("count_tasks", ["status": "pending"]) == 2)
        #expect(try c.result("count_tasks") == 6)
        #expect(try c.result("count_tasks", ["agent_name": "nobody"]) == 0)
        #expect(try c.result("count_tasks", ["group_by": "status"]) == ["running": 4, "pending": 2])
        #expect(try c.result("count_tasks", ["group_by": "agent_name", "status": "running"]) == ["q:a": 2, "q:b": 1, "q_x": 1])
        #expect(try c.result("count_tasks", ["group_by": "agent_name", "agent_name": "qx"]) == ["qx": 1])
        #expect(try c.errorCode("count_tasks", ["group_by": "id"]) == -32602)
        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "agent_prefix": "q:", "agent_name": "q:a"]) == -32602)
        #expect(try c.errorCode("count_tasks", ["leased_at": "soon"]) == -32602)
    }

    /// A claimer: claims one at a time within the limit, reads how many of the agent's tasks run
    /// (every lease is long: all count), completes; until nothing is left.
    final class Claimer: @unchecked Sendable {  // read only after `done`
        let worker: String
        let client: LineClient
        var claimed: [String] = []
        var mostRunningSeen = 0
        var failure: String?
        let done = DispatchSemaphore(value: 0)

        init(_ worker: String, _ address: ProxyAddress) throws {
            self.worker = worker
            client = try LineClient(address)
        }

        func start(maxRunning: Int, total: Int, tally: Tally) {
            Thread { [self] in
                defer { done.signal() }
                do {
                    while tally.finished < total {
                        let r = try client.call("claim_due_tasks", ["worker": .string(worker), "agent_name": "limited", "limit": 5,
                                                                    "lease_seconds": 120, "max_running": .int(Int64(maxRunning))])
                        guard let tasks = r["result"]?.arrayValue else { failure = "claim: \(r)"; return }
                        let running = try client.result("list_tasks", ["agent_name": "limited", "status": "running", "limit": 1000])
                        mostRunningSeen = max(mostRunningSeen, running.arrayValue?.count ?? 0)
                        if tasks.isEmpty { usleep(500) }  // the others hold both places
                        for id in RunningLimitTests.ids(.array(tasks)) {
                            claimed.append(id)
                            let end = try client.call("complete_task", ["task_id": .string(id), "worker": .string(worker),
                                                                        "status": "completed", "next_run": .null])
                            if end["error"] != nil { failure = "\(end)"; return }
                            tally.add()
                        }
                    }
                } catch {
                    failure = "\(error)"
                }
            }.start()
        }
    }

    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var finished: Int { lock.withLock { count } }
        func add() { lock.withLock { count += 1 } }
    }

    @Test("six claimers on two proxies (PostgreSQL) or one (SQLite), limit 2: never more than 2 running, every task run once",
          arguments: TestBackend.allCases)
    func limitHoldsUnderConcurrentClaims(backend: TestBackend) throws {
        let first = try ProxyProcess(backend: backend)
        let second = backend == .postgresql
            ? try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: first.dir)])
            : first
        let n = underSanitizer ? 100 : 400
        let c = try first.client()
        try ClaimTests.saveDueTasks(c, count: n, agent: "limited")
        let tally = Tally()
        let claimers = try (0..<6).map { try Claimer("w\($0)", ($0 % 2 == 0 ? first : second).address) }
        claimers.forEach { $0.start(maxRunning: 2, total: n, tally: tally) }
        for s in claimers { #expect(s.done.wait(timeout: .now() + 120) == .success, "\(s.worker) did not finish") }
        for s in claimers { #expect(s.failure == nil, "\(s.worker): \(s.failure ?? "")") }

        let claims = claimers.flatMap(\.claimed)
        #expect(claims.count == n && Set(claims).count == n, "claims: \(claims.count), distinct: \(Set(claims).count)")
        let most = claimers.map(\.mostRunningSeen).max() ?? 0
        #expect(most <= 2, "\(most) of the agent's tasks were running at once")
        #expect(most == 2, "the limit was reached (two claimers ran at once at least once)")
        #expect(claimers.filter { !$0.claimed.isEmpty }.count >= 2, "the claimers shared the work")
    }
}
