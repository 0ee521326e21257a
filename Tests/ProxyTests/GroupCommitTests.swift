import Foundation
import ProxyCore
import Spawn
import StorageProxyClient
import Testing

/// PostgreSQL's group commit (`PGGroupCommit`) keeps every guarantee of a
/// write committed alone: its own failure, durability once acknowledged,
/// per-connection order, read-your-writes, no lost update.
@Suite("PostgreSQL: group commit")
struct GroupCommitTests {
    /// Every client sends one line at once, then each reads its answer: the writes meet in the proxy together.
    static func together(_ clients: [LineClient], _ line: (Int) -> String) throws -> [JSONObject] {
        for (i, c) in clients.enumerated() { try c.send(line(i) + "\n") }
        return try clients.map { c in
            let text = try #require(try c.readLine())
            return try #require(try JSONParser.parse(text).objectValue)
        }
    }

    /// The same, reading only the answers of the clients not `ignoring` (nil in their place: read later).
    static func together(_ clients: [LineClient], _ line: (Int) -> String, ignoring: (Int) -> Bool) throws -> [JSONObject?] {
        for (i, c) in clients.enumerated() { try c.send(line(i) + "\n") }
        return try clients.enumerated().map { i, c in
            if ignoring(i) { return nil }
            let text = try #require(try c.readLine())
            return try JSONParser.parse(text).objectValue
        }
    }

    static func groupFigures(_ c: LineClient) throws -> JSONObject {
        try #require(try c.result("server.status").objectValue?["storage"]?.objectValue?["group_commit"]?.objectValue)
    }

