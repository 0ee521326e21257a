import ArgumentParser
import Foundation
import ProxyBench
import ProxyCore
import StorageProxyClient

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the proxy against a bare libuv line-echo over the same socket kind, in one run.",
        discussion: """
            Starts its own proxy (this binary, `serve`, a fresh SQLite file in a temp folder) unless --socket \
            names a running one, and an in-process echo server. For each workload it drives C connections × W \
            pipelined requests for D seconds and prints requests/s, p50/p99 latency, and proxy/echo. \
            Build with -c release for meaningful figures.
            """)

    @Option(help: "Connections.") var connections = 64
    @Option(help: "Requests in flight per connection.") var pipeline = 16
    @Option(help: "Seconds per measurement.") var duration = 3.0
    @Option(help: "Comma-separated: health_check,get_task,save_task,save_log,mixed,zipf,claims,events,vector_scan (claims: --claim-workers schedulers claim and complete; events: --subscribers read every task change while --connections writers change tasks).")
    var workloads = "health_check,get_task,save_task,save_log,mixed"
    @Option(help: "A running proxy's socket (default: start one).") var socket: String?
    @Option(help: "synchronous setting of the SQLite file the bench's own proxy uses.") var synchronous = "FULL"
    @Option(help: "Run the bench's own proxy on this PostgreSQL (postgresql://…) instead of SQLite.") var database: String?
    @Option(help: "PostgreSQL pool_size for the bench's own proxy.") var poolSize = 20
    @Option(help: "PostgreSQL max_overflow for the bench's own proxy.") var maxOverflow = 40
    @Option(help: "PostgreSQL pipeline_depth for the bench's own proxy (1: one statement per connection at a time).") var pipelineDepth = 8
    @Option(help: "PostgreSQL commit_groups for the bench's own proxy (0: group commit off, each write commits alone).") var commitGroups = 2
    @Flag(help: "Count the proxy's heap allocations per request (preloads libAllocationCounter.so, built next to this binary, into the bench's own proxy; the counting itself costs a little).")
    var countAllocations = false
    @Flag(help: "With --database: also run pgbench with the same SQL and connections (get_task, save_log, claims).") var pgbench = false
    @Option(help: "claims: competing workers (a connection and a thread each).") var claimWorkers = 8
    @Option(help: "events: subscriber connections (each gets every task change).") var subscribers = 100
    @Option(help: "events: task writes per second, one measurement each (comma-separated).") var eventRates = "500,1000,2000,4000"
    @Option(help: "The bench's own proxy caches in this Redis (redis://HOST:PORT) instead of in process.") var cache: String?
    @Flag(help: "With --cache: also run redis-benchmark GET with the same connections and pipelining (get_task).") var redisBenchmark = false

    func run() async throws {
        let dir = NSTemporaryDirectory() + "storage-proxy-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var server: PrivateProxy?
        let proxySocket = socket ?? "\(dir)/proxy.sock"
        if socket == nil { server = try await startProxy(dir: dir, socket: proxySocket) }
        defer { server?.stop() }
        let echoSocket = "\(dir)/echo.sock"
        try LineEchoServer.start(path: echoSocket)

        let taskCount = 1000, agents = 10
        let client = ProxyClient(.unix(proxySocket))
        defer { client.close() }
        try await seed(client, tasks: taskCount, agents: agents)
        let backend = database != nil ? "PostgreSQL (\(PgBench.durability(url: database!)), pool_size \(poolSize), max_overflow \(maxOverflow), pipeline_depth \(pipelineDepth), "
            + (commitGroups == 0 ? "group commit off" : "commit_groups \(commitGroups)") + ")" : "SQLite synchronous=\(synchronous)"
        print("storage-proxy bench: \(connections) connections × \(pipeline) pipelined, \(duration) s each, Unix socket"
              + (socket == nil ? ", \(backend)" : ""))
        print(pad("workload", 14) + pad("proxy req/s", 13) + pad("p50 µs", 9) + pad("p99 µs", 9) + pad("echo req/s", 12) + pad("proxy/echo", 11) + pad("errors", 7) + "allocs/req")
        for name in workloads.split(separator: ",").map(String.init) {
            if name == "claims" {
                try claims(socket: proxySocket, dir: dir)
                continue
            }
            if name == "vector_scan" {
                let f = try VectorScan(count: 100_000, dimension: 384, k: 10, duration: duration).run()
                print(pad("vector_scan", 14) + pad(fmt(f.perSecond), 13) + "exact top-10 queries/s over 100,000 × 384 float32 (in process, "
                      + "one thread; \(f.bytes >> 20) MiB, \(String(format: "%.1f", f.bandwidth / 1e9)) GB/s scanned)")
                continue
            }
            if name == "events" {
                try await events(socket: proxySocket, client: client, tasks: taskCount)
                continue
            }
            let lines = try requestLines(name, tasks: taskCount, agents: agents)
            let groupsBefore = try await groupCommitFigures(client)
            let echo = try LoadDriver(socketPath: echoSocket, connections: connections, pipeline: pipeline, duration: duration).run(lines: lines)
            let allocationsBefore = try await allocations(client)
            let proxy = try LoadDriver(socketPath: proxySocket, connections: connections, pipeline: pipeline, duration: duration).run(lines: lines)
            let perRequest = try await allocations(client).flatMap { after in
                allocationsBefore.map { String(format: "%.1f", Double(after - $0) / Double(max(1, proxy.requests))) }
            } ?? "-"
            print(pad(name, 14) + pad(fmt(proxy.perSecond), 13) + pad(fmt(proxy.p50us), 9) + pad(fmt(proxy.p99us), 9)
                  + pad(fmt(echo.perSecond), 12) + pad(String(format: "%.0f%%", 100 * proxy.perSecond / echo.perSecond), 11)
                  + pad("\(proxy.errors)", 7) + perRequest)
            if let before = groupsBefore, let after = try await groupCommitFigures(client), after.commits > before.commits {
                let commits = after.commits - before.commits, writes = after.writes - before.writes
                print("  group commit: \(fmt(Double(commits))) commits, \(String(format: "%.1f", Double(writes) / Double(commits))) writes each, "
                      + "\(after.reruns - before.reruns) re-runs")
            }
            if redisBenchmark, let cache, name == "get_task" {
                let direct = try RedisBenchmark.getRate(url: cache, connections: connections, pipeline: pipeline, seconds: duration)
                print(pad("  redis GET", 14) + pad(fmt(direct), 13) + "redis-benchmark, \(connections) connections × \(pipeline); proxy/redis "
                      + String(format: "%.0f%%", 100 * proxy.perSecond / direct))
            }
            if name == "zipf", let rt = try await client.call("server.status").objectValue?["storage"]?.objectValue?["read_through"]?.objectValue {
                let hits = Double(rt["hits"]?.intValue ?? 0), misses = Double(rt["misses"]?.intValue ?? 0)
                let reads = Double(rt["storage_reads"]?.intValue ?? 0)
                print("  read-through since start: hit ratio " + String(format: "%.1f%%", 100 * hits / max(1, hits + misses))
                      + ", storage reads \(fmt(reads)) for \(fmt(hits + misses)) cached-path reads ("
                      + String(format: "%.1f%%", 100 * (1 - reads / max(1, hits + misses))) + " saved)")
            }
            if pgbench, let database, let script = PgBench.script(for: name) {
                let direct = try PgBench.run(script: script, url: database, connections: connections, seconds: duration, dir: dir)
                print(pad("  pgbench", 14) + pad(fmt(direct), 13) + "same SQL, \(connections) direct connections; proxy/pgbench "
                      + String(format: "%.0f%%", 100 * proxy.perSecond / direct))
            }
        }
    }

    /// Schedulers competing for 1,000 due tasks: claim, complete with a past
    /// next run (due again at once), repeat; pgbench runs the same SQL with as many clients.
    private func claims(socket: String, dir: String) throws {
        let seeder = try LineClient(.unix(socket))
        defer { seeder.close() }
        let seeds = ClaimLoop.seedLines(count: 1000)
        try seeder.send(seeds.joined(separator: "\n") + "\n")
        for _ in seeds { _ = try seeder.readLine() }
        let loop = try ClaimLoop(address: .unix(socket), workers: claimWorkers, duration: duration).run()
        print(pad("claims", 14) + pad(fmt(loop.perSecond), 13) + "claim+complete cycles/s, \(claimWorkers) workers × 1 in flight; "
              + "\(loop.empty) empty claims, \(loop.errors) errors")
        if pgbench, let database {
            let direct = try PgBench.run(script: PgBench.script(for: "claims")!, url: database, connections: claimWorkers,
                                         seconds: duration, dir: dir)
            print(pad("  pgbench", 14) + pad(fmt(direct), 13) + "same claim and completion SQL, \(claimWorkers) clients; proxy/pgbench "
                  + String(format: "%.0f%%", 100 * loop.perSecond / direct))
        }
    }

    /// Fan-out: every task change to `subscribers` connections, at each of
    /// the write rates (one writer connection, `update_task_status`).
    private func events(socket: String, client: ProxyClient, tasks: Int) async throws {
        let writes = (0..<4096).map { i in
            Array((#"{"id":3,"method":"update_task_status","params":{"task_id":"bench-\#((i * 7919) % tasks)","status":"s\#(i % 7)"}}"# + "\n").utf8)
        }
        for rate in eventRates.split(separator: ",").compactMap({ Double($0) }) {
            let before = try await client.call("server.status").objectValue?["events"]?.objectValue ?? [:]
            let f = try EventFanout(socketPath: socket, subscribers: subscribers, rate: rate, duration: duration).run(writeLines: writes)
            let after = try await client.call("server.status").objectValue?["events"]?.objectValue ?? [:]
            let dropped = (after["dropped"]?.intValue ?? 0) - (before["dropped"]?.intValue ?? 0)
            print(pad("events", 14) + pad(fmt(f.eventsPerSecond), 13) + pad(fmt(f.p50us), 9) + pad(fmt(f.p99us), 9)
                  + "events/s to \(subscribers) subscribers at \(fmt(f.writesPerSecond)) writes/s (delay: write → read); "
                  + "\(dropped) dropped, \(f.lagged) lagged events")
        }
    }

    /// `libAllocationCounter.so`, built next to this binary (`swift build` builds every product).
    static func allocationCounter() throws -> String {
        let path = URL(fileURLWithPath: PrivateProxy.executable).deletingLastPathComponent().appendingPathComponent("libAllocationCounter.so").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("\(path) is missing: build every product (swift build -c release) to count allocations")
        }
        return path
    }

    /// The proxy's heap allocations so far (`server.status`), when it counts them.
    private func allocations(_ client: ProxyClient) async throws -> Int64? {
        try await client.call("server.status").objectValue?["allocations"]?.intValue
    }

    /// PostgreSQL's group-commit counters (`server.status`), nil on SQLite.
    private func groupCommitFigures(_ client: ProxyClient) async throws -> (commits: Int64, writes: Int64, reruns: Int64)? {
        guard let g = try await client.call("server.status").objectValue?["storage"]?.objectValue?["group_commit"]?.objectValue else { return nil }
        return (g["commits"]?.intValue ?? 0, g["writes_committed"]?.intValue ?? 0, g["reruns"]?.intValue ?? 0)
    }

    private func startProxy(dir: String, socket: String) async throws -> PrivateProxy {
        let config = "\(dir)/bench.yaml"
        try ("storage:\n  sqlite:\n    synchronous: \(synchronous)\n  postgresql:\n    pool_size: \(poolSize)\n    max_overflow: \(maxOverflow)\n    pipeline_depth: \(pipelineDepth)\n"
             + (commitGroups == 0 ? "    group_commit: false\n" : "    commit_groups: \(commitGroups)\n")
             + "server:\n  log_level: warning\n  max_connections: 4096\n").write(toFile: config, atomically: true, encoding: .utf8)
        return try await PrivateProxy(arguments: ["--config", config, "--database", database ?? "\(dir)/data.db"] + (cache.map { ["--cache", $0] } ?? []),
                                      socket: socket, preload: countAllocations ? try Self.allocationCounter() : nil)
    }

    /// The tasks every workload reads, saved concurrently (pipelined on the client's connection).
    private func seed(_ client: ProxyClient, tasks: Int, agents: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<tasks {
                group.addTask {
                    try await client.saveTask(["id": .string("bench-\(i)"), "agent_name": .string("agent-\(i % agents)"), "task_prompt": "p",
                                               "schedule_type": "cron", "schedule_value": "* * * * *"])
                }
            }
            try await group.waitForAll()
        }
    }

    private func requestLines(_ name: String, tasks: Int, agents: Int) throws -> [[UInt8]] {
        var rng = SystemRandomNumberGenerator()
        func task() -> Int { Int.random(in: 0..<tasks, using: &rng) }
        func line(_ s: String) -> [UInt8] { Array((s + "\n").utf8) }
        let get = { line(#"{"id":1,"method":"get_task","params":{"task_id":"bench-\#(task())"}}"#) }
        let log = { line(#"{"id":2,"method":"save_log","params":{"task_id":"bench-\#(task())","level":"INFO","message":"step done","metadata":{"ms":12}}}"#) }
        let status = { line(#"{"id":3,"method":"update_task_status","params":{"task_id":"bench-\#(task())","status":"running"}}"#) }
        let list = { line(#"{"id":4,"method":"list_tasks","params":{"agent_name":"agent-\#(Int.random(in: 0..<agents, using: &rng))","limit":10}}"#) }
        switch name {
        case "health_check": return [line(#"{"id":1,"method":"health_check"}"#)]
        case "get_task": return (0..<4096).map { _ in get() }
        case "save_log": return (0..<4096).map { _ in log() }
        case "save_task":
            return (0..<4096).map { i in
                line(#"{"id":5,"method":"save_task","params":{"task":{"id":"st-\#(i)","agent_name":"agent-\#(i % agents)","task_prompt":"p","schedule_type":"cron","schedule_value":"* * * * *"}}}"#)
            }
        case "zipf":
            // Agents read a few tasks far more often than the rest (Zipf, s = 1):
            // 90% get_task, 5% list_tasks, 5% update_task_status, on skewed ids.
            let zipf = Zipf(count: tasks)
            return (0..<16384).map { _ in
                let id = zipf.next(&rng), r = Int.random(in: 0..<100, using: &rng)
                if r < 90 { return line(#"{"id":1,"method":"get_task","params":{"task_id":"bench-\#(id)"}}"#) }
                if r < 95 { return list() }
                return line(#"{"id":3,"method":"update_task_status","params":{"task_id":"bench-\#(id)","status":"running"}}"#)
            }
        case "mixed":
            return (0..<4096).map { _ in
                let r = Int.random(in: 0..<100, using: &rng)
                return r < 70 ? get() : r < 90 ? log() : r < 95 ? status() : list()
            }
        default: throw ValidationError("unknown workload \(name)")
        }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    private func fmt(_ v: Double) -> String { v >= 1000 ? String(format: "%.0f", v) : String(format: "%.1f", v) }
}
