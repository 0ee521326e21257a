import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `server.tls` on the TCP listeners, with real certificates: the line
/// protocol (Swift client and `storage-proxy call`), HTTPS, mutual TLS,
/// refusals (wrong authority, expired, plain TCP) and reload on SIGHUP.
@Suite("TLS")
struct TLSTests {
    static func proxy(_ certs: TestCertificates, cert: String? = nil, clientCA: String? = nil, extra: String = "") throws -> ProxyProcess {
        let yaml = "server:\n  listen: \"0\"\n  http_listen: \"0\"\n" + certs.serverYAML(cert: cert, clientCA: clientCA) + extra
        return try ProxyProcess(arguments: ["--config", try writeConfig(yaml)])
    }

    @Test("the line protocol over TLS: the Swift client and storage-proxy call, checked against the authority")
    func lineProtocolOverTLS() throws {
        let certs = try TestCertificates()
        let proxy = try Self.proxy(certs)
        let port = try #require(proxy.tcpPort)
        #expect(proxy.logText.contains("listening on tcp:127.0.0.1:\(port) (TLS)"))
        let client = try LineClient(try #require(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)")))
        _ = try client.result("save_task", ["task": sampleTask(id: "tls1")])
        #expect(try client.result("get_task", ["task_id": "tls1"])["id"] == "tls1")
        let byName = try LineClient(try #require(ProxyAddress("tls://localhost:\(port)?ca=\(certs.ca)")))
        #expect(try byName.result("health_check") == .bool(true))
        let call = try runCLI(["call", "get_task", #"{"task_id":"tls1"}"#, "--address", "tls://127.0.0.1:\(port)?ca=\(certs.ca)"])
        #expect(call.status == 0 && call.out.contains("\"id\": \"tls1\""), "\(call.err)")
    }

    @Test("refused: an authority the client does not trust, an expired certificate, a plain TCP client")
    func refusals() throws {
        let certs = try TestCertificates()
        let proxy = try Self.proxy(certs)
        let port = try #require(proxy.tcpPort)
        #expect(throws: ClientError.self) { try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.otherCA)")!) }
        do {
            _ = try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.otherCA)")!)
        } catch {
            #expect("\(error)".contains("certificate verify failed"), "\(error)")
        }
        let plain = try LineClient(.tcp(host: "127.0.0.1", port: port), timeoutSeconds: 5)
        try plain.send(#"{"jsonrpc":"2.0","id":1,"method":"health_check"}"# + "\n")
        #expect((try? plain.readLine()) == nil, "plain text gets no answer on a TLS port: the connection closes")
        #expect(try HTTPExchange.roundTrip(port: port, Array("GET / HTTP/1.1\r\n\r\n".utf8)).isEmpty)
        usleep(100_000)
        #expect(proxy.logText.contains("TLS failed"))
        #expect(try proxy.client().result("health_check") == .bool(true), "the server goes on")

        let expired = try Self.proxy(certs, cert: certs.expiredCert)
        sleep(1)  // `-days 0`: expired from the next second on
        do {
            _ = try LineClient(ProxyAddress("tls://127.0.0.1:\(try #require(expired.tcpPort))?ca=\(certs.ca)")!)
            Issue.record("an expired certificate was accepted")
        } catch {
            #expect("\(error)".contains("certificate has expired"), "\(error)")
        }
    }

    @Test("mutual TLS: server.tls.client_ca turns away clients without a certificate it signed; no token needed off loopback")
    func mutualTLS() throws {
        let certs = try TestCertificates()
        let yaml = "server:\n  listen: \"0.0.0.0:0\"\n" + certs.serverYAML(clientCA: certs.ca)
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig(yaml)])
        let port = try #require(proxy.tcpPort)
        #expect(proxy.logText.contains("(TLS, client certificates required)"))
        let anonymous = Result { () throws -> String? in
            let c = try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)")!, timeoutSeconds: 5)
            return try c.call("health_check")["result"]?.jsonText
        }
        #expect((try? anonymous.get()) == nil, "without a client certificate nothing is answered")
        let other = try TestCertificates(name: "stranger")
        let stranger = Result { () throws -> String? in
            let c = try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)&cert=\(other.clientCert)&key=\(other.clientKey)")!, timeoutSeconds: 5)
            return try c.call("health_check")["result"]?.jsonText
        }
        #expect((try? stranger.get()) == nil, "a certificate from another authority is refused")
        let agent = try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)&cert=\(certs.clientCert)&key=\(certs.clientKey)")!)
        #expect(try agent.result("health_check") == .bool(true))
    }

    @Test("HTTPS on http_listen with the same certificate")
    func https() throws {
        let certs = try TestCertificates()
        let proxy = try Self.proxy(certs)
        let port = try #require(proxy.httpPort)
        #expect(proxy.logText.contains("HTTP on https://127.0.0.1:\(port)"))
        let ok = try runProgram("/usr/bin/curl", ["-s", "--cacert", certs.ca, "https://localhost:\(port)/healthz"])
        #expect(ok.status == 0 && ok.out == "ok\n", "\(ok.err)")
        let post = try runProgram("/usr/bin/curl", ["-s", "--cacert", certs.ca, "-d", #"{"jsonrpc":"2.0","id":1,"method":"health_check"}"#,
                                                    "https://127.0.0.1:\(port)/"])
        #expect(post.out == #"{"jsonrpc":"2.0","id":1,"result":true}"# + "\n")
        let untrusted = try runProgram("/usr/bin/curl", ["-s", "--cacert", certs.otherCA, "https://localhost:\(port)/healthz"])
        #expect(untrusted.status != 0)
    }

    @Test("SIGHUP reads the certificate files again: new connections get the new certificate, open ones stay")
    func reloadCertificates() throws {
        let certs = try TestCertificates()
        let live = ProxyProcess.makeTempDir()
        try FileManager.default.copyItem(atPath: certs.serverCert, toPath: live + "/cert.pem")
        try FileManager.default.copyItem(atPath: certs.serverKey, toPath: live + "/key.pem")
        let yaml = "server:\n  listen: \"0\"\n  tls:\n    cert: \(live)/cert.pem\n    key: \(live)/key.pem\n"
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig(yaml)])
        let port = try #require(proxy.tcpPort)
        let open = try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)")!)

        let renewed = try TestCertificates(name: "renewed")
        for (from, to) in [(renewed.serverCert, "cert.pem"), (renewed.serverKey, "key.pem")] {
            try FileManager.default.removeItem(atPath: live + "/" + to)
            try FileManager.default.copyItem(atPath: from, toPath: live + "/" + to)
        }
        proxy.process?.send(SIGHUP)
        for _ in 0..<100 where !proxy.logText.contains("TLS certificates reloaded") { usleep(20_000) }
        #expect(proxy.logText.contains("TLS certificates reloaded"))
        #expect(try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(renewed.ca)")!).result("health_check") == .bool(true))
        #expect(throws: ClientError.self) { try LineClient(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)")!) }
        #expect(try open.result("health_check") == .bool(true), "a connection made before the reload goes on")
    }

    @Test("a certificate that cannot be read stops the start, naming the file")
    func badCertificateFile() throws {
        let dir = ProxyProcess.makeTempDir()
        let yaml = "server:\n  listen: \"0\"\n  tls:\n    cert: \(dir)/missing.pem\n    key: \(dir)/missing.key\n"
        let r = try runCLI(["serve", "--config", try writeConfig(yaml), "--socket", dir + "/s.sock", "--database", dir + "/d.db"])
        #expect(r.status != 0 && r.err.contains("server.tls: cannot use the certificate \(dir)/missing.pem"), "\(r.err)")
    }
}

