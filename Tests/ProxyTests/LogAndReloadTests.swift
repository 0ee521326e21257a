import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// What the proxy tells an operator (`server.log_format: json`, one event
/// per line) and what SIGHUP changes, against a real proxy.
@Suite("Logs and reload")
struct LogAndReloadTests {
    /// The log's JSON events (lines before a reload to JSON are plain), each parsed.
    static func events(_ proxy: ProxyProcess) throws -> [JSONValue] {
        try proxy.logText.split(separator: "\n").filter { $0.hasPrefix("{") }.map { line in
            let v = try JSONParser.parse(String(line))
            #expect(v["time"]?.stringValue != nil && v["level"]?.stringValue != nil && v["message"]?.stringValue != nil, "\(line)")
            return v
        }
    }

    static func events(_ proxy: ProxyProcess, _ name: String) throws -> [JSONValue] {
        try events(proxy).filter { $0["event"]?.stringValue == name }
    }

    /// Waits (15 s at most: sanitizers and a busy machine slow the proxy down) until an event shows up.
    static func waitFor(_ proxy: ProxyProcess, _ name: String, count: Int = 1) throws -> [JSONValue] {
        for _ in 0..<750 {
            let found = try events(proxy, name)
            if found.count >= count { return found }
            usleep(20_000)
        }
        return try events(proxy, name)
    }

