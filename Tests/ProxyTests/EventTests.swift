import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// Live events over real proxies: `subscribe`, `event` notifications, `lagged`.
@Suite("Live events")
struct EventTests {
    /// A subscriber's connection: events are read as they come.
    final class Subscriber {
        let client: LineClient
        private(set) var id = ""

        init(_ address: ProxyAddress, _ params: JSONValue = [:]) throws {
            client = try LineClient(address, timeoutSeconds: 20)
            let answer = try client.call("subscribe", params)
            id = try #require(answer["result"]?.objectValue?["subscription"]?.stringValue, "\(answer)")
        }

        /// The next event's params (fails on anything else, or after 20 s of silence).
        func next() throws -> JSONObject {
            let line = try #require(try client.readLine(), "the proxy closed the connection")
            let message = try #require(try JSONParser.parse(line).objectValue)
            #expect(message["method"] == "event" && message["id"] == nil, "not an event: \(line.prefix(200))")
            return try #require(message["params"]?.objectValue)
        }
    }

    /// What an event says about its task: "created:pending", "updated:s2", "log:…", "deleted".
    static func summary(_ e: JSONObject) -> (task: String, step: String) {
        if let log = e["log"]?.objectValue {
            return (log["task_id"]?.stringValue ?? "?", "log:\(log["message"]?.stringValue ?? "")")
        }
        let task = e["task"]?.objectValue ?? [:]
        let op = e["op"]?.stringValue ?? "?"
        return (task["id"]?.stringValue ?? "?", op == "deleted" ? op : "\(op):\(task["status"]?.stringValue ?? "")")
    }

    /// Each writer takes its own tasks through the same steps, one call after the other.
    static let steps = ["created:pending", "updated:s1", "log:ran", "updated:s2", "updated:s3", "deleted"]

    static func writeSteps(_ c: LineClient, task id: String) throws {
        _ = try c.result("save_task", ["task": sampleTask(agent: "agent-\(id.hasPrefix("w0") ? "zero" : "other")", id: id)])
        _ = try c.result("update_task_status", ["task_id": .string(id), "status": "s1"])
        _ = try c.result("save_log", ["task_id": .string(id), "level": "INFO", "message": "ran"])
        _ = try c.result("update_task_status", ["task_id": .string(id), "status": "s2"])
        // Inside a transaction: its changes arrive once it commits, in its order.
        let tx = try #require(try c.result("begin_transaction").stringValue)
        _ = try c.result("update_task_status", ["task_id": .string(id), "status": "rolled back", "transaction": .string(tx)])
        _ = try c.result("rollback_transaction", ["transaction": .string(tx)])
        let tx2 = try #require(try c.result("begin_transaction").stringValue)
        _ = try c.result("update_task_status", ["task_id": .string(id), "status": "s3", "transaction": .string(tx2)])
        _ = try c.result("commit_transaction", ["transaction": .string(tx2)])
        #expect(try c.errorCode("save_log", ["task_id": "no-such-task", "level": "INFO", "message": "lost"]) == -32001)
        _ = try c.result("delete_task", ["task_id": .string(id)])
    }

