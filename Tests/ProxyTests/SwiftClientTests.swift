import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The async/await `ProxyClient` against a real proxy: every method, errors as
/// `ProxyError`, 1,000 concurrent calls on one connection, reconnects, transactions.
@Suite("Swift client (async/await)")
struct SwiftClientTests {
    static func task(_ id: String, agent: String = "news") -> JSONObject {
        ["id": .string(id), "agent_name": .string(agent), "task_prompt": "Summarise", "schedule_type": "cron", "schedule_value": "0 9 * * *"]
    }

    @Test("every method", arguments: TestBackend.allCases)
    func everyMethod(backend: TestBackend) async throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = ProxyClient(proxy.address)
        defer { c.close() }
        #expect(try await c.healthCheck())
        #expect(try await c.saveTask(Self.task("t1")) == "t1")
        #expect(try await c.saveTask(Self.task("m1", agent: "mail")) == "m1")
        #expect(try await c.getTask("t1")?["status"] == "pending")
        #expect(try await c.getTask("missing") == nil)
        #expect(try await c.listTasks(agentName: "news").map { $0["id"] } == ["t1"])
        #expect(try await c.listTasks(limit: 1, offset: 1).count == 1)
        let ran = try #require(Timestamp(rfc3339: "2026-11-25T09:00:05.123456Z"))
        #expect(try await c.updateTaskStatus("t1", status: "running", lastRun: ran))
        #expect(try await c.updateTaskStatus("missing", status: "running") == false)
        #expect(try await c.getTask("t1")?["last_run"] == "2026-11-25T09:00:05.123456Z")
        #expect(try await c.listTasks(status: "running").count == 1)

        let first = try await c.saveLog(taskID: "t1", level: "info", message: "started", metadata: ["step": 1])
        try await c.saveLog(taskID: "t1", level: "ERROR", message: "failed")
        let logs = try await c.queryLogs(taskID: "t1")
        #expect(logs.map { $0["message"] } == ["failed", "started"])
        #expect(logs.last?["id"] == .string(first))
        #expect(try await c.queryLogs(level: "ERROR").count == 1)
        #expect(try await c.queryLogs(startTime: Timestamp(rfc3339: "2000-01-01T00:00:00Z"), endTime: .now(), limit: 1).count == 1)
        #expect(try await c.deleteOldLogs(before: try #require(Timestamp(rfc3339: "2000-01-01T00:00:00Z"))) == 0)
        #expect(try await c.deleteOldLogs(before: Timestamp(microseconds: Timestamp.now().microseconds + 60_000_000)) == 2)

        try await c.saveMetadata("schema", ["v": 3])
        #expect(try await c.getMetadata("schema") == ["v": 3])
        #expect(try await c.getMetadata("nothing") == .null)

        #expect(try await c.cacheSet("response:1", ["text": "hi"]))
        #expect(try await c.cacheGet("response:1") == ["text": "hi"])
        #expect(try await c.cacheExists("response:1"))
        try await c.cacheSet("response:2", 2, ttl: 60)
        #expect(try await c.cacheClearPattern("response:*") == 2)
        #expect(try await c.cacheDelete("response:1") == false)

