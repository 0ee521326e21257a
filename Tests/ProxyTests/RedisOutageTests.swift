import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// A private redis-server (append-only file, fsync always: what it held
/// survives `kill -9`, so a missed invalidation would come back with it),
/// on loopback TCP and a Unix socket, with a password if given.
final class PrivateRedis {
    let dir = ProxyProcess.makeTempDir()
    let port: Int
    let password: String?
    private var pid: pid_t = 0
    var url: String { "redis://127.0.0.1:\(port)" }  // without the password
    var socketPath: String { "\(dir)/redis.sock" }

    init(password: String? = nil) throws {
        self.password = password
        port = freeLoopbackPort()
        try start()
    }

    func start() throws {
        let args = ["/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", String(port), "--dir", dir,
                    "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", "\(dir)/redis.log",
                    "--unixsocket", socketPath] + (password.map { ["--requirepass", $0] } ?? [])
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        try #require(posix_spawn(&pid, args[0], nil, nil, argv, environ) == 0, "cannot start redis-server")
        for _ in 0..<200 {
            if (try? TestRedis.cli(["PING"], connect: ["-s", socketPath] + (password.map { ["-a", $0] } ?? []))) == "PONG" { return }
            usleep(25_000)
        }
        throw ClientError("redis-server did not start")
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    func pause() { kill(pid, SIGSTOP) }
    func resume() { kill(pid, SIGCONT) }

    func kill9() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    deinit {
        kill9()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite("Redis outages")
struct RedisOutageTests {
    func cacheState(_ c: LineClient) throws -> String? {
        try c.result("server.status").objectValue?["cache"]?.objectValue?["state"]?.stringValue
    }

    /// A proxy on a private Redis, with task `kept` (status `before`) read once, so cached.
    func proxyWithACachedTask(_ redis: PrivateRedis, prefix: String) throws -> (ProxyProcess, LineClient) {
        let proxy = try ProxyProcess(arguments: try TestRedis.serveArguments(url: redis.url, prefix: prefix))
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "kept", extra: [("status", "before")])])
        #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "before")
        return (proxy, c)
    }

    /// Polls until the proxy reports its cache `up` (at most 10 s); the last state seen.
    func waitUntilCacheIsUp(_ c: LineClient) throws -> String? {
        var state: String?
        for _ in 0..<200 where state != "up" {
            usleep(50_000)
            state = try cacheState(c)
        }
        return state
    }

    @Test("Redis killed and restarted under load: no failed storage call, nothing stale served after")
    func redisRestartMidLoad() throws {
        let redis = try PrivateRedis()
        let (proxy, c) = try proxyWithACachedTask(redis, prefix: "outage:")
        try withExtendedLifetime((redis, proxy)) {

            // Load on other tasks all along: every storage call must succeed.
            let done = Locked(false), failures = Locked<[String]>([]), calls = Locked(0)
            let load = (0..<2).map { n in
                Thread {
                    guard let lc = try? proxy.client() else { return failures.withLock { $0.append("connect") } }
                    _ = try? lc.result("save_task", ["task": sampleTask(id: "load\(n)")])
                    var i = 0
                    while !done.withLock({ $0 }) {
                        i += 1
                        let (method, params): (String, JSONValue) = i % 3 == 0
                            ? ("update_task_status", ["task_id": .string("load\(n)"), "status": .string("s\(i)")])
                            : ("get_task", ["task_id": .string("load\(n)")])
                        if let r = try? lc.call(method, params), r["error"] == nil { calls.withLock { $0 += 1 } }
                        else { failures.withLock { $0.append(method) } }
                    }
                }
            }
            load.forEach { $0.start() }
            usleep(300_000)
            redis.kill9()
            usleep(300_000)

            // Redis is gone: storage still answers, health says true, cache.* is retryable.
            #expect(try c.result("health_check") == true)
            #expect(try c.errorCode("cache.get", ["key": "k"]) == -32003)
            #expect(try cacheState(c) == "down")
            // A write whose invalidation cannot reach Redis…
            _ = try c.result("update_task_status", ["task_id": "kept", "status": "during"])
            #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "during")

            // …and Redis comes back holding the old entry (append-only file).
            try redis.start()
            #expect(try waitUntilCacheIsUp(c) == "up")
            usleep(300_000)
            done.withLock { $0 = true }
            usleep(100_000)

            #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "during")
            #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "during")
            #expect(try c.result("cache.set", ["key": "k", "value": 1]) == true)
            #expect(failures.withLock { $0 }.isEmpty, "failed: \(failures.withLock { $0.prefix(5) })")
            #expect(calls.withLock { $0 } > 100)
            let warnings = proxy.logText.split(separator: "\n").filter { $0.contains("Redis unavailable") }
            #expect(warnings.count == 1)  // once per outage, not per request
        }
    }

    @Test("a Redis that stops answering: reads go to storage after 2 s, a write is never served stale after it resumes")
    func redisStopsAnswering() throws {
        let redis = try PrivateRedis()
        let (proxy, c) = try proxyWithACachedTask(redis, prefix: "stall:")
        try withExtendedLifetime((redis, proxy)) {

            redis.pause()
            defer { redis.resume() }
            let started = Date()
            // Answered from storage once the stalled connections are given up on.
            #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "before")
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(try c.errorCode("cache.get", ["key": "k"]) == -32003)
            let cache = try c.result("server.status").objectValue?["cache"]?.objectValue
            #expect(cache?["state"] == "down")
            #expect(cache?["last_error"]?.stringValue?.contains("no answer within 2000 ms") == true, "\(String(describing: cache))")
            // A write whose invalidation Redis never confirms is still acknowledged…
            _ = try c.result("update_task_status", ["task_id": "kept", "status": "during"])

            // …and once Redis answers again, the entry it still holds is not served.
            redis.resume()
            #expect(try waitUntilCacheIsUp(c) == "up")
            #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "during")
            #expect(try c.result("get_task", ["task_id": "kept"]).objectValue?["status"] == "during")
            #expect(try c.result("cache.set", ["key": "k", "value": 1]) == true)
        }
    }

    @Test("no Redis at start: storage serves, cache.* is retryable, health is true")
    func unreachableFromTheStart() throws {
        let proxy = try ProxyProcess(arguments: try TestRedis.serveArguments(url: "redis://127.0.0.1:1", prefix: "none:"))
        try withExtendedLifetime(proxy) {
            let c = try proxy.client()
            _ = try c.result("save_task", ["task": sampleTask(id: "t")])
            #expect(try c.result("get_task", ["task_id": "t"]).objectValue?["id"] == "t")
            #expect(try c.result("health_check") == true)
            #expect(try c.errorCode("cache.set", ["key": "k", "value": 1]) == -32003)
            #expect(try cacheState(c) == "down")
            #expect(figure(try readThrough(c), "bypassed") >= 1)
        }
    }
}