    @Test("JSON lines: start (version, commit, a summary without secrets), listening, migrations, stop")
    func startAndStop() throws {
        let config = try writeConfig("server:\n  log_format: json\n  listen: \"0\"\n  auth_token: very-secret-token\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        let start = try #require(try Self.events(proxy, "start").first)
        #expect(start["message"]?.stringValue?.contains("storage-proxy 1.0.0 (") == true)
        #expect(start["auth_token"] == "set" && start["storage"] == "sqlite")
        #expect(try Self.events(proxy, "listening").count == 2)
        #expect(try Self.events(proxy, "migrations").first?["message"]?.stringValue?.hasPrefix("applied migration(s) 1, 2") == true)
        proxy.stop()
        #expect(try Self.events(proxy, "stop").count == 1)
        #expect(proxy.logText.split(separator: "\n").allSatisfy { $0.hasPrefix("{") }, "every line is one JSON event")
        #expect(!proxy.logText.contains("very-secret-token"))
        try proxy.start()
        #expect(try Self.events(proxy, "migrations").last?["message"]?.stringValue?.hasPrefix("schema is up to date") == true)
    }

    @Test("auth failures are logged without the token and at most once per 10 s, with the count held back")
    func authFailures() throws {
        let config = try writeConfig("server:\n  log_format: json\n  listen: \"0\"\n  auth_token: right\n  max_auth_failures: 100\n  auth_failure_delay_ms: 0\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        let client = try LineClient(.tcp(host: "127.0.0.1", port: try #require(proxy.tcpPort)))
        for i in 0..<5 { #expect(try client.errorCode("auth", ["token": .string("guess-\(i)")]) == -32007) }
        let failures = try Self.waitFor(proxy, "auth_failed")
        #expect(failures.count == 1)
        #expect(failures.first?["client"]?.stringValue?.contains("127.0.0.1:") == true)
        #expect(!proxy.logText.contains("guess-"))
    }

    @Test("slow calls (server.slow_log_ms) and debug calls carry a request id, the method and the time")
    func slowAndDebugCalls() throws {
        let config = try writeConfig("server:\n  log_format: json\n  log_level: debug\n  slow_log_ms: 5000\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        let client = try proxy.client()
        _ = try client.result("health_check")
        _ = try client.result("get_task", ["task_id": "nothing"])
        let calls = try Self.waitFor(proxy, "call", count: 2)
        let get = try #require(calls.first { $0["method"] == "get_task" })
        #expect(get["outcome"] == "ok" && get["request_id"]?.stringValue?.contains(".") == true && get["ms"] != nil)
        #expect(try Self.events(proxy, "connection_opened").count >= 1)
        #expect(try Self.events(proxy, "slow_call").isEmpty)

        let tokenConfig = try writeConfig("server:\n  log_format: json\n  slow_log_ms: 20\n  auth_token: t\n  listen: \"0\"\n  auth_failure_delay_ms: 100\n")
        let guarded = try ProxyProcess(arguments: ["--config", tokenConfig])
        let tcp = try LineClient(.tcp(host: "127.0.0.1", port: try #require(guarded.tcpPort)))
        #expect(try tcp.errorCode("auth", ["token": "wrong"]) == -32007)  // held back 100 ms: a slow call
        let slow = try #require(try Self.waitFor(guarded, "slow_call").first)
        #expect(slow["method"] == "auth" && slow["level"] == "warning" && slow["outcome"] == "-32007")
        #expect(Int(slow["ms"]?.stringValue ?? "") ?? 0 >= 20)
    }

    @Test("a transaction rolled back by server.transaction_timeout and a refused connection are logged")
    func expiredTransactionsAndRejections() throws {
        let config = try writeConfig("server:\n  log_format: json\n  transaction_timeout: 0.2\n  max_connections: 2\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        let client = try proxy.client()
        _ = try client.result("begin_transaction")
        // The start-up probe's connection may still count for a moment: wait until this one is the only one.
        for _ in 0..<100 where try client.result("server.status")["connections"]?["open"] != .int(1) { usleep(20_000) }
        let expired = try Self.waitFor(proxy, "transaction_expired")
        #expect(expired.first?["message"]?.stringValue?.contains("rolled back") == true)
        let second = try proxy.client()
        _ = try second.result("health_check")
        let third = try proxy.client()
        #expect(try third.readLine()?.contains("-32006") == true, "told why before it is closed")
        #expect(try Self.waitFor(proxy, "connection_rejected").first?["message"]?.stringValue?.contains("server.max_connections") == true)
    }

    @Test("an internal error is logged with its request id, method and client (PostgreSQL raising what the proxy does not expect)")
    func internalErrorIsLogged() throws {
        let db = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig("server:\n  log_format: json\n"),
                                                                    "--storage", "postgresql", "--database", db])
        // A trigger that fails in a way no mapping knows: the proxy answers -32603 and must say where in its log.
        let trigger = """
            CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.agent_name = 'explode' THEN RAISE EXCEPTION 'boom' USING ERRCODE = 'XX999'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER explode BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION explode();
            """
        let created = try TestPostgres.psql(db, trigger)
        try #require(created.status == 0, "\(created.err)")
        let client = try proxy.client()
        #expect(try client.errorCode("save_task", ["task": sampleTask(agent: "explode")]) == -32603)
        let logged = try #require(try Self.waitFor(proxy, "internal_error").first)
        #expect(logged["level"] == "error" && logged["method"] == "save_task")
        #expect(logged["request_id"]?.stringValue?.hasSuffix(".1") == true && logged["client"]?.stringValue?.contains("@unix") == true)
        #expect(logged["message"]?.stringValue?.contains("boom") == true)
        #expect(try client.result("save_task", ["task": sampleTask(agent: "calm")]) != .null, "the connection goes on")
    }

    @Test("a PostgreSQL outage and its end are logged")
    func storageOutage() throws {
        let forwarder = try PostgresForwarder()
        let url = forwarder.route(try TestPostgres.database(named: ProxyProcess.makeTempDir()))
        let config = try writeConfig("server:\n  log_format: json\n")
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", config, "--storage", "postgresql", "--database", url])
        forwarder.stop()
        #expect(try proxy.client().errorCode("get_task", ["task_id": "x"]) == -32003)
        // That call may have met a pooled connection whose end was not read yet (it fails, nothing
        // reconnects, nothing is logged; seen under ASan): calls go on until one has to connect.
        var down: [JSONValue] = []
        for _ in 0..<100 where down.isEmpty {
            _ = try? proxy.client().errorCode("get_task", ["task_id": "x"])
            down = try Self.events(proxy, "storage_down")
            if down.isEmpty { usleep(100_000) }
        }
        #expect(down.count >= 1)
        try forwarder.start()
        var up = false
        for _ in 0..<100 where !up {
            up = (try? proxy.client().errorCode("get_task", ["task_id": "x"])) == .some(nil)
            if !up { usleep(100_000) }
        }
        #expect(up)
        // While the pool reconnects it may flap (a connect that fails before one that works): the last word is "up".
        #expect(try Self.waitFor(proxy, "storage_up").count >= 1)
        let changes = try Self.events(proxy).compactMap { $0["event"]?.stringValue }.filter { $0 == "storage_down" || $0 == "storage_up" }
        #expect(changes.first == "storage_down" && changes.last == "storage_up", "\(changes)")
        #expect(!proxy.logText.contains("password"))
    }

    @Test("PostgreSQL's notices (a terminated idle connection's FATAL) are log events, not raw stderr lines")
    func postgresNoticesAreLogged() throws {
        let url = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let config = try writeConfig("server:\n  log_format: json\n")
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", config, "--storage", "postgresql", "--database", url])
        #expect(try proxy.client().result("save_task", ["task": sampleTask(id: "t")]) == "t")  // pooled connections, idle now
        let database = String(url.split(separator: "/").last ?? "")
        _ = try TestPostgres.psql(try TestPostgres.serverURL(),
                                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()")
        let notice = try #require(try Self.waitFor(proxy, "postgres_notice").first, "\(proxy.logText)")
        #expect(notice["severity"] == "FATAL" && notice["level"] == "warning", "\(notice)")
        #expect(notice["message"]?.stringValue?.contains("terminating connection due to administrator command") == true, "\(notice)")
        #expect(try proxy.client().result("get_task", ["task_id": "t"]).objectValue?["id"] == "t", "the pool opens new connections")
        #expect(proxy.logText.split(separator: "\n").allSatisfy { $0.hasPrefix("{") }, "every line is one JSON event: \(proxy.logText)")
    }

    @Test("a read lent a pooled connection the server ended while it sat idle (its goodbye unread) runs again on another")
    func readOnDeadPooledConnectionIsRepeated() throws {
        let url = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--storage", "postgresql", "--database", url])
        let c = try proxy.client()
        #expect(try c.result("save_task", ["task": sampleTask(id: "t")]) == "t")
        #expect(try c.result("get_task", ["task_id": "other"]) == .null)  // a reader's pooled connection, idle now
        let process = try #require(proxy.process)
        // The proxy frozen, the request is queued first and the backends end after it: on waking, the
        // loop reads the request before the goodbyes and lends a connection it still thinks alive.
        process.send(SIGSTOP)
        try c.send(#"{"jsonrpc":"2.0","id":7,"method":"get_task","params":{"task_id":"t"}}"# + "\n")
        let database = String(url.split(separator: "/").last ?? "")
        let server = try TestPostgres.serverURL()
        _ = try TestPostgres.psql(server, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()")
        for _ in 0..<100 {
            let left = try TestPostgres.psql(server, "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()").out
            if left.trimmingCharacters(in: .whitespacesAndNewlines) == "0" { break }
            usleep(20_000)
        }
        process.send(SIGCONT)
        let answer = try JSONParser.parse(try #require(try c.readLine())).objectValue
        #expect(answer?["result"]?.objectValue?["id"] == "t", "\(String(describing: answer))")
    }

    @Test("a Redis outage and its end are logged (cache_down with the reason, cache_up)")
    func cacheOutage() throws {
        let redis = try PrivateRedis()
        let config = try writeConfig("server:\n  log_format: json\nstorage:\n  cache:\n    type: redis\n    redis:\n      url: \"\(redis.url)\"\n")
        let proxy = try ProxyProcess(arguments: ["--config", config])
        redis.kill9()
        _ = try? proxy.client().call("cache.get", ["key": "x"])  // a call notices at once; the reconnect loop would anyway
        let down = try Self.waitFor(proxy, "cache_down")
        #expect(down.first?["level"] == "warning" && down.first?["message"]?.stringValue?.contains("Redis unavailable") == true)
        try redis.start()
        #expect(try Self.waitFor(proxy, "cache_up").count == 1)
    }

    @Test("SIGHUP: a new token for new connections, log level and limits live, open connections kept, restart-only keys named")
    func reload() throws {
        let dir = ProxyProcess.makeTempDir()
        let path = dir + "/proxy.yaml"
        try "server:\n  listen: \"0\"\n  auth_token: old-token\n  max_connections: 50\n".write(toFile: path, atomically: true, encoding: .utf8)
        let proxy = try ProxyProcess(arguments: ["--config", path])
        let port = try #require(proxy.tcpPort)
        let kept = try LineClient(.tcp(host: "127.0.0.1", port: port))
        _ = try kept.result("auth", ["token": "old-token"])

        try "server:\n  listen: \"1\"\n  auth_token: new-token\n  max_connections: 7\n  log_format: json\n  log_level: debug\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        proxy.process?.send(SIGHUP)
        let reloaded = try #require(try Self.waitFor(proxy, "reloaded").first)
        #expect(reloaded["message"]?.stringValue?.contains("needs a restart, unchanged until then: server.listen") == true)
        #expect(!proxy.logText.contains("new-token") && !proxy.logText.contains("old-token"))

        #expect(try kept.result("health_check") == .bool(true), "the open connection stays authenticated")
        let fresh = try LineClient(.tcp(host: "127.0.0.1", port: port))
        #expect(try fresh.errorCode("auth", ["token": "old-token"]) == -32007)
        #expect(try fresh.result("auth", ["token": "new-token"]) == .bool(true))
        let status = try proxy.client().result("server.status")
        #expect(status["connections"]?["max"] == .int(7))
        // The configuration in effect, key by key: the reloaded value, the kept one, and no token.
        #expect(status["config"]?["server.max_connections"] == .int(7))
        #expect(status["config"]?["server.listen"] == "0")
        #expect(status["config"]?["server.auth_token"] == .bool(true))
        #expect(!status.jsonText.contains("new-token"))
        #expect(try Self.waitFor(proxy, "call").isEmpty == false, "debug now on: calls are logged")

        try "server:\n  max_connections: lots\n".write(toFile: path, atomically: true, encoding: .utf8)
        proxy.process?.send(SIGHUP)
        let failed = try #require(try Self.waitFor(proxy, "reload_failed").first)
        #expect(failed["message"]?.stringValue?.contains("max_connections") == true)
        #expect(try proxy.client().result("server.status")["connections"]?["max"] == .int(7), "the running configuration stays")
        #expect(try kept.result("health_check") == .bool(true))
    }
}
