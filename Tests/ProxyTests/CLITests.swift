import Foundation
import Spawn
import ProxyCore
import ProxyConfig
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
        let saved = try run(["call", "save_task", #"{"task":{"id":"t1","agent_name":"a","task_prompt":"p","schedule_type":"cron","schedule_value":"0 7 * * *"}}"#, "--address", address])
        #expect(saved.status == 0 && saved.out == "\"t1\"\n")
        let got = try run(["call", "get_task", #"{"task_id":"t1"}"#, "--address", address])
        #expect(got.status == 0 && got.out.contains("\"agent_name\": \"a\""))
        let bad = try run(["call", "get_task", #"{"task_id":1}"#, "--address", address])
        #expect(bad.status == 1 && bad.err.contains("-32602"))
        let down = try run(["call", "health_check", "--address", "unix:///nonexistent/p.sock"])
        #expect(down.status == 2 && down.err.contains("cannot connect"))
    }

    @Test("a database that cannot be used: the start fails naming the file and the reason")
    func unusableDatabaseNamesPathAndReason() throws {
        let dir = ProxyProcess.makeTempDir()
        let notADatabase = dir + "/notes.txt"
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: notADatabase))
        let garbage = try run(["serve", "--socket", dir + "/a.sock", "--database", notADatabase])
        #expect(garbage.status != 0)
        #expect(garbage.err.contains(notADatabase) && garbage.err.contains("file is not a database"), "\(garbage.err)")
        #expect(!garbage.err.contains("Internal error"))

        let readOnly = try Tmpfs(megabytes: 1, readOnly: true)
        defer { readOnly.unmount() }
        let locked = try run(["serve", "--socket", dir + "/b.sock", "--database", readOnly.path + "/data.db"])
        #expect(locked.status != 0)
        #expect(locked.err.contains("the folder \(readOnly.path) is not writable (Read-only file system)"), "\(locked.err)")

        _ = try run(["migrate", "--database", dir + "/data.db"])
        let backup = try run(["backup", "--database", dir + "/data.db", "--to", dir + "/missing/copy.db"])
        #expect(backup.status != 0)
        #expect(backup.err.contains("the folder \(dir)/missing does not exist"), "\(backup.err)")
    }

    @Test func migrateIsIdempotent() throws {
        let dir = ProxyProcess.makeTempDir()
        let first = try run(["migrate", "--database", "\(dir)/sub/data.db"])
        #expect(first.status == 0 && first.out.contains("applied migration(s) 1"))
        let second = try run(["migrate", "--database", "\(dir)/sub/data.db"])
        #expect(second.status == 0 && second.out.contains("up to date (version 10)"))
    }

    @Test func noArgumentsServesThePersonalEditionInDotStorage() throws {
        let dir = ProxyProcess.makeTempDir()
        let p = try ChildProcess(ProxyProcess.binary, [], directory: dir, stderr: .discard)
        defer { p.send(SIGINT); p.wait() }
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

    @Test("a backend URL that cannot be used stops the command before it starts, naming the key, never the password",
          arguments: [
              (["--database", "postgresql://agent:hunter2-secret@db.example:notaport/agents"], "storage.postgresql.url"),
              (["--database", "postgresql://agent:hunter2-secret@db.example/agents?hunter2=1"], "storage.postgresql.url"),
              (["--cache", "rediss://:hunter2-secret@cache.example:6380/0"], "cache.redis.url"),
              (["--cache", "redis://:hunter2-secret@cache.example:port/0"], "cache.redis.url"),
          ])
    func aBadBackendURLIsAConfigError(flags: [String], key: String) throws {
        let r = try run(["migrate"] + flags)
        #expect(r.status != 0)
        #expect(r.err.contains(key), "\(r.err)")
        #expect(!r.err.contains("hunter2"), "\(r.err)")
        #expect(!r.err.contains("Invalid params"), "a config error is not a JSON-RPC error: \(r.err)")
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