        #expect(try await c.deleteTask("t1"))
        #expect(try await c.deleteTask("t1") == false)
    }

    @Test("the proxy's errors are thrown as ProxyError, with their data")
    func errors() async throws {
        let proxy = try ProxyProcess()
        let c = ProxyClient(proxy.address)
        defer { c.close() }
        await #expect(throws: ProxyError.invalidParams(field: "task.agent_name", reason: "is required")) {
            try await c.saveTask(["id": "x"])
        }
        do {
            try await c.saveLog(taskID: "missing", level: "INFO", message: "m")
            Issue.record("expected not found")
        } catch let error as ProxyError {
            guard case .notFound(let detail) = error else { throw error }
            #expect(detail.contains("missing") && error.code == -32001 && !error.isRetryable)
        }
        await #expect(throws: ProxyError.methodNotFound("no.such.method")) { try await c.call("no.such.method") }
        do {
            _ = try await c.call("commit_transaction", ["transaction": "nope"])
            Issue.record("expected a transaction error")
        } catch let error as ProxyError {
            #expect(error.code == -32004)
        }
        #expect(try await c.healthCheck())  // the connection is still good
        #expect(ProxyError(code: -32003, message: "Backend unavailable: busy", data: ["retry_after_ms": 250, "retryable": true])
                == .backendUnavailable("busy", retryAfterMs: 250))
        #expect(ProxyError(code: -32003, message: "Backend unavailable: busy", data: nil)?.isRetryable == true)
    }

    @Test("claims and leases: claim, renew, complete; only the holder", arguments: TestBackend.allCases)
    func claims(backend: TestBackend) async throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = ProxyClient(proxy.address)
        defer { c.close() }
        try await c.saveTask(["id": "job", "agent_name": "a", "task_prompt": "p", "schedule_type": "interval", "schedule_value": "PT1H",
                              "next_run": "2026-01-01T00:00:00Z"])
        let claimed = try await c.claimDueTasks(worker: "w1", limit: 5, leaseSeconds: 30)
        #expect(claimed.map { $0["id"] } == ["job"] && claimed.first?["attempts"] == 1)
        #expect(try await c.claimDueTasks(worker: "w2").isEmpty)
        #expect(try await c.renewLease(taskID: "job", worker: "w1")["lease_owner"] == "w1")
        do {
            try await c.completeTask(taskID: "job", worker: "w2", status: "completed")
            Issue.record("a non-holder completed the task")
        } catch let error as ProxyError {
            guard case .conflict(_, _, let fields) = error else { throw error }
            #expect(fields?["owner"] == "w1" && fields?["status"] == "running")
        }
        let done = try await c.completeTask(taskID: "job", worker: "w1", status: "completed", result: ["n": 3])
        // Fixed rate: the 2026-01-01 slot plus whole hours, the first after now.
        #expect(done["status"] == "pending" && done["last_result"] == ["n": 3])
        let next = try #require(done["next_run"]?.stringValue.flatMap { Timestamp(rfc3339: $0) })
        #expect(next > .now() && next.microseconds % 3_600_000_000 == 0)
        let ended = try await c.claimDueTasks(worker: "w3", now: next)
        #expect(ended.count == 1)
        #expect(try await c.completeTask(taskID: "job", worker: "w3", status: "failed", nextRun: .none)["status"] == "failed")
        // An agent's running limit.
        for id in ["m1", "m2"] {
            try await c.saveTask(["id": .string(id), "agent_name": "limited", "task_prompt": "p", "schedule_type": "once",
                                  "schedule_value": "2026-01-01T00:00:00Z"])
        }
        #expect(try await c.claimDueTasks(worker: "w1", limit: 2, agentName: "limited", maxRunning: 1).map { $0["id"] } == ["m1"])
        #expect(try await c.claimDueTasks(worker: "w2", limit: 2, agentName: "limited", maxRunning: 1).isEmpty)
        #expect(try await c.countTasks(agentName: "limited", leasedAt: .now()) == 1)
        #expect(try await c.claimDueTasks(worker: "w3", limit: 2, agentPrefix: "limi").map { $0["id"] } == ["m2"])
    }

    @Test("vector store: collections, adds in and out of transactions, keyword, vector and filtered search, deletes", arguments: TestBackend.allCases)
    func vectorStore(backend: TestBackend) async throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = ProxyClient(proxy.address)
        defer { c.close() }
        #expect(try await c.createCollection("kb", dimension: 2, metric: "l2"))
        #expect(try await c.createCollection("kb", dimension: 2, metric: "l2") == false)
        let ids = try await c.addDocuments([VectorDocumentInput(id: "a", "printer setup guide", metadata: ["team": "it"], embedding: [0, 0]),
                                            VectorDocumentInput(id: "b", "printer paper order", metadata: ["team": "ops"], embedding: [3, 4])],
                                           collection: "kb")
        #expect(ids == ["a", "b"])
        let near = try await c.search(embedding: [3, 3], topK: 2, collection: "kb")
        #expect(near.map(\.id) == ["b", "a"] && abs(near[0].score - 1) < 1e-6 && near[0].matched == ["vector"])
        #expect(try await c.search("printer", filter: ["team": "it"], collection: "kb").map(\.id) == ["a"])
        try await c.withTransaction { tx in
            try await tx.addDocuments([VectorDocumentInput(id: "c", "printer driver", embedding: [1, 1])], collection: "kb")
            #expect(try await tx.deleteDocuments(["a"], collection: "kb") == 1)
        }
        #expect(try await c.search(embedding: [0, 0], topK: 5, collection: "kb").map(\.id) == ["c", "b"])
        #expect(try await c.listCollections().first?["count"] == 2)
        #expect(try await c.dropCollection("kb"))
    }

    @Test("subscribe: each change in commit order; cancel unsubscribes; a restart is a lagged event", arguments: TestBackend.allCases)
    func subscriptions(backend: TestBackend) async throws {
        let proxy = try ProxyProcess(backend: backend)
        let watcher = ProxyClient(proxy.address, connectTimeout: 15), writer = ProxyClient(proxy.address)
        defer { watcher.close(); writer.close() }
        let events = try await watcher.subscribe(topics: ["tasks", "logs"], agentName: "news")
        try await writer.saveTask(Self.task("e1"))
        try await writer.saveTask(Self.task("other", agent: "weather"))
        _ = try await writer.updateTaskStatus("e1", status: "running")
        _ = try await writer.saveLog(taskID: "e1", level: "INFO", message: "working")
        _ = try await writer.deleteTask("e1")
        var seen: [String] = []
        for try await event in events {
            let detail = event["task"]?.objectValue?["status"]?.stringValue ?? event["log"]?.objectValue?["message"]?.stringValue ?? "?"
            seen.append("\(event["op"]?.stringValue ?? "?"):\(detail)")
            if event["op"] == "deleted" { break }
        }
        #expect(seen == ["created:pending", "updated:running", "created:working", "deleted:running"])

        proxy.stop()
        try proxy.start()
        let lagged = try #require(try await events.next())
        #expect(lagged["op"] == "lagged" && lagged["reason"]?.stringValue?.contains("lost") == true)
        try await writer.saveTask(Self.task("after"))
        #expect(try await events.next()?["task"]?.objectValue?["id"] == "after")
        await events.cancel()
        #expect(try await events.next() == nil)
        #expect(try await writer.call("server.status").objectValue?["events"]?.objectValue?["subscriptions"] == 0)
    }

    @Test("1,000 concurrent calls share one connection", arguments: TestBackend.allCases)
    func thousandConcurrentCalls(backend: TestBackend) async throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = ProxyClient(proxy.address)
        defer { c.close() }
        try await c.saveTask(Self.task("p"))
        let accepted = try await c.call("server.status").objectValue?["connections"]?.objectValue?["accepted"]
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<1000 {
                group.addTask {
                    if i % 2 == 0 { return try await c.saveLog(taskID: "p", level: "INFO", message: "line \(i)") }
                    return try await c.getTask("p")?["id"]?.stringValue ?? "?"
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(ids.filter { $0 != "p" }).count == 500 && ids.filter { $0 == "p" }.count == 500)
        #expect(try await c.queryLogs(taskID: "p", limit: 1000).count == 500)
        #expect(try await c.call("server.status").objectValue?["connections"]?.objectValue?["accepted"] == accepted)
    }

    @Test("reconnects after the proxy restarts")
    func reconnects() async throws {
        let proxy = try ProxyProcess()
        let c = ProxyClient(proxy.address, connectTimeout: 15)
        defer { c.close() }
        try await c.saveTask(Self.task("kept"))
        proxy.stop()
        let restart = Thread { usleep(500_000); try? proxy.start() }
        restart.start()
        try await c.saveLog(taskID: "kept", level: "INFO", message: "after the restart")  // waits for the proxy
        #expect(try await c.queryLogs(taskID: "kept").map { $0["message"] } == ["after the restart"])

        proxy.stop()
        let impatient = ProxyClient(proxy.address, connectTimeout: 0.3)
        await #expect(throws: ClientError.self) { try await impatient.healthCheck() }
    }

    @Test("a first connect to a proxy that is not there fails within about a second, naming the address")
    func firstConnectFailsFast() async throws {
        let dir = ProxyProcess.makeTempDir()
        let port = freeLoopbackPort()
        for address in [ProxyAddress.unix(dir + "/absent.sock"), .tcp(host: "127.0.0.1", port: port)] {
            let client = ProxyClient(address)  // connectTimeout stays 10 s: it is for reconnects
            let started = MonotonicClock.seconds()
            do {
                _ = try await client.healthCheck()
                Issue.record("connected to \(address)")
            } catch let error as ClientError {
                #expect(error.description.contains("cannot connect to"), "\(error)")
            }
            #expect(MonotonicClock.seconds() - started < 4, "about a second (1 s of retries), not connectTimeout's 10 s")
        }
    }

    @Test("withTransaction commits on success and rolls back on a throw", arguments: TestBackend.allCases)
    func transactions(backend: TestBackend) async throws {
        // An async test resumes on the shared cooperative threads, which the
        // blocking tests running beside it can hold for longer than the
        // default 30 s idle timeout on a loaded machine: that is not under test here.
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig("server:\n  transaction_timeout: 600\n")])
        let c = ProxyClient(proxy.address)
        defer { c.close() }
        try await c.withTransaction { tx in
            try await tx.saveTask(Self.task("a"))
            try await tx.saveLog(taskID: "a", level: "INFO", message: "inside")
            #expect(try await tx.getTask("a")?["id"] == "a")
        }
        #expect(try await c.getTask("a")?["id"] == "a")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await c.withTransaction { tx in
                try await tx.saveTask(Self.task("b"))
                try await tx.updateTaskStatus("a", status: "cancelled")
                throw Boom()
            }
        }
        #expect(try await c.getTask("b") == nil)
        #expect(try await c.getTask("a")?["status"] == "pending")
    }
}
