import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// Claims and leases over real proxies: several schedulers, one store.
@Suite("Claims and leases")
struct ClaimTests {
    /// `count` due `once` tasks, saved in batches of 500 (one JSON-RPC batch each).
    static func saveDueTasks(_ c: LineClient, count: Int, prefix: String = "due", agent: String = "a") throws {
        for start in stride(from: 0, to: count, by: 500) {
            let batch = (start..<min(count, start + 500)).map { i in
                #"{"jsonrpc":"2.0","id":\#(i),"method":"save_task","params":{"task":{"id":"\#(prefix)-\#(i)","agent_name":"\#(agent)","task_prompt":"p","schedule_type":"once","schedule_value":"2026-01-01T00:00:00Z"}}}"#
            }
            try c.send("[" + batch.joined(separator: ",") + "]\n")
            let answers = try #require(try c.readLine())
            try #require(!answers.contains("\"error\""), "\(answers.prefix(300))")
        }
    }

    /// A scheduler: claims, logs one line per run, completes; until nothing is due.
    final class Scheduler: @unchecked Sendable {  // `claimed` is read only after `done`
        let worker: String
        let client: LineClient
        var claimed: [String] = []
        var failure: String?
        let done = DispatchSemaphore(value: 0)

        init(_ worker: String, _ address: ProxyAddress) throws {
            self.worker = worker
            client = try LineClient(address)
        }

        func start() {
            Thread { [self] in
                defer { done.signal() }
                do {
                    while true {
                        let r = try client.call("claim_due_tasks", ["worker": .string(worker), "limit": 10, "lease_seconds": 30])
                        guard let tasks = r["result"]?.arrayValue else { failure = "claim: \(r)"; return }
                        if tasks.isEmpty { return }
                        for task in tasks {
                            let id = task.objectValue?["id"]?.stringValue ?? "?"
                            claimed.append(id)
                            let log = try client.call("save_log", ["task_id": .string(id), "level": "INFO", "message": .string("ran by \(worker)")])
                            let end = try client.call("complete_task", ["task_id": .string(id), "worker": .string(worker), "status": "completed"])
                            if log["error"] != nil || end["error"] != nil { failure = "\(log) \(end)"; return }
                        }
                    }
                } catch {
                    failure = "\(error)"
                }
            }.start()
        }
    }