/// libpq's TLS to PostgreSQL, passed through: the test cluster serves TLS with
/// a throwaway authority (`STORAGE_PROXY_TEST_PG_CA`, see scripts/test-services).
@Suite("PostgreSQL over TLS")
struct PostgresTLSTests {
    static func authority() throws -> String {
        try #require(ProcessInfo.processInfo.environment["STORAGE_PROXY_TEST_PG_CA"], "run through scripts/test (it starts PostgreSQL with TLS)")
    }

    /// How many of the database's sessions use TLS, and how many there are.
    static func sessions(_ url: String) throws -> String {
        let name = String(url.split(separator: "/").last!.prefix { $0 != "?" })
        return try TestPostgres.psql(try TestPostgres.serverURL(),
            "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '\(name)'").out
    }

    @Test("sslmode=verify-full with sslrootcert in the URL: every pooled connection is TLS")
    func verifyFullURL() throws {
        let db = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let url = db + "?sslmode=verify-full&sslrootcert=\(try Self.authority())"
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--storage", "postgresql", "--database", url])
        let client = try proxy.client()
        _ = try client.result("save_task", ["task": sampleTask(id: "pg-tls")])
        #expect(try client.result("get_task", ["task_id": "pg-tls"])["id"] == "pg-tls")
        let counts = try Self.sessions(db).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "/")
        #expect(counts.count == 2 && counts[0] == counts[1] && Int(counts[1]) ?? 0 >= 1, "\(counts)")
    }

    @Test("the same from storage.postgresql keys; an authority that did not sign the server's certificate stops the start")
    func keysAndWrongAuthority() throws {
        let db = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let hostPort = db.split(separator: "@").last!.split(separator: "/").first!.split(separator: ":")
        let name = db.split(separator: "/").last!
        func yaml(_ ca: String) -> String {
            "storage:\n  type: postgresql\n  postgresql:\n    host: \(hostPort[0])\n    port: \(hostPort[1])\n    database: \(name)\n"
                + "    user: postgres\n    password: not-shown-anywhere\n    sslmode: verify-full\n    sslrootcert: \(ca)\n"
        }
        let proxy = try ProxyProcess(backend: .sqlite, arguments: ["--config", try writeConfig(yaml(try Self.authority()))])
        #expect(try proxy.client().result("health_check") == .bool(true))

        let stranger = try TestCertificates(name: "stranger")
        let dir = ProxyProcess.makeTempDir()
        let r = try runCLI(["serve", "--config", try writeConfig(yaml(stranger.ca)), "--socket", dir + "/s.sock"])
        #expect(r.status != 0 && r.err.contains("certificate verify failed"), "\(r.err)")
        #expect(!r.err.contains("not-shown-anywhere"))
    }
}
