import Foundation
import ProxyCore
import Spawn
import StorageProxyClient
import Testing

/// What operators type without reading the help: `--version`, addresses
/// and tokens from the environment, `host:port`, typos.
@Suite("Command line habits")
struct CLIHabitsTests {
    /// The CLI with extra environment variables.
    func run(env: [String: String], _ args: [String]) throws -> CLIRun {
        try runProgram("/usr/bin/env", env.map { "\($0)=\($1)" } + [ProxyProcess.binary] + args)
    }

    @Test func versionNamesVersionAndCommit() throws {
        let r = try runCLI(["--version"])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("storage-proxy 1.0.0 (commit ") && !r.out.contains("(commit )"), "\(r.out)")
    }

    @Test("call: STORAGE_PROXY_ADDRESS and STORAGE_PROXY_AUTH_TOKEN; host:port is TCP; an unknown scheme is refused")
    func callAddressAndToken() throws {
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig("server:\n  listen: \"0\"\n  auth_token: env-token\n")])
        let port = try #require(proxy.tcpPort)
        let ok = try run(env: ["STORAGE_PROXY_ADDRESS": "127.0.0.1:\(port)", "STORAGE_PROXY_AUTH_TOKEN": "env-token"], ["call", "health_check"])
        #expect(ok.status == 0 && ok.out == "true\n", "\(ok.err)")
        let wrong = try run(env: ["STORAGE_PROXY_ADDRESS": "tcp://127.0.0.1:\(port)", "STORAGE_PROXY_AUTH_TOKEN": "nope"], ["call", "health_check"])
        #expect(wrong.status == 1 && wrong.err.contains("-32007"))
        let viaSocket = try run(env: ["STORAGE_PROXY_ADDRESS": "unix://\(proxy.socketPath)"], ["call", "health_check"])
        #expect(viaSocket.status == 0 && viaSocket.out == "true\n")
        for bad in ["http://127.0.0.1:\(port)", "redis://x:1", "tls+x://h:1"] {
            let r = try runCLI(["call", "health_check", "--address", bad])
            #expect(r.status != 0 && r.err.contains("cannot use the address '\(bad)'"), "\(bad): \(r.err)")
        }
        #expect(ProxyAddress("db.internal:7600") == .tcp(host: "db.internal", port: 7600))
        #expect(ProxyAddress("[::1]:7600") == .tcp(host: "::1", port: 7600))
        #expect(ProxyAddress("storage/proxy.sock") == .unix("storage/proxy.sock"))
        #expect(ProxyAddress("./a:b/proxy.sock") == .unix("./a:b/proxy.sock"))
    }

    @Test("serve: the token from STORAGE_PROXY_AUTH_TOKEN when the config sets none; --log-level")
    func serveTokenFromEnvironment() throws {
        let dir = ProxyProcess.makeTempDir()
        let port = freeLoopbackPort()
        let logPath = dir + "/log"
        let p = try ChildProcess("/usr/bin/env", ["STORAGE_PROXY_AUTH_TOKEN=from-env", ProxyProcess.binary, "serve", "--socket", dir + "/p.sock",
                                                        "--database", dir + "/d.db", "--listen", "\(port)", "--log-level", "debug"],
                                       stdout: .appendTo(logPath), stderr: .appendTo(logPath))
        defer { p.send(SIGKILL); p.wait() }
        var client: LineClient?
        for _ in 0..<250 where client == nil { usleep(20_000); client = try? LineClient(.tcp(host: "127.0.0.1", port: port)) }
        let c = try #require(client)
        #expect(try c.errorCode("health_check") == -32007, "a token is required")
        #expect(try c.result("auth", ["token": "from-env"]) == .bool(true))
        usleep(100_000)
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        #expect(log.contains("auth_token=set") && log.contains("DEBUG call auth"), "\(log)")
        #expect(!log.contains("from-env"))
    }

    @Test("typos: an unknown method and an unknown config key name the closest one")
    func didYouMean() throws {
        let proxy = try ProxyProcess()
        let answer = try proxy.client().call("sav_task", ["task": sampleTask()])
        #expect(answer["error"]?["message"] == "Method not found: sav_task (did you mean save_task?)")
        #expect(answer["error"]?["data"]?["did_you_mean"] == "save_task")
        let far = try proxy.client().call("completely_unrelated_name")
        #expect(far["error"]?["message"] == "Method not found: completely_unrelated_name" && far["error"]?["data"]?["did_you_mean"] == nil)

        let config = try writeConfig("server:\n  max_conections: 3\n")
        let r = try runCLI(["serve", "--config", config, "--socket", ProxyProcess.makeTempDir() + "/s.sock"])
        #expect(r.status != 0 && r.err.contains("server.max_conections: unknown key (did you mean server.max_connections?)"), "\(r.err)")
        let nested = try writeConfig("storage:\n  postgresql:\n    pool_sise: 3\n")
        let n = try runCLI(["serve", "--config", nested, "--socket", ProxyProcess.makeTempDir() + "/s.sock"])
        #expect(n.err.contains("did you mean storage.postgresql.pool_size?"), "\(n.err)")
    }
}
