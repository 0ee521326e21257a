import Foundation
import StorageCore
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
}