    @Test("writes of many connections share commits; a write that fails in a shared commit fails alone, the others are kept")
    func failureStaysWithItsCall() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let admin = try proxy.client()
        _ = try admin.result("save_task", ["task": sampleTask(id: "t")])
        let clients = try (0..<32).map { _ in try proxy.client() }
        var kept = 0, refused = 0
        for round in 0..<20 {
            let answers = try Self.together(clients) { i in
                let task = (i + round) % 8 == 0 ? "missing-\(i)" : "t"  // every eighth names no task
                return #"{"jsonrpc":"2.0","id":\#(i),"method":"save_log","params":{"task_id":"\#(task)","level":"INFO","message":"r\#(round)c\#(i)"}}"#
            }
            for (i, a) in answers.enumerated() {
                if (i + round) % 8 == 0 {
                    #expect(a["error"]?.objectValue?["code"] == -32001, "\(a)")
                    refused += 1
                } else {
                    #expect(a["result"]?.stringValue != nil, "\(a)")
                    kept += 1
                }
            }
        }
        let stored = try admin.result("query_logs", ["task_id": "t", "limit": 1000]).arrayValue ?? []
        #expect(stored.count == kept && refused == 80)
        let messages = Set(stored.compactMap { $0.objectValue?["message"]?.stringValue })
        #expect(messages.count == kept, "each acknowledged write stored once")
        let figures = try Self.groupFigures(admin)
        #expect((figures["largest_group"]?.intValue ?? 0) > 1, "writes shared a commit: \(figures)")
        #expect((figures["reruns"]?.intValue ?? 0) >= 1, "a failure made its group run again without it: \(figures)")
    }

    @Test("group_commit: false: each write commits alone, failures stay with their calls all the same")
    func groupCommitOff() throws {
        let config = try writeConfig("storage:\n  postgresql:\n    group_commit: false\n")
        let proxy = try ProxyProcess(backend: .postgresql, arguments: ["--config", config])
        let admin = try proxy.client()
        _ = try admin.result("save_task", ["task": sampleTask(id: "t")])
        let clients = try (0..<16).map { _ in try proxy.client() }
        let answers = try Self.together(clients) { i in
            #"{"jsonrpc":"2.0","id":\#(i),"method":"save_log","params":{"task_id":"\#(i % 4 == 0 ? "none" : "t")","level":"INFO","message":"m"}}"#
        }
        #expect(answers.enumerated().allSatisfy { i, a in i % 4 == 0 ? a["error"] != nil : a["result"] != nil }, "\(answers)")
        #expect(try admin.result("query_logs", ["task_id": "t"]).arrayValue?.count == 12)
        let storage = try #require(try admin.result("server.status").objectValue?["storage"]?.objectValue)
        #expect(storage["group_commit"] == .null, "\(storage)")
    }

    @Test("per connection: pipelined writes apply in order and each read sees the writes before it")
    func orderAndReadYourWrites() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "x")])
        // Other connections keep the group committer busy meanwhile.
        let stop = Locked(false)
        let noise = (0..<8).map { n in
            Thread {
                guard let w = try? proxy.client() else { return }
                var i = 0
                while !stop.withLock({ $0 }) {
                    i += 1
                    _ = try? w.call("save_log", ["task_id": "x", "level": "DEBUG", "message": .string("noise \(n).\(i)")])
                }
            }
        }
        noise.forEach { $0.start() }
        defer { stop.withLock { $0 = true } }
        for round in 0..<30 {
            let lines = [
                #"{"jsonrpc":"2.0","id":1,"method":"update_task_status","params":{"task_id":"x","status":"a\#(round)"}}"#,
                #"{"jsonrpc":"2.0","id":2,"method":"get_task","params":{"task_id":"x"}}"#,
                #"{"jsonrpc":"2.0","id":3,"method":"save_log","params":{"task_id":"x","level":"INFO","message":"mine \#(round)"}}"#,
                #"{"jsonrpc":"2.0","id":4,"method":"update_task_status","params":{"task_id":"x","status":"b\#(round)"}}"#,
                #"{"jsonrpc":"2.0","id":5,"method":"get_task","params":{"task_id":"x"}}"#,
                #"{"jsonrpc":"2.0","id":6,"method":"query_logs","params":{"task_id":"x","level":"INFO","limit":1}}"#,
            ]
            let answers = try c.exchange(lines.joined(separator: "\n") + "\n", expect: lines.count)
            let status = answers.map { $0.objectValue?["result"]?.objectValue?["status"] }
            #expect(status[1] == .string("a\(round)") && status[4] == .string("b\(round)"), "\(answers)")
            let newest = answers[5].objectValue?["result"]?.arrayValue?.first?.objectValue?["message"]
            #expect(newest == .string("mine \(round)"), "\(answers[5])")
        }
    }

    @Test("two connections merging different fields of one task at once: no update is lost")
    func concurrentMergesLoseNothing() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let admin = try proxy.client()
        _ = try admin.result("save_task", ["task": sampleTask(id: "m")])
        let rounds = 60
        let failures = Locked(0)
        let writers = [("task_prompt", "prompt"), ("schedule_value", "sv")].map { field, prefix in
            Thread {
                guard let w = try? proxy.client() else { return }
                for i in 1...rounds {
                    let value: JSONValue = field == "schedule_value" ? .string("\(i % 60) 9 * * *") : .string("\(prefix) \(i)")
                    if (try? w.result("save_task", ["task": ["id": "m", .init(field): value]])) != "m" { failures.withLock { $0 += 1 } }
                }
                failures.withLock { $0 += 1000 }  // done
            }
        }
        writers.forEach { $0.start() }
        while failures.withLock({ $0 }) < 2000 { usleep(10_000) }
        #expect(failures.withLock { $0 } == 2000, "every save_task succeeded")
        let task = try #require(try admin.result("get_task", ["task_id": "m"]).objectValue)
        #expect(task["task_prompt"] == .string("prompt \(rounds)") && task["schedule_value"] == .string("\(rounds % 60) 9 * * *"), "\(task)")
    }

    @Test("a slow statement holds up its own group only: later writes commit in other groups meanwhile")
    func slowStatementHoldsOnlyItsGroup() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let admin = try proxy.client()
        _ = try admin.result("save_task", ["task": sampleTask(id: "slow")])
        _ = try admin.result("save_task", ["task": sampleTask(id: "quick")])
        let db = try TestPostgres.database(named: proxy.dir)
        let trigger = try TestPostgres.psql(db, """
            CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;
            CREATE TRIGGER slow BEFORE UPDATE ON tasks FOR EACH ROW WHEN (NEW.status = 'sleepy') EXECUTE FUNCTION slow_down();
            """)
        try #require(trigger.status == 0, "\(trigger.err)")
        let slowAnswered = Locked<Double?>(nil)
        let slow = try proxy.client()
        let slowThread = Thread {
            _ = try? slow.result("update_task_status", ["task_id": "slow", "status": "sleepy"])
            slowAnswered.withLock { $0 = Date().timeIntervalSince1970 }
        }
        slowThread.start()
        usleep(200_000)  // the slow update is in PostgreSQL
        let writer = try proxy.client()
        for i in 0..<20 { #expect(try writer.result("update_task_status", ["task_id": "quick", "status": .string("s\(i)")]) == true) }
        let quickDone = Date().timeIntervalSince1970
        #expect(slowAnswered.withLock { $0 } == nil, "twenty writes committed while the slow one still ran")
        while slowAnswered.withLock({ $0 }) == nil { usleep(20_000) }
        #expect((slowAnswered.withLock { $0 } ?? 0) > quickDone)
        #expect(try admin.result("get_task", ["task_id": "slow"]).objectValue?["status"] == "sleepy")
    }

    @Test("writes waiting for a row a client transaction holds leave their groups: other writes commit meanwhile")
    func lockWaitLeavesTheGroup() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let admin = try proxy.client()
        for id in ["held", "free"] { _ = try admin.result("save_task", ["task": sampleTask(id: id)]) }
        let holder = try proxy.client()
        let tx = try holder.result("begin_transaction")
        _ = try holder.result("update_task_status", ["task_id": "held", "status": "mine", "transaction": tx])
        // As many waiting writes as there are groups (commit_groups: 2), each on its own connection.
        let waiters = try (0..<2).map { _ in try proxy.client() }
        for (i, w) in waiters.enumerated() {
            try w.send(#"{"jsonrpc":"2.0","id":1,"method":"update_task_status","params":{"task_id":"held","status":"w\#(i)"}}"# + "\n")
        }
        usleep(300_000)  // both are waiting in PostgreSQL
        let other = try LineClient(proxy.address, timeoutSeconds: 10)
        for i in 0..<10 {
            #expect(try other.result("update_task_status", ["task_id": "free", "status": .string("s\(i)")]) == true)
        }
        #expect(try other.result("get_task", ["task_id": "free"]).objectValue?["status"] == "s9")
        _ = try holder.result("commit_transaction", ["transaction": tx])
        for w in waiters {
            let answer = try #require(try w.readLine())
            #expect(answer.contains(#""result":true"#), "\(answer)")
        }
        let status = try admin.result("get_task", ["task_id": "held"]).objectValue?["status"]?.stringValue ?? ""
        #expect(status.hasPrefix("w"), "the waiting writes applied after the transaction: \(status)")
    }

    @Test("logs waiting for a task a client transaction locked (FOR UPDATE) leave their shared insert: other logs commit meanwhile")
    func blockedRowsOfAManyRowInsert() throws {
        let proxy = try ProxyProcess(backend: .postgresql)
        let admin = try proxy.client()
        for id in ["held", "free"] { _ = try admin.result("save_task", ["task": sampleTask(id: id)]) }
        let holder = try proxy.client()
        let tx = try holder.result("begin_transaction")
        _ = try holder.result("save_task", ["task": ["id": "held", "task_prompt": "locked"], "transaction": tx])  // SELECT … FOR UPDATE
        let writers = try (0..<6).map { _ in try proxy.client() }
        let answers = try Self.together(writers) { i in
            #"{"jsonrpc":"2.0","id":\#(i),"method":"save_log","params":{"task_id":"\#(i % 2 == 0 ? "held" : "free")","level":"INFO","message":"m\#(i)"}}"#
        } ignoring: { i in i % 2 == 0 }  // the held task's logs answer after the commit
        let free = answers.compactMap { $0 }
        #expect(free.count == 3 && free.allSatisfy { $0["result"]?.stringValue != nil }, "\(answers)")
        #expect(try admin.result("query_logs", ["task_id": "free"]).arrayValue?.count == 3)
        _ = try holder.result("commit_transaction", ["transaction": tx])
        for (i, w) in writers.enumerated() where i % 2 == 0 {
            let line = try #require(try w.readLine())
            #expect(line.contains(#""result":"#), "\(line)")
        }
        #expect(try admin.result("query_logs", ["task_id": "held"]).arrayValue?.count == 3)
    }

    @Test("an acknowledged write is in the database after kill -9 of the proxy and an immediate stop of PostgreSQL (fsync on)")
    func acknowledgedSurvivesCrashes() throws {
        let dir = ProxyProcess.makeTempDir()
        let script = protocolFolder.deletingLastPathComponent().appendingPathComponent("scripts/test-services").path
        func services(_ verb: String) throws {
            let run = try ChildProcess.run("/usr/bin/env", ["STORAGE_PROXY_TEST_PG_FSYNC=on", script, verb, dir])
            try #require(run.status == 0, "test-services \(verb) failed: \(run.err)")
        }
        try services("start")
        defer { try? services("stop") }
        let env = try String(contentsOfFile: "\(dir)/env", encoding: .utf8)
        let url = try #require(env.split(separator: "\"").dropFirst().first.map(String.init))
        let proxy = try ProxyProcess(backend: .postgresql, arguments: ["--database", url])
        _ = try proxy.client().result("save_task", ["task": sampleTask(id: "d")])

        let acknowledged = Locked<[String]>([])
        let stop = Locked(false)
        let writers = (0..<16).map { w in
            Thread {
                guard let c = try? proxy.client() else { return }
                var i = 0
                while !stop.withLock({ $0 }) {
                    i += 1
                    let id = "w\(w)-\(i)"
                    guard let answer = try? c.call("save_log", ["id": .string(id), "task_id": "d", "level": "INFO", "message": "m"]) else { return }
                    if answer["result"]?.stringValue == id { acknowledged.withLock { $0.append(id) } }
                }
            }
        }
        writers.forEach { $0.start() }
        while acknowledged.withLock({ $0.count }) < 2000 { usleep(10_000) }
        proxy.stop(signal: SIGKILL)   // groups in flight die with it
        try services("pg-down")       // pg_ctl -m immediate: no shutdown checkpoint, recovery from the WAL
        stop.withLock { $0 = true }
        try services("pg-up")
        let acked = acknowledged.withLock { $0 }
        let stored = try TestPostgres.psql(url, "SELECT id FROM logs")
        let ids = Set(stored.out.split(separator: "\n").map(String.init))
        let lost = acked.filter { !ids.contains($0) }
        #expect(lost.isEmpty, "\(lost.count) of \(acked.count) acknowledged writes missing: \(lost.prefix(5))")
        #expect(ids.count >= acked.count)
    }
}
