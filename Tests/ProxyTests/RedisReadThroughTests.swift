import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The read-through figures a proxy reports in `server.status`.
func readThrough(_ c: LineClient) throws -> JSONObject {
    try #require(try c.result("server.status").objectValue?["storage"]?.objectValue?["read_through"]?.objectValue)
}

func figure(_ o: JSONObject, _ name: String) -> Int64 { o[name]?.intValue ?? -1 }

/// Redis in front of storage: hits, fills, invalidation on every write path,
/// across proxies sharing one PostgreSQL and one Redis.
@Suite("Redis read-through")
struct RedisReadThroughTests {
    /// Two proxies on one PostgreSQL database and one Redis key prefix.
    func pair() throws -> (ProxyProcess, ProxyProcess) {
        let prefix = TestRedis.freshPrefix()
        let a = try ProxyProcess(backend: .postgresql, arguments: try TestRedis.serveArguments(prefix: prefix))
        let b = try ProxyProcess(backend: .postgresql,
                                 arguments: try TestRedis.serveArguments(prefix: prefix) + ["--database", try TestPostgres.database(named: a.dir)])
        return (a, b)
    }

    @Test("a second read is a hit; entries carry the seed's TTLs", arguments: TestBackend.allCases)
    func hitsAndTTLs(backend: TestBackend) throws {
        let prefix = TestRedis.freshPrefix()
        let proxy = try ProxyProcess(backend: backend, arguments: try TestRedis.serveArguments(prefix: prefix))
        try withExtendedLifetime(proxy) {
            let c = try proxy.client()
            // The proxy listens only once its first connects are done: every pool connection is ready.
            let cache = try c.result("server.status").objectValue?["cache"]?.objectValue
            #expect(cache?["ready"] == 2 && cache?["connections"] == 2, "\(String(describing: cache))")
            _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
            let before = try readThrough(c)
            for _ in 0..<3 { #expect(try c.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1") }
            for _ in 0..<2 { #expect(try c.result("list_tasks", ["agent_name": "agent-a"]).arrayValue?.count == 1) }
            #expect(try c.result("get_task", ["task_id": "absent"]) == .null)
            #expect(try c.result("get_task", ["task_id": "absent"]) == .null)  // absence is cached too
            let after = try readThrough(c)
            #expect(figure(after, "hits") - figure(before, "hits") == 4)
            #expect(figure(after, "storage_reads") - figure(before, "storage_reads") == 3)
            let taskTTL = Int(try TestRedis.cli(["TTL", "\(prefix)rt:task:t1"])) ?? -1
            let listTTL = Int(try TestRedis.cli(["TTL", "\(prefix)rt:tasks:agent-a:*:100:0"])) ?? -1
            #expect((290...300).contains(taskTTL))
            #expect((50...60).contains(listTTL))
        }
    }

    @Test("every write path invalidates, for the other proxy too; a rollback does not")
    func invalidationOnEveryWritePath() throws {
        let (a, b) = try pair()
        try withExtendedLifetime((a, b)) {
            let ca = try a.client(), cb = try b.client()
            func seen() throws -> (String?, Int?) {
                let task = try cb.result("get_task", ["task_id": "w"]).objectValue
                return (task?["task_prompt"]?.stringValue ?? task?["status"]?.stringValue,
                        try cb.result("list_tasks", ["status": "pending"]).arrayValue?.count)
            }
            _ = try ca.result("save_task", ["task": sampleTask(id: "w")])
            _ = try seen(); _ = try seen()  // cached in Redis now

            _ = try ca.result("save_task", ["task": ["id": "w", "task_prompt": "saved"]])
            #expect(try seen().0 == "saved")

            _ = try ca.result("update_task_status", ["task_id": "w", "status": "running"])
            #expect(try cb.result("get_task", ["task_id": "w"]).objectValue?["status"] == "running")
            #expect(try cb.result("list_tasks", ["status": "pending"]).arrayValue?.count == 0)

            let tx = try ca.result("begin_transaction")
            _ = try ca.result("update_task_status", ["task_id": "w", "status": "in-tx", "transaction": tx])
            #expect(try cb.result("get_task", ["task_id": "w"]).objectValue?["status"] == "running")  // not committed
            _ = try ca.result("commit_transaction", ["transaction": tx])
            #expect(try cb.result("get_task", ["task_id": "w"]).objectValue?["status"] == "in-tx")

            let hitsBefore = figure(try readThrough(cb), "hits")
            let rolled = try ca.result("begin_transaction")
            _ = try ca.result("update_task_status", ["task_id": "w", "status": "rolled-back", "transaction": rolled])
            _ = try ca.result("rollback_transaction", ["transaction": rolled])
            #expect(try cb.result("get_task", ["task_id": "w"]).objectValue?["status"] == "in-tx")
            #expect(figure(try readThrough(cb), "hits") == hitsBefore + 1)  // the entry survived the rollback

            _ = try ca.result("delete_task", ["task_id": "w"])
            #expect(try cb.result("get_task", ["task_id": "w"]) == .null)
            #expect(try cb.result("list_tasks").arrayValue?.count == 0)
        }
    }

    @Test("two proxies, a writer and readers racing: no read older than the last acknowledged write")
    func noStaleReadsUnderRace() throws {
        let (a, b) = try pair()
        try withExtendedLifetime((a, b)) {
            let writer = try a.client()
            _ = try writer.result("save_task", ["task": sampleTask(id: "race", extra: [("status", "0")])])
            let acked = Locked(0), done = Locked(false), stale = Locked<[String]>([]), reads = Locked(0)
            let readers = (0..<3).map { n in
                Thread {
                    guard let c = try? (n == 0 ? a : b).client() else { return }
                    while !done.withLock({ $0 }) {
                        let floor = acked.withLock { $0 }
                        let viaList = n == 2
                        let r = viaList ? try? c.result("list_tasks", ["agent_name": "agent-a"]).arrayValue?.first
                                        : try? c.result("get_task", ["task_id": "race"])
                        let seen = Int(r?.objectValue?["status"]?.stringValue ?? "") ?? -1
                        reads.withLock { $0 += 1 }
                        if seen < floor { stale.withLock { $0.append("read \(seen) after \(floor) was acknowledged") } }
                    }
                }
            }
            readers.forEach { $0.start() }
            // At least 1,500 writes, and on until the readers raced them 1,500 times
            // (however slowly a loaded machine schedules them).
            var i = 0
            while i < 1500 || (reads.withLock { $0 } < 1500 && i < 100_000) {
                i += 1
                _ = try writer.result("update_task_status", ["task_id": "race", "status": .string(String(i))])
                acked.withLock { $0 = i }
            }
            done.withLock { $0 = true }
            usleep(200_000)
            let staleReads = stale.withLock { $0 }
            #expect(staleReads.isEmpty, "\(staleReads.count) stale reads, first: \(staleReads.prefix(5))")
            #expect(reads.withLock { $0 } >= 1500)
            let rb = try readThrough(try b.client())
            #expect(figure(rb, "hits") > 0)  // the cache did serve some of them
        }
    }

    @Test("concurrent misses on one key cost one storage read", arguments: TestBackend.allCases)
    func singleFlight(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: try TestRedis.serveArguments(prefix: TestRedis.freshPrefix()))
        try withExtendedLifetime(proxy) {
            let c = try proxy.client()
            _ = try c.result("save_task", ["task": sampleTask(id: "hot")])
            let before = try readThrough(c)
            let n = 100
            let lines = (1...n).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"get_task","params":{"task_id":"hot"}}"# }
            try c.send(lines.joined(separator: "\n") + "\n")  // all in flight at once
            for _ in 1...n {
                let line = try #require(try c.readLine())
                #expect(line.contains(#""id":"hot""#))
            }
            let after = try readThrough(c)
            // One read from storage; every other call shared it while it was in flight, or (past
            // server.max_reads_in_flight, which holds the rest of the pipeline back) found its entry.
            #expect(figure(after, "storage_reads") - figure(before, "storage_reads") == 1)
            let shared = figure(after, "shared_reads") - figure(before, "shared_reads")
            #expect(shared >= 1 && shared + figure(after, "hits") - figure(before, "hits") == Int64(n - 1))
        }
    }
}