    @Test("every change arrives once, in commit order per task, on every proxy; filters pick theirs", arguments: TestBackend.allCases)
    func everyChangeInOrder(backend: TestBackend) throws {
        let first = try ProxyProcess(backend: backend)
        let second = backend == .postgresql
            ? try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: first.dir)])
            : first
        let all = try Subscriber(second.address)
        let onFirst = try Subscriber(first.address, ["topics": ["tasks"]])
        let oneTask = try Subscriber(second.address, ["task_id": "w1-3"])
        let oneAgent = try Subscriber(first.address, ["agent_name": "agent-zero", "topics": ["logs"]])

        let writers = 4, tasksEach = 25
        let failures = Locked<[String]>([])
        let threads = (0..<writers).map { w in
            Thread {
                do {
                    let c = try (w % 2 == 0 ? first : second).client()
                    for i in 0..<tasksEach { try Self.writeSteps(c, task: "w\(w)-\(i)") }
                } catch {
                    failures.withLock { $0.append("writer \(w): \(error)") }
                }
            }
        }
        threads.forEach { $0.start() }

        var seen: [String: [String]] = [:]
        for _ in 0..<(writers * tasksEach * Self.steps.count) {
            let (task, step) = Self.summary(try all.next())
            seen[task, default: []].append(step)
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(seen.count == writers * tasksEach)
        for (task, steps) in seen where steps != Self.steps {
            Issue.record("\(task): \(steps)")
        }
        // The narrower subscriptions: the same order, only what they asked for.
        var taskSteps: [String: [String]] = [:]
        for _ in 0..<(writers * tasksEach * (Self.steps.count - 1)) {
            let (task, step) = Self.summary(try onFirst.next())
            taskSteps[task, default: []].append(step)
        }
        #expect(taskSteps.values.allSatisfy { $0 == Self.steps.filter { !$0.hasPrefix("log:") } })
        #expect(try (0..<Self.steps.count).map { _ in Self.summary(try oneTask.next()).step } == Self.steps)
        for _ in 0..<tasksEach {
            let e = try oneAgent.next()
            #expect(e["topic"] == "logs" && e["log"]?.objectValue?["task_id"]?.stringValue?.hasPrefix("w0-") == true, "\(e)")
        }
        // Nothing more is queued for the narrow ones: the next event each gets is this one.
        let c = try first.client()
        _ = try c.result("save_task", ["task": sampleTask(agent: "agent-zero", id: "w1-3")])
        _ = try c.result("save_log", ["task_id": "w1-3", "level": "INFO", "message": "last"])
        #expect(Self.summary(try oneTask.next()).step == "created:pending")
        #expect(Self.summary(try oneAgent.next()).step == "log:last")
    }

    @Test("agent_prefix picks a group of agents; leases false leaves out claims and renewals, not what ends them",
          arguments: TestBackend.allCases)
    func prefixAndLeases(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let quiet = try Subscriber(proxy.address, ["topics": ["tasks"], "agent_prefix": "ns:", "leases": false])
        let all = try Subscriber(proxy.address, ["topics": ["tasks"], "agent_prefix": "ns:"])
        let c = try proxy.client()
        let due: [(String, JSONValue)] = [("next_run", "2026-01-01T00:00:00Z")]
        _ = try c.result("save_task", ["task": sampleTask(agent: "ns:jobs", id: "j1", extra: due)])
        _ = try c.result("save_task", ["task": sampleTask(agent: "other", id: "x1", extra: due)])
        _ = try c.result("save_task", ["task": sampleTask(agent: "nsx", id: "x2", extra: due)])
        #expect(try c.result("claim_due_tasks", ["worker": "w", "agent_name": "ns:jobs"]).arrayValue?.count == 1)
        _ = try c.result("renew_lease", ["task_id": "j1", "worker": "w"])
        _ = try c.result("complete_task", ["task_id": "j1", "worker": "w", "status": "done", "next_run": .null])
        _ = try c.result("save_task", ["task": sampleTask(agent: "ns:schedules", id: "s1")])
        _ = try c.result("delete_task", ["task_id": "j1"])
        let expected = [("j1", "created:pending"), ("j1", "updated:done"), ("s1", "created:pending"), ("j1", "deleted")]
        for (task, step) in expected {
            let got = Self.summary(try quiet.next())
            #expect(got.task == task && got.step == step, "\(got), expected \(task) \(step)")
        }
        let withLeases = try (0..<6).map { _ in Self.summary(try all.next()).step }
        #expect(withLeases == ["created:pending", "updated:running", "updated:running", "updated:done", "created:pending", "deleted"])
        #expect(try c.errorCode("subscribe", ["leases": "no"]) == -32602)
    }

    @Test("a subscriber that does not read loses events, not the proxy's memory; lagged events say how many",
          arguments: TestBackend.allCases)
    func slowSubscriberLags(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig("server:\n  max_output_bytes: 65536\n")])
        let slow = try Subscriber(proxy.address, ["topics": ["tasks"]])
        let writer = try proxy.client()
        let before = try proxy.peakMemoryKiB()
        let prompt = String(repeating: "x", count: 8_000)
        let n = underSanitizer ? 1_000 : 3_000   // ~8 or ~24 MB of events: either is hundreds of times the output buffer
        for start in stride(from: 0, to: n, by: 100) {
            let batch = (start..<start + 100).map { i in
                #"{"jsonrpc":"2.0","id":\#(i),"method":"save_task","params":{"task":{"id":"t\#(i)","agent_name":"a","task_prompt":"\#(prompt)","schedule_type":"interval","schedule_value":"60"}}}"#
            }
            try writer.send("[" + batch.joined(separator: ",") + "]\n")
            #expect(try writer.readLine()?.contains("\"error\"") == false)
        }
        let grew = try proxy.peakMemoryKiB() - before
        // (A sanitizer's quarantine keeps freed memory: the figure means nothing there.)
        if !underSanitizer {
            #expect(grew < 16 << 10, "peak memory grew by \(grew) KiB while a subscriber did not read")
            print("memory on \(backend): ~\(n * 8 / 1000) MB of events for a subscriber that did not read raised the proxy's peak by \(grew) KiB")
        }

        // Reading now: every change is either received or counted in a
        // lagged event (one per episode: events came between any two).
        var received = 0, dropped = 0, laggedEvents = 0, lastWasLagged = false
        while received + dropped < n {
            let e = try slow.next()
            if e["op"] == "lagged" {
                #expect(!lastWasLagged, "two lagged events in a row")
                laggedEvents += 1
                dropped += Int(e["dropped"]?.objectValue?["tasks"]?.intValue ?? 0)
                lastWasLagged = true
            } else {
                received += 1
                lastWasLagged = false
            }
        }
        #expect(dropped > n / 2 && received + dropped == n, "received \(received), dropped \(dropped) of \(n)")
        #expect(laggedEvents >= 1)
        // Then every new change, as before.
        _ = try writer.result("save_task", ["task": sampleTask(id: "after-the-lag")])
        #expect(try slow.next()["task"]?.objectValue?["id"] == "after-the-lag")
        let status = try writer.result("server.status")
        #expect(status.objectValue?["events"]?.objectValue?["dropped"]?.intValue == Int64(dropped))
    }

    @Test("unsubscribe and disconnect free everything; limits and bad topics are clear errors", arguments: TestBackend.allCases)
    func unsubscribeAndDisconnect(backend: TestBackend) throws {
        let config = try writeConfig("server:\n  max_subscriptions_per_connection: 2\n")
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", config])
        let status = try proxy.client()
        func events() throws -> JSONObject { try status.result("server.status").objectValue?["events"]?.objectValue ?? [:] }
        #expect(try events()["feed"] == "off")

        let a = try proxy.client()
        let s1 = try #require(try a.result("subscribe").objectValue?["subscription"]?.stringValue)
        let s2 = try #require(try a.result("subscribe", ["topics": ["logs"]]).objectValue?["subscription"]?.stringValue)
        #expect(s1 != s2)
        #expect(try a.errorCode("subscribe") == -32006)
        #expect(try a.errorCode("subscribe", ["topics": ["nope"]]) == -32602)
        #expect(try a.errorCode("subscribe", ["topics": []]) == -32602)
        #expect(try events()["subscriptions"] == 2 && events()["feed"] == "on")
        if backend == .postgresql {
            #expect(try TestPostgres.psql(try TestPostgres.database(named: proxy.dir), "SELECT count(*) FROM event_listeners").out
                .contains("1"))
        }

        let b = try proxy.client()
        #expect(try b.result("unsubscribe", ["subscription": .string(s1)]) == false, "another connection's subscription")
        #expect(try a.result("unsubscribe", ["subscription": .string(s1)]) == true)
        #expect(try a.result("unsubscribe", ["subscription": .string(s1)]) == false)
        #expect(try events()["subscriptions"] == 1)

        a.close()
        var left = JSONObject()
        for _ in 0..<200 {
            left = try events()
            if left["subscriptions"] == 0 { break }
            usleep(10_000)
        }
        #expect(left["subscriptions"] == 0 && left["feed"] == "off", "\(left)")
        if backend == .postgresql {
            var rows = ""
            for _ in 0..<100 {
                rows = try TestPostgres.psql(try TestPostgres.database(named: proxy.dir), "SELECT count(*) FROM event_listeners").out
                if rows.contains(" 0") || rows.hasPrefix("0") { break }
                usleep(20_000)
            }
            #expect(rows.contains("0"), "the listener row outlived the last subscription: \(rows)")
        }
        // Writes go on without subscribers, and a new subscriber starts from what comes after.
        _ = try status.result("save_task", ["task": sampleTask(id: "unheard")])
        let again = try Subscriber(proxy.address)
        _ = try status.result("save_task", ["task": sampleTask(id: "heard")])
        #expect(try again.next()["task"]?.objectValue?["id"] == "heard")
    }

    @Test("PostgreSQL: a row too big for NOTIFY arrives whole (read back), in its place in the order; its deletion names it")
    func bigRowsOnPostgres() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let events = try Subscriber(proxy.address)
        let c = try proxy.client()
        let prompt = String(repeating: "p", count: 20_000), message = String(repeating: "m", count: 20_000)
        _ = try c.result("save_task", ["task": sampleTask(id: "small-1")])
        _ = try c.result("save_task", ["task": sampleTask(id: "big", extra: [("task_prompt", .string(prompt))])])
        _ = try c.result("save_log", ["task_id": "big", "level": "INFO", "message": .string(message)])
        _ = try c.result("save_task", ["task": sampleTask(id: "small-2")])
        var got: [JSONObject] = []
        for _ in 0..<4 { got.append(try events.next()) }
        #expect(got.map { Self.summary($0).task } == ["small-1", "big", "big", "small-2"])
        #expect(got[1]["task"]?.objectValue?["task_prompt"]?.stringValue == prompt)
        #expect(got[2]["log"]?.objectValue?["message"]?.stringValue == message)
        _ = try c.result("delete_task", ["task_id": "big"])
        let deleted = try events.next()
        let gone = try #require(deleted["task"]?.objectValue)
        #expect(deleted["op"] == "deleted" && gone["id"] == "big" && gone["agent_name"] == "agent-a")
    }

    @Test("events never land inside a batch's answer; nc shows them as lines of their own")
    func eventsBetweenLines() throws {
        let proxy = try ProxyProcess()
        let c = try proxy.client()
        _ = try c.result("subscribe", ["topics": ["tasks"]])
        let batch = (0..<50).map { i in
            #"{"jsonrpc":"2.0","id":\#(i),"method":"save_task","params":{"task":{"id":"b\#(i)","agent_name":"a","task_prompt":"p","schedule_type":"interval","schedule_value":"60"}}}"#
        }
        try c.send("[" + batch.joined(separator: ",") + "]\n")
        var answers = 0, events = 0
        while answers == 0 || events < 50 {
            let line = try #require(try c.readLine())
            switch try JSONParser.parse(line) {
            case .array(let items): answers += 1; #expect(items.count == 50)
            case .object(let o): events += 1; #expect(o["method"] == "event")
            default: Issue.record("neither an answer nor an event: \(line)")
            }
        }
        #expect(answers == 1 && events == 50)
    }
}