    @Test("four schedulers on two proxies (PostgreSQL) or one (SQLite): 2,000 due tasks, each run exactly once",
          arguments: TestBackend.allCases)
    func everyTaskRunsExactlyOnce(backend: TestBackend) throws {
        let first = try ProxyProcess(backend: backend)
        // PostgreSQL: a second proxy on the same database; SQLite: one proxy owns the file.
        let second = backend == .postgresql
            ? try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: first.dir)])
            : first
        let n = underSanitizer ? 500 : 2000
        try Self.saveDueTasks(try first.client(), count: n)
        let schedulers = try (0..<4).map { try Scheduler("w\($0)", ($0 % 2 == 0 ? first : second).address) }
        schedulers.forEach { $0.start() }
        for s in schedulers { #expect(s.done.wait(timeout: .now() + 120) == .success, "\(s.worker) did not finish") }
        for s in schedulers { #expect(s.failure == nil, "\(s.worker): \(s.failure ?? "")") }

        let claims = schedulers.flatMap(\.claimed)
        #expect(claims.count == n, "claims: \(claims.count)")
        #expect(Set(claims).count == claims.count, "a task was claimed twice")
        #expect(schedulers.filter { !$0.claimed.isEmpty }.count >= 2, "the schedulers shared the work")
        let logs = try #require(try first.client().result("query_logs", ["limit": 10000]).arrayValue)
        let runs = Dictionary(grouping: logs, by: { $0.objectValue?["task_id"]?.stringValue ?? "" }).mapValues(\.count)
        #expect(runs.count == n && runs.values.allSatisfy { $0 == 1 }, "tasks run other than once: \(runs.filter { $0.value != 1 }.prefix(5))")
        let done = try #require(try first.client().result("list_tasks", ["status": "completed", "limit": 10000]).arrayValue)
        #expect(done.count == n)
    }

    @Test("a worker that dies holding a lease: the task is claimed again after expiry, attempts shows it, the dead worker's completion is refused",
          arguments: TestBackend.allCases)
    func leaseExpiry(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "job", extra: [("next_run", "2026-01-01T00:00:00Z")])])
        // The dying worker: claims, then its connection is reset without a word.
        let dying = try proxy.client()
        let first = try dying.result("claim_due_tasks", ["worker": "dead", "lease_seconds": 0.3])
        #expect(first.arrayValue?.first?.objectValue?["attempts"] == 1)
        dying.reset()
        #expect(try c.result("claim_due_tasks", ["worker": "alive"]).arrayValue?.isEmpty == true, "claimed while the lease was live")
        usleep(400_000)
        let again = try #require(try c.result("claim_due_tasks", ["worker": "alive"]).arrayValue?.first?.objectValue)
        #expect(again["id"] == "job" && again["attempts"] == 2 && again["lease_owner"] == "alive")
        // The dead worker's late completion (another process of it, say) is refused, naming the holder.
        let late = try proxy.client().call("complete_task", ["task_id": "job", "worker": "dead", "status": "completed"])
        let error = try #require(late["error"]?.objectValue)
        #expect(error["code"] == -32002 && error["data"]?.objectValue?["owner"] == "alive")
        let completed = try c.result("complete_task", ["task_id": "job", "worker": "alive", "status": "completed"])
        #expect(completed.objectValue?["status"] == "pending" && completed.objectValue?["attempts"] == 0, "rescheduled by its cron")
        #expect(completed.objectValue?["last_status"] == "completed")
    }

    @Test("the caller's clock decides (now on claim, renew and complete): a lease holds through its lease_until, ends just after",
          arguments: TestBackend.allCases)
    func callersClock(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t", extra: [("next_run", "2026-01-01T00:00:00Z")])])
        let claimed = try c.result("claim_due_tasks", ["worker": "w1", "lease_seconds": 10, "now": "2026-06-01T00:00:00Z"])
        #expect(claimed.arrayValue?.first?.objectValue?["lease_until"] == "2026-06-01T00:00:10.000000Z")
        // At lease_until the lease still holds (APScheduler's `now <= acquired_until`).
        let atTheEnd = try c.result("claim_due_tasks", ["worker": "w2", "now": "2026-06-01T00:00:10Z"])
        #expect(atTheEnd.arrayValue?.isEmpty == true, "taken over at lease_until")
        let renewed = try c.result("renew_lease", ["task_id": "t", "worker": "w1", "lease_seconds": 20, "now": "2026-06-01T00:00:10Z"])
        #expect(renewed.objectValue?["lease_until"] == "2026-06-01T00:00:30.000000Z")
        #expect(try c.result("claim_due_tasks", ["worker": "w2", "now": "2026-06-01T00:00:30Z"]).arrayValue?.isEmpty == true)
        // A microsecond later it has ended: the next claim takes it over.
        let taken = try #require(try c.result("claim_due_tasks", ["worker": "w2", "lease_seconds": 60, "now": "2026-06-01T00:00:30.000001Z"])
            .arrayValue?.first?.objectValue)
        #expect(taken["lease_owner"] == "w2" && taken["attempts"] == 2 && taken["last_run"] == "2026-06-01T00:00:30.000001Z")
        // Completed at the caller's instant: the next run is the schedule's (09:00 daily) after it, not after the proxy's clock.
        let done = try c.result("complete_task", ["task_id": "t", "worker": "w2", "status": "completed", "now": "2026-06-01T00:05:00Z"])
        #expect(done.objectValue?["next_run"] == "2026-06-01T09:00:00.000000Z" && done.objectValue?["status"] == "pending")
        #expect(done.objectValue?["updated_at"] == "2026-06-01T00:05:00.000000Z")
        #expect(try c.errorCode("renew_lease", ["task_id": "t", "worker": "w2", "now": "yesterday"]) == -32602)
        #expect(try c.errorCode("complete_task", ["task_id": "t", "worker": "w2", "status": "completed", "now": 5]) == -32602)
    }

    @Test("a task that keeps losing its lease fails after max_attempts", arguments: TestBackend.allCases)
    func maxAttempts(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "flaky", extra: [("next_run", "2026-01-01T00:00:00Z"), ("max_attempts", 2)])])
        // Claims at chosen instants: each lease (10 s) has expired by the next claim.
        for (i, now) in ["2026-06-01T00:00:00Z", "2026-06-01T00:01:00Z"].enumerated() {
            let got = try c.result("claim_due_tasks", ["worker": .string("w\(i)"), "lease_seconds": 10, "now": .string(now)])
            #expect(got.arrayValue?.first?.objectValue?["attempts"] == .int(Int64(i + 1)))
        }
        #expect(try c.result("claim_due_tasks", ["worker": "w9", "now": "2026-06-01T00:02:00Z"]).arrayValue?.isEmpty == true)
        let task = try #require(try c.result("get_task", ["task_id": "flaky"]).objectValue)
        #expect(task["status"] == "failed" && task["last_status"] == "lease_expired" && task["lease_owner"] == .null)
    }

    @Test("max_attempts 0 is no limit (as PROTOCOL.md says), overriding server.default_max_attempts", arguments: TestBackend.allCases)
    func maxAttemptsZeroIsNoLimit(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "patient", extra: [("next_run", "2026-01-01T00:00:00Z"), ("max_attempts", 0)])])
        #expect(try c.result("get_task", ["task_id": "patient"]).objectValue?["max_attempts"] == 0)
        // Five lost leases, past the default of 3: claimed every time.
        for i in 0..<5 {
            let got = try c.result("claim_due_tasks", ["worker": .string("w\(i)"), "lease_seconds": 10, "now": .string("2026-06-01T00:0\(i):00Z")])
            #expect(got.arrayValue?.first?.objectValue?["attempts"] == .int(Int64(i + 1)), "claim \(i + 1)")
        }
        #expect(try c.errorCode("save_task", ["task": sampleTask(id: "bad", extra: [("max_attempts", -1)])]) == -32602)
    }

    @Test("a once schedule the proxy cannot read is refused even with next_run given; a saved task can always be completed",
          arguments: TestBackend.allCases)
    func schedulesAreCheckedWhenSaved(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let due: (String, JSONValue) = ("next_run", "2026-01-01T00:00:00Z")
        for (type, value) in [("once", "now"), ("cron", "61 * * * *"), ("interval", "soon")] {
            let refused = try c.call("save_task", ["task": sampleTask(id: "bad-\(type)", extra: [("schedule_type", .string(type)),
                                                                                               ("schedule_value", .string(value)), due])])
            let error = try #require(refused["error"]?.objectValue, "\(type) \(value) was accepted")
            #expect(error["code"] == -32602 && error["data"]?.objectValue?["field"] == "task.schedule_value", "\(error)")
        }
        // Changing a saved task's schedule to an unusable one is refused the same way.
        _ = try c.result("save_task", ["task": sampleTask(id: "ok", extra: [("schedule_type", "once"),
                                                                          ("schedule_value", "2026-01-01T00:00:00Z"), due])])
        #expect(try c.errorCode("save_task", ["task": ["id": "ok", "schedule_value": "tomorrow", "next_run": "2026-01-02T00:00:00Z"]]) == -32602)
        // What was accepted completes: claimed, then completed without next_run.
        let claimed = try c.result("claim_due_tasks", ["worker": "w", "now": "2026-06-01T00:00:00Z"])
        #expect(claimed.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } == ["ok"])
        let done = try c.result("complete_task", ["task_id": "ok", "worker": "w", "status": "completed"])
        #expect(done.objectValue?["status"] == "completed" && done.objectValue?["next_run"] == .null, "\(done)")
    }

    @Test("claims honour agent_name, limit, enabled and due order")
    func claimFilters() throws {
        let proxy = try ProxyProcess()
        let c = try proxy.client()
        for (id, agent, next, enabled) in [("late", "a", "2026-03-01T00:00:00Z", true), ("early", "a", "2026-01-01T00:00:00Z", true),
                                           ("other", "b", "2026-01-01T00:00:00Z", true), ("off", "a", "2025-01-01T00:00:00Z", false),
                                           ("future", "a", "2027-01-01T00:00:00Z", true)] {
            _ = try c.result("save_task", ["task": sampleTask(agent: agent, id: id, extra: [("next_run", .string(next)), ("enabled", .bool(enabled))])])
        }
        let got = try c.result("claim_due_tasks", ["worker": "w", "agent_name": "a", "limit": 5, "now": "2026-06-01T00:00:00Z"])
        #expect(got.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } == ["early", "late"])
        let one = try c.result("claim_due_tasks", ["worker": "w", "limit": 1, "now": "2026-06-01T00:00:00Z"])
        #expect(one.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } == ["other"])
        // A lease that would end past what a timestamp can say is refused, not written.
        let late = try c.call("claim_due_tasks", ["worker": "w", "lease_seconds": 120, "now": "9999-12-31T23:59:00Z"])
        #expect(late["error"]?.objectValue?["data"]?.objectValue?["field"] == "lease_seconds", "\(late)")
        #expect(try c.result("claim_due_tasks", ["worker": "w", "lease_seconds": 30, "now": "9999-12-31T23:59:00Z"]).arrayValue?.count == 1)
    }
}
