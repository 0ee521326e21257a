import Foundation
import ProxyCore
import Spawn
import StorageProxyClient
import Testing

/// `server.http_listen`: probes, Prometheus metrics and JSON-RPC over POST,
/// against a real proxy on each backend, read with raw HTTP/1.1.
@Suite("HTTP endpoint")
struct HTTPEndpointTests {
    static func proxy(_ backend: TestBackend = .sqlite, config: String? = nil) throws -> (ProxyProcess, Int) {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--http-listen", "0"] + (try config.map { ["--config", try writeConfig($0)] } ?? []))
        return (proxy, try #require(proxy.httpPort, "no HTTP port in the log: \(proxy.logText)"))
    }

    @Test("probes: /healthz and /readyz answer 200; other paths 404, other methods 405 with Allow", arguments: TestBackend.allCases)
    func probes(backend: TestBackend) throws {
        let (proxy, port) = try Self.proxy(backend)
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        let health = try HTTPExchange(port: port, "GET", "/healthz")
        #expect(health.status == 200 && health.body == "ok\n")
        #expect(health.headers["content-length"] == "3")
        let ready = try HTTPExchange(port: port, "GET", "/readyz")
        #expect(ready.status == 200 && ready.body == "ready\n")
        let missing = try HTTPExchange(port: port, "GET", "/nope?x=1")
        #expect(missing.status == 404 && missing.body.contains("/metrics"))
        let wrong = try HTTPExchange(port: port, "DELETE", "/metrics")
        #expect(wrong.status == 405 && wrong.headers["allow"] == "GET, HEAD")
        let getRoot = try HTTPExchange(port: port, "GET", "/")
        #expect(getRoot.status == 405 && getRoot.headers["allow"] == "POST")
    }

    @Test("/readyz says 503 and why while PostgreSQL is unreachable, 200 again once it is back")
    func readinessFollowsStorage() throws {
        let forwarder = try PostgresForwarder()
        let url = forwarder.route(try TestPostgres.database(named: ProxyProcess.makeTempDir()))
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--storage", "postgresql", "--database", url, "--http-listen", "0"])
        let port = proxy.httpPort
        let httpPort = try #require(port)
        #expect(try HTTPExchange(port: httpPort, "GET", "/readyz").status == 200)
        forwarder.stop()
        var down: HTTPExchange?
        for _ in 0..<100 {
            let r = try HTTPExchange(port: httpPort, "GET", "/readyz")
            if r.status == 503 { down = r; break }
            usleep(50_000)
        }
        #expect(down?.body == "storage unreachable\n")
        #expect(try HTTPExchange(port: httpPort, "GET", "/healthz").status == 200, "the process still answers")
        try forwarder.start()
        var back = false
        for _ in 0..<200 where !back {
            back = try HTTPExchange(port: httpPort, "GET", "/readyz").status == 200
            if !back { usleep(50_000) }
        }
        #expect(back)
    }

    @Test("POST / answers byte for byte as the line protocol: one request, a batch, notifications, bad JSON", arguments: TestBackend.allCases)
    func postAnswersAsTheLineProtocol(backend: TestBackend) throws {
        let (proxy, port) = try Self.proxy(backend)
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        let client = try proxy.client()
        _ = try client.result("save_task", ["task": sampleTask(id: "t1")])
        let bodies = [
            #"{"jsonrpc":"2.0","id":7,"method":"get_task","params":{"task_id":"t1"}}"#,
            #"[{"jsonrpc":"2.0","id":"a","method":"health_check"},{"jsonrpc":"2.0","method":"health_check"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#,
            #"{"jsonrpc":"2.0","id":3,"method":"get_task","params":{"task_id":1}}"#,
            #"{"jsonrpc":"2.0","id":4,"method""#,
            // JSON-RPC 2.0 §7's mixed batch: no answer for its notification, whose params are by position.
            #"[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},{"foo":"boo"}]"#,
        ]
        for body in bodies {
            try client.send(body + "\n")
            let line = try #require(try client.readLine())
            let http = try HTTPExchange(port: port, "POST", "/", body: body)
            #expect(http.status == 200 && http.headers["content-type"] == "application/json")
            #expect(http.body == line + "\n", "\(body)")
        }
        let note = try HTTPExchange(port: port, "POST", "/", body: #"{"jsonrpc":"2.0","method":"health_check"}"#)
        #expect(note.status == 204 && note.body.isEmpty)
        // Notifications only, whatever is wrong with them (§4.1): nothing to answer.
        let notes = try HTTPExchange(port: port, "POST", "/", body: #"[{"jsonrpc":"2.0","method":"update","params":[1,2]},{"jsonrpc":"2.0","method":"get_task","params":{"task_id":5}}]"#)
        #expect(notes.status == 204 && notes.body.isEmpty, "\(notes.status) \(notes.body)")
        // A write through HTTP is a write: the line protocol sees it.
        let saved = try HTTPExchange(port: port, "POST", "/", body: #"{"jsonrpc":"2.0","id":1,"method":"save_task","params":{"task":"#
                                     + sampleTask(id: "t2").jsonText + "}}")
        #expect(try saved.json["result"] == "t2")
        #expect(try client.result("get_task", ["task_id": "t2"])["id"] == "t2")
    }

    @Test("POST /: a transaction lives within one body; one left open is rolled back")
    func transactionsEndWithTheBody() throws {
        let (proxy, port) = try Self.proxy()
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        let open = try HTTPExchange(port: port, "POST", "/", body: #"{"jsonrpc":"2.0","id":1,"method":"begin_transaction"}"#)
        let handle = try #require(try open.json["result"]?.objectValue?["transaction"]?.stringValue ?? open.json["result"]?.stringValue)
        let late = try HTTPExchange(port: port, "POST", "/", body: #"{"jsonrpc":"2.0","id":2,"method":"save_task","params":{"transaction":"\#(handle)","task":"#
                                    + sampleTask(id: "tx1").jsonText + "}}")
        #expect(try late.json["error"]?.objectValue?["code"] == .int(-32004))
        let status = try proxy.client().result("server.status")
        #expect(status.objectValue?["transactions"]?.objectValue?["open"] == .int(0))
    }

    @Test("a body over server.max_line_bytes gets 413; the endpoint keeps serving")
    func oversizedBody() throws {
        let (proxy, port) = try Self.proxy(config: "server:\n  max_line_bytes: 4096\n")
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        let big = #"{"jsonrpc":"2.0","id":1,"method":"health_check","params":{"pad":""# + String(repeating: "x", count: 10_000) + "\"}}"
        let r = try HTTPExchange(port: port, "POST", "/", body: big)
        #expect(r.status == 413)
        #expect(try HTTPExchange(port: port, "GET", "/healthz").status == 200)
    }

    @Test("/metrics passes promtool and counts what happened", arguments: TestBackend.allCases)
    func metrics(backend: TestBackend) throws {
        let (proxy, port) = try Self.proxy(backend)
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        let client = try proxy.client()
        _ = try client.result("save_task", ["task": sampleTask(id: "m1")])
        for _ in 0..<16 { _ = try client.result("get_task", ["task_id": "m1"]) }
        #expect(try client.errorCode("get_task", ["task_id": 5]) == -32602)
        let r = try HTTPExchange(port: port, "GET", "/metrics")
        #expect(r.status == 200 && r.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let file = ProxyProcess.makeTempDir() + "/metrics.txt"
        try r.body.write(toFile: file, atomically: true, encoding: .utf8)
        let lint = try runProgram("/bin/sh", ["-c", "promtool check metrics < \(file)"])
        #expect(lint.status == 0, "promtool: \(lint.out)\(lint.err)")
        let samples = Self.samples(r.body)
        #expect(samples[#"storage_proxy_requests_total{method="get_task",code="ok"}"#] == 16)
        #expect(samples[#"storage_proxy_requests_total{method="get_task",code="-32602"}"#] == 1)
        #expect(samples[#"storage_proxy_requests_total{method="save_task",code="ok"}"#] == 1)
        #expect(samples[#"storage_proxy_request_duration_seconds_count{method="get_task"}"#].map { $0 >= 1 } == true)
        #expect(samples["storage_proxy_connections_open"] == 1)
        #expect(samples["storage_proxy_connections_accepted_total"].map { $0 >= 2 } == true)
        #expect(samples["storage_proxy_received_bytes_total"].map { $0 > 1000 } == true)
        #expect(samples["storage_proxy_sent_bytes_total"].map { $0 > 1000 } == true)
        #expect(samples[#"storage_proxy_storage_up{type="\#(backend.rawValue)"}"#] == 1)
        #expect(samples[#"storage_proxy_cache_up{type="memory"}"#] == 1)
        #expect(r.body.contains(#"storage_proxy_build_info{version="1.0.0",commit=""#))
        if backend == .postgresql {
            #expect(samples["storage_proxy_pool_open"].map { $0 >= 1 } == true)
            #expect(samples["storage_proxy_pool_connects_total"].map { $0 >= 1 } == true)
            #expect(samples["storage_proxy_pg_group_writes_committed_total"].map { $0 >= 1 } == true)
        } else {  // (PostgreSQL reads through only a shared cache: Redis)
            #expect(samples["storage_proxy_sqlite_writes_committed_total"].map { $0 >= 1 } == true)
            #expect(samples["storage_proxy_read_through_hits_total"].map { $0 >= 1 } == true)
        }
        let again = Self.samples(try HTTPExchange(port: port, "GET", "/metrics").body)
        #expect(again[#"storage_proxy_http_requests_total{path="/metrics",status="200"}"#] == 1)
    }

    @Test("a real Prometheus scrapes /metrics")
    func prometheusScrapes() throws {
        let (proxy, port) = try Self.proxy()
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        _ = try proxy.client().result("health_check")
        let dir = ProxyProcess.makeTempDir()
        let webPort = freeLoopbackPort()
        let rules = DeploymentFilesTests.root + "/config/prometheus-alerts.yml"
        let check = try runProgram("/usr/bin/promtool", ["check", "rules", rules])
        #expect(check.status == 0, "\(check.out)\(check.err)")
        try """
        global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
        rule_files: ["\(rules)"]
        scrape_configs:
          - job_name: storage-proxy
            static_configs: [{targets: ["127.0.0.1:\(port)"]}]
        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try ChildProcess("/usr/bin/prometheus", ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                                                                  "--web.listen-address=127.0.0.1:\(webPort)"],
                                          directory: dir, stdout: .appendTo(dir + "/log"), stderr: .appendTo(dir + "/log"))
        defer { prometheus.send(SIGKILL); prometheus.wait() }
        var value: String?
        for _ in 0..<300 where value == nil {
            usleep(100_000)
            guard let r = try? HTTPExchange(port: webPort, "GET", "/api/v1/query?query=storage_proxy_requests_total%7Bmethod%3D%22health_check%22%7D"),
                  r.status == 200, let json = try? r.json,
                  let first = json["data"]?.objectValue?["result"]?.arrayValue?.first else { continue }
            value = first.objectValue?["value"]?.arrayValue?.last?.stringValue
        }
        #expect(value.map { Int($0)! >= 1 } == true, "\((try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? "")")
        let up = try HTTPExchange(port: webPort, "GET", "/api/v1/query?query=up%7Bjob%3D%22storage-proxy%22%7D")
        #expect(try up.json["data"]?.objectValue?["result"]?.arrayValue?.first?.objectValue?["value"]?.arrayValue?.last == "1")
        // The shipped alert rules evaluate against these metrics without errors, and none fires on a healthy proxy.
        var healthy: [JSONValue] = []
        for _ in 0..<50 {
            let r = try HTTPExchange(port: webPort, "GET", "/api/v1/rules")
            let groups = try r.json["data"]?["groups"]?.arrayValue ?? []
            let all = groups.flatMap { $0["rules"]?.arrayValue ?? [] }
            healthy = all.filter { $0["health"] == "ok" }
            if all.count == 12 && healthy.count == 12 { break }
            usleep(100_000)
        }
        #expect(healthy.count == 12)
        #expect(healthy.allSatisfy { $0["state"] == "inactive" }, "\(healthy.filter { $0["state"] != "inactive" })")
    }

    @Test("with server.auth_token: /metrics and POST need the bearer token; the probes stay open")
    func bearerToken() throws {
        let (proxy, port) = try Self.proxy(config: "server:\n  auth_token: s3cret-token\n  auth_failure_delay_ms: 10\n")
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        #expect(try HTTPExchange(port: port, "GET", "/healthz").status == 200)
        #expect(try HTTPExchange(port: port, "GET", "/readyz").status == 200)
        let anonymous = try HTTPExchange(port: port, "GET", "/metrics")
        #expect(anonymous.status == 401 && anonymous.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(try HTTPExchange(port: port, "GET", "/metrics", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try HTTPExchange(port: port, "GET", "/metrics", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)

        let call = #"{"jsonrpc":"2.0","id":1,"method":"health_check"}"#
        let noToken = try HTTPExchange(port: port, "POST", "/", body: call)
        #expect(try noToken.json["error"]?.objectValue?["code"] == .int(-32007), "as a line before auth")
        let withAuth = try HTTPExchange(port: port, "POST", "/", body: #"[{"jsonrpc":"2.0","id":0,"method":"auth","params":{"token":"s3cret-token"}},"# + call + "]")
        #expect(try withAuth.json.arrayValue?.last?["result"] == .bool(true), "auth inside the body opens its session")
        let bearer = try HTTPExchange(port: port, "POST", "/", body: call, headers: ["Authorization": "Bearer s3cret-token"])
        #expect(try bearer.json["result"] == .bool(true))
        let wrong = try HTTPExchange(port: port, "POST", "/", body: call, headers: ["Authorization": "Bearer guess"])
        #expect(wrong.status == 401)
        let basic = try HTTPExchange(port: port, "POST", "/", body: call, headers: ["Authorization": "Basic eDp5"])
        #expect(basic.status == 400)
        #expect(!proxy.logText.contains("s3cret-token") && !proxy.logText.contains("guess"))
        #expect(proxy.logText.contains("authentication failed client=h"))
    }

    @Test("a non-loopback HTTP address without a token is refused at start")
    func refusesOpenHTTPWithoutToken() throws {
        let dir = ProxyProcess.makeTempDir()
        let r = try runCLI(["serve", "--socket", dir + "/s.sock", "--database", dir + "/d.db", "--http-listen", "0.0.0.0:0"])
        #expect(r.status != 0 && r.err.contains("refusing HTTP on 0.0.0.0") && r.err.contains("server.auth_token"), "\(r.err)")
    }

    @Test("past server.http_max_connections a client hears 503; a stop does not wait for kept-alive connections")
    func connectionCapAndStop() throws {
        let (proxy, port) = try Self.proxy(config: "server:\n  http_max_connections: 2\n")
        defer { withExtendedLifetime(proxy) {} }  // the proxy lives until the test ends
        let a = try HTTPExchange.connectLoopback(port: port), b = try HTTPExchange.connectLoopback(port: port)
        defer { close(a); close(b) }
        usleep(100_000)
        let third = try HTTPExchange(port: port, "GET", "/healthz")
        #expect(third.status == 503 && third.body == "busy\n")
        let started = Date()
        #expect(proxy.stop() == .exited(0))
        #expect(Date().timeIntervalSince(started) < 4.5, "kept-alive HTTP connections are closed at stop, not waited for")
    }

    /// `name{labels} value` lines → value by `name{labels}`.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        return out
    }
}
