import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// How the proxy reaches Redis: a password (`requirepass`), a Unix socket,
/// a database index; and a wrong password, which must not show anywhere.
@Suite("Redis connection options")
struct RedisConnectionOptionsTests {
    static let password = "pw-S3cret/@:!"

    @Test("password, Unix socket and db index: entries land in that database")
    func passwordUnixSocketAndDB() throws {
        let redis = try PrivateRedis(password: Self.password)
        let proxy = try ProxyProcess(arguments: try TestRedis.serveArguments(
            url: "unix://\(redis.socketPath)?db=3", password: Self.password, prefix: "opt:"))
        try withExtendedLifetime((redis, proxy)) {
            let c = try proxy.client()
            _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
            #expect(try c.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1")
            #expect(try c.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1")
            #expect(figure(try readThrough(c), "hits") == 1)
            #expect(try c.result("cache.set", ["key": "k", "value": ["n": 7]]) == true)
            #expect(try c.result("cache.get", ["key": "k"]) == ["n": 7])

            let db3 = ["-s", redis.socketPath, "-a", Self.password, "-n", "3"]
            #expect(try TestRedis.cli(["EXISTS", "opt:rt:task:t1"], connect: db3) == "1")
            #expect(try TestRedis.cli(["GET", "opt:app:k"], connect: db3) == #"{"n":7}"#)
            let db0 = ["-s", redis.socketPath, "-a", Self.password, "-n", "0"]
            #expect(try TestRedis.cli(["DBSIZE"], connect: db0) == "0")
            // Without the password Redis refuses: the proxy really authenticated.
            #expect(try TestRedis.cli(["-n", "3", "EXISTS", "opt:rt:task:t1"], connect: ["-s", redis.socketPath]).contains("NOAUTH"))
        }
    }

    @Test("a wrong password: storage serves, cache.* is retryable, the password shows nowhere")
    func wrongPassword() throws {
        let redis = try PrivateRedis(password: Self.password)
        let wrong = "wrong-Pa55word-42"
        let proxy = try ProxyProcess(arguments: try TestRedis.serveArguments(
            url: "redis://127.0.0.1:\(redis.port)", password: wrong, prefix: "opt:"))
        try withExtendedLifetime((redis, proxy)) {
            let c = try proxy.client()
            _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
            #expect(try c.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1")
            let answer = try c.call("cache.get", ["key": "k"])
            #expect(answer["error"]?.objectValue?["code"] == -32003)
            let status = try c.result("server.status")
            let cache = status.objectValue?["cache"]?.objectValue
            #expect(cache?["state"] == "down")
            #expect(cache?["last_error"]?.stringValue?.contains("authentication failed") == true)
            for text in [JSONValue.object(answer).jsonText, status.jsonText, proxy.logText] {
                #expect(!text.contains(wrong))
                #expect(!text.contains(Self.password))
            }
        }
    }

    @Test("a Redis that wants a password the proxy was not given: reported as NOAUTH, not as a silent server")
    func missingPassword() throws {
        let redis = try PrivateRedis(password: Self.password)
        let proxy = try ProxyProcess(arguments: try TestRedis.serveArguments(url: redis.url, prefix: "opt:"))
        try withExtendedLifetime((redis, proxy)) {
            let c = try proxy.client()
            let cache = try c.result("server.status").objectValue?["cache"]?.objectValue
            #expect(cache?["state"] == "down")
            let why = cache?["last_error"]?.stringValue ?? ""
            #expect(why.contains("NOAUTH") && why.contains("redis.password"), "\(why)")
            #expect(proxy.logText.contains("Redis requires a password"), "\(proxy.logText)")
        }
    }

    @Test("a Redis that never answers the connect: the start waits 2 s for it, then serves storage and says why")
    func connectTimeout() throws {
        let silent = try SilentListener()
        let started = Date()
        let proxy = try ProxyProcess(arguments: try TestRedis.serveArguments(url: "redis://127.0.0.1:\(silent.port)", prefix: "t:"))
        try withExtendedLifetime((silent, proxy)) {
            #expect(Date().timeIntervalSince(started) >= 2)  // the first attempt was given its time
            let c = try proxy.client()
            // Already settled when the proxy begins to answer: nothing to wait for.
            let cache = try c.result("server.status").objectValue?["cache"]?.objectValue
            #expect(cache?["state"] == "down")
            #expect(cache?["last_error"]?.stringValue?.contains("no answer within 2000 ms") == true, "\(String(describing: cache))")
            #expect(proxy.logText.contains("Redis unavailable (cannot connect to Redis: no answer within 2000 ms)"), "\(proxy.logText)")
            _ = try c.result("save_task", ["task": sampleTask(id: "t1")])
            #expect(try c.result("get_task", ["task_id": "t1"]).objectValue?["id"] == "t1")
            #expect(try c.errorCode("cache.get", ["key": "k"]) == -32003)
        }
    }
}

/// A TCP port on loopback whose connects never complete: a listener with a
/// backlog of 0, filled by one connection it never accepts, so the kernel
/// drops further SYNs, as a host behind a firewall that drops packets would.
final class SilentListener {
    let port: Int
    private let listener: Int32, filler: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(listener, sa, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, sa, &length) == 0
            }
        }
        let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = bound && withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) == 0 }
        }
        guard connected else {
            close(filler); close(listener)
            throw ClientError("cannot set up a silent listener on loopback")
        }
        (self.listener, self.filler, port) = (listener, filler, Int(UInt16(bigEndian: addr.sin_port)))
    }

    deinit {
        close(filler)
        close(listener)
    }
}
