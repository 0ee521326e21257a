import Foundation
import StorageCore
import Testing

/// The `storage-proxy` command line as scripts use it.
@Suite("Command line")
struct CLITests {
    func run(_ args: [String], cwd: String? = nil) throws -> CLIRun { try runCLI(args, cwd: cwd) }

    @Test func callPrintsResultsAndFailsOnErrors() throws {
        let proxy = try ProxyProcess()
        let address = "unix://\(proxy.socketPath)"
        let ok = try run(["call", "health_check", "--address", address])
        #expect(ok.status == 0 && ok.out == "true\n")
        let saved = try run(["call", "save_task", #"{"task":{"id":"t1","agent_name":"a","task_prompt":"p","schedule_type":"cron","schedule_value":"x"}}"#, "--address", address])
        #expect(saved.status == 0 && saved.out == "\"t1\"\n")
        let got = try run(["call", "get_task", #"{"task_id":"t1"}"#, "--address", address])
        #expect(got.status == 0 && got.out.contains("\"agent_name\": \"a\""))
        let bad = try run(["call", "get_task", #"{"task_id":1}"#, "--address", address])
        #expect(bad.status == 1 && bad.err.contains("-32602"))
        let down = try run(["call", "health_check", "--address", "unix:///nonexistent/p.sock"])
        #expect(down.status == 2 && down.err.contains("cannot connect"))
    }

    @Test func migrateIsIdempotent() throws {
        let dir = ProxyProcess.makeTempDir()
        let first = try run(["migrate", "--database", "\(dir)/sub/data.db"])
        #expect(first.status == 0 && first.out.contains("applied migration(s) 1"))
        let second = try run(["migrate", "--database", "\(dir)/sub/data.db"])
        #expect(second.status == 0 && second.out.contains("up to date (version 1)"))
    }

    @Test func noArgumentsServesThePersonalEditionInDotStorage() throws {
        let dir = ProxyProcess.makeTempDir()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ProxyProcess.binary)
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.interrupt(); p.waitUntilExit() }
        var answered = false
        for _ in 0..<200 where !answered {
            usleep(20_000)
            answered = (try? run(["call", "health_check"], cwd: dir))?.out == "true\n"
        }
        #expect(answered)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/storage/data.db"))
    }

    @Test func helpExplainsEveryServeOption() throws {
        let help = try run(["serve", "--help"]).out
        for option in ["--config", "--storage", "--database", "--cache", "--socket", "--listen"] {
            #expect(help.contains(option))
        }
    }

    @Test func aBadConfigFileIsRefusedNamingKeyAndLine() throws {
        let config = try writeConfig("server:\n  max_connections: many\n")
        let r = try run(["serve", "--config", config, "--socket", ProxyProcess.makeTempDir() + "/s.sock"])
        #expect(r.status != 0)
        #expect(r.err.contains("proxy.yaml:2") && r.err.contains("server.max_connections"))
    }

    @Test func theCommittedConfigFilesLoad() throws {
        let root = protocolFolder.deletingLastPathComponent()
        let env = ["DB_PASSWORD": "pw", "REDIS_PASSWORD": "rpw", "PROXY_AUTH_TOKEN": "tok"]
        let personal = try ConfigLoader.load(yaml: String(contentsOf: root.appendingPathComponent("config/storage.yaml"), encoding: .utf8), environment: env)
        #expect(personal.storageType == .sqlite && personal.sqlite.path == "./storage/data.db" && personal.sqlite.synchronous == "FULL")
        let enterpriseYAML = try String(contentsOf: root.appendingPathComponent("config/storage.enterprise.yaml"), encoding: .utf8)
        let enterprise = try ConfigLoader.load(yaml: enterpriseYAML, environment: env)
        #expect(enterprise.storageType == .postgresql && enterprise.postgresql.password == "pw")
        #expect(enterprise.cacheType == .redis && enterprise.redis.password == "rpw" && enterprise.server.authToken == "tok")
        #expect(enterprise.redis.keyPrefix == "storage-proxy:")
        var inProcess = env
        inProcess["CACHE_TYPE"] = "memory"
        #expect(try ConfigLoader.load(yaml: enterpriseYAML, environment: inProcess).cacheType == .memory)
    }
}
