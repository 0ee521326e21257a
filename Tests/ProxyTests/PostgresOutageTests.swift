import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// A TCP forwarder (socat) from a loopback port to the test PostgreSQL:
/// killing it is an outage the proxy cannot tell from a dead server (every
/// connection drops, new ones are refused); starting it again ends it.
final class PostgresForwarder {
    let port = freeLoopbackPort()
    private let target: (host: String, port: String)
    private var pid: pid_t = 0

    init() throws {
        let url = try TestPostgres.serverURL()
        let authority = url.components(separatedBy: "@").last?.components(separatedBy: "/").first ?? ""
        let parts = authority.split(separator: ":")
        target = (String(parts[0]), String(parts.count > 1 ? parts[1] : "5432"))
        try start()
    }

    /// `url` with its host and port replaced by the forwarder's.
    func route(_ url: String) -> String {
        url.replacingOccurrences(of: "@\(target.host):\(target.port)/", with: "@127.0.0.1:\(port)/")
    }

    func start() throws {
        let args = ["/usr/bin/socat", "TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "TCP:\(target.host):\(target.port)"]
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Its own process group: the children forked per connection die with it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        try #require(posix_spawn(&pid, args[0], nil, &attributes, argv, environ) == 0, "cannot start socat")
        for _ in 0..<200 {
            if (try? LineClient(.tcp(host: "127.0.0.1", port: port))) != nil { return }
            usleep(10_000)
        }
        throw ClientError("socat did not listen on \(port)")
    }

    func stop() {
        guard pid > 0 else { return }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    deinit { stop() }
}

@Suite("PostgreSQL outages")
struct PostgresOutageTests {
    /// A proxy on a fresh database reached through a forwarder the test can cut.
    static func proxyBehindForwarder() throws -> (PostgresForwarder, ProxyProcess) {
        let forwarder = try PostgresForwarder()
        let dir = ProxyProcess.makeTempDir()
        let database = forwarder.route(try TestPostgres.database(named: dir))
        return (forwarder, try ProxyProcess(backend: .postgresql, arguments: ["--database", database], dir: dir))
    }

    func storageState(_ c: LineClient) throws -> String? {
        try c.result("server.status").objectValue?["storage"]?.objectValue?["state"]?.stringValue
    }

    @Test("PostgreSQL gone: health_check false (and `call` exits 1), status down, logged once; back: up, logged once")
    func outageAndRecovery() throws {
        let (forwarder, proxy) = try Self.proxyBehindForwarder()
        let c = try proxy.client()
        #expect(try c.result("save_task", ["task": sampleTask(id: "before")]) == "before")
        #expect(try storageState(c) == "up")
        let address = "unix://\(proxy.socketPath)"

        forwarder.stop()
        var codes: [Int64?] = []
        for _ in 0..<5 { codes.append(try c.errorCode("get_task", ["task_id": "before"])) }
        #expect(codes.allSatisfy { $0 == -32003 }, "\(codes)")
        usleep(200_000)  // past the health probe's reuse of its last answer (HealthProbe.maxAge)
        #expect(try c.result("health_check") == false)
        let call = try runCLI(["call", "health_check", "--address", address])
        #expect(call.status == 1 && call.out == "false\n", "\(call)")
        #expect(try storageState(c) == "down")

        try forwarder.start()
        var healthy = false
        for _ in 0..<100 where !healthy {  // the pool's back-off is at most 5 s
            usleep(100_000)
            healthy = try c.result("health_check") == true
        }
        #expect(healthy)
        #expect(try storageState(c) == "up")
        #expect(try runCLI(["call", "health_check", "--address", address]).status == 0)
        #expect(try c.result("get_task", ["task_id": "before"]).objectValue?["id"] == "before")

        let log = proxy.logText
        #expect(log.components(separatedBy: "PostgreSQL unreachable").count - 1 == 1, "\(log)")
        #expect(log.components(separatedBy: "PostgreSQL is reachable again").count - 1 == 1, "\(log)")
    }

    @Test("a subscriber is told (lagged, with a reason) when the proxy's listener lost PostgreSQL; events resume once it is back")
    func eventsAcrossAnOutage() throws {
        let (forwarder, proxy) = try Self.proxyBehindForwarder()
        let events = try LineClient(proxy.address, timeoutSeconds: 20)
        #expect(try events.call("subscribe", ["topics": ["tasks"]])["result"] != nil)
        let c = try proxy.client()

        forwarder.stop()
        let first = try #require(try events.readLine())
        let lagged = try #require(try JSONParser.parse(first).objectValue?["params"]?.objectValue)
        #expect(lagged["op"] == "lagged" && lagged["reason"]?.stringValue?.contains("PostgreSQL listener") == true, "\(lagged)")

        try forwarder.start()
        // Writes may work again before the listener is back: write until one is seen.
        let stop = Locked(false)
        let writer = Thread {
            var i = 0
            while !stop.withLock({ $0 }) {
                _ = try? c.result("save_task", ["task": sampleTask(id: "after-\(i)")])
                i += 1
                usleep(100_000)
            }
        }
        writer.start()
        defer { stop.withLock { $0 = true } }
        let line = try #require(try events.readLine(), "the proxy closed the subscriber")
        let seen = try JSONParser.parse(line).objectValue?["params"]?.objectValue?["task"]?.objectValue?["id"]?.stringValue
        #expect(seen?.hasPrefix("after-") == true, "no event after the outage")
    }
}
