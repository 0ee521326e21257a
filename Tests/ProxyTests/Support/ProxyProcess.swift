import Foundation
import Testing
import ProxyCore
import Spawn
import StorageProxyClient

/// The storage backends the shared behaviour suite runs against. Each
/// backend added to the proxy adds a case here; every behaviour test then
/// runs against it too.
enum TestBackend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case postgresql

    var description: String { rawValue }

    /// The `serve` flags that put a fresh, empty store in `dir` (the same
    /// store again when the same `dir` is served again: restarts).
    func serveArguments(in dir: String) throws -> [String] {
        switch self {
        case .sqlite:
            return ["--storage", "sqlite", "--database", "\(dir)/data.db"]
        case .postgresql:
            return ["--storage", "postgresql", "--database", try TestPostgres.database(named: dir)]
        }
    }
}

/// Whether the suites run under a sanitizer (scripts/sanitize): memory
/// figures mean nothing there (its quarantine keeps freed memory), and the
/// heaviest loads are cut down (a sanitized proxy is several times slower,
/// and the ThreadSanitizer pass is CI's longest step).
let underSanitizer = ProcessInfo.processInfo.environment["STORAGE_PROXY_SANITIZER"] != nil

/// Databases on the throwaway PostgreSQL that `scripts/test` starts.
enum TestPostgres {
    static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["STORAGE_PROXY_TEST_POSTGRES"] else {
            throw ClientError("no test PostgreSQL: run the tests through scripts/test, which starts one")
        }
        return url
    }

    /// A database for one test folder, created on first use. The cluster's
    /// collation is C (byte order, as SQLite's); `icuLocale` gives it a
    /// natural-language one instead, which orders text keys differently.
    static func database(named folder: String, icuLocale: String? = nil) throws -> String {
        let server = try serverURL()
        let name = "t_" + String(folder.split(separator: "/").last ?? "x").lowercased().filter { $0.isLetter || $0.isNumber }
        let collation = icuLocale.map { " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '\($0)' LOCALE 'C.UTF-8'" } ?? ""
        _ = try psql(server, "CREATE DATABASE \(name)\(collation)")  // "already exists" on a restart is fine
        return server.replacingOccurrences(of: "/proxy_test", with: "/\(name)")
    }

    /// Runs `psql` quietly, unaligned and without headers: the output is the bare values.
    static func psql(_ url: String, _ sql: String) throws -> CLIRun {
        try runProgram(psqlPath, ["-qAtX", "-d", url, "-c", sql])
    }

    static let psqlPath = ProcessInfo.processInfo.environment["STORAGE_PROXY_TEST_POSTGRES_BIN"].map { $0 + "/psql" } ?? "/usr/bin/psql"
}

/// A real `storage-proxy serve` process in a temporary folder, over a real
/// Unix socket (and TCP when asked). Stopped (SIGKILL) when released.
final class ProxyProcess {
    let dir: String
    let backend: TestBackend
    let extraArguments: [String]
    private(set) var process: ChildProcess?
    private(set) var stderrPath: String
    var socketPath: String { "\(dir)/proxy.sock" }
    var address: ProxyAddress { .unix(socketPath) }

    /// The `storage-proxy` binary built next to the test bundle.
    static let binary: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("storage-proxy").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        fatalError("storage-proxy binary not found near \(exe)")
    }()

    init(backend: TestBackend = .sqlite, arguments: [String] = [], dir: String? = nil) throws {
        self.backend = backend
        self.extraArguments = arguments
        self.dir = dir ?? Self.makeTempDir()
        stderrPath = "\(self.dir)/proxy.log"
        try start()
    }

    static func makeTempDir() -> String {
        var template = Array("/tmp/storage-proxy-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    /// Starts (or restarts) the server and waits until it answers.
    func start(extra: [String] = []) throws {
        let p = try ChildProcess(
            Self.binary, ["serve", "--socket", socketPath] + (try backend.serveArguments(in: dir)) + extraArguments + extra,
            directory: dir, stdout: .appendTo(stderrPath), stderr: .appendTo(stderrPath))
        process = p
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !p.isRunning { throw ClientError("proxy exited at start: \(logText)") }
            if let c = try? LineClient(address), (try? c.call("health_check"))?["result"] == .bool(true) { return }
            usleep(20_000)
        }
        throw ClientError("proxy did not answer within 20 s: \(logText)")
    }

    var logText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func client() throws -> LineClient { try LineClient(address) }

    /// Sends a signal and waits for the process to exit; returns how it ended.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> ChildProcess.Termination? {
        guard let p = process else { return nil }
        p.send(signal)
        return p.wait()
    }

    /// The process's peak resident memory (VmHWM).
    func peakMemoryKiB() throws -> Int {
        let pid = try #require(process?.pid)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    var tcpPort: Int? {
        for line in logText.split(separator: "\n") where line.contains("listening on tcp:") {
            if let port = line.split(separator: ":").last.flatMap({ Int($0.split(separator: " ").first ?? "") }) { return port }
        }
        return nil
    }

    /// The HTTP endpoint's port, from the log line that announced it (`--http-listen 0` picks one).
    var httpPort: Int? {
        for line in logText.split(separator: "\n") where line.contains("HTTP on http") {
            let rest = line.split(separator: "://").last ?? ""
            if let port = rest.split(separator: " ").first?.split(separator: ":").last.flatMap({ Int($0) }) { return port }
        }
        return nil
    }

    deinit {
        if let p = process { p.send(SIGKILL); p.wait() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension LineClient {
    /// Calls and returns `result`, failing the test's expectations through a thrown error on a JSON-RPC error.
    func result(_ method: String, _ params: JSONValue? = nil) throws -> JSONValue {
        let r = try call(method, params)
        if let error = r["error"] { throw ClientError("\(method) failed: \(error.jsonText)") }
        return r["result"] ?? .null
    }

    /// Calls and returns the error code (nil when it succeeded).
    func errorCode(_ method: String, _ params: JSONValue? = nil) throws -> Int64? {
        try call(method, params)["error"]?.objectValue?["code"]?.intValue
    }

    /// Sends raw text (a line or several) and reads `count` response lines.
    func exchange(_ raw: String, expect count: Int) throws -> [JSONValue] {
        try send(raw)
        return try (0..<count).map { _ in
            guard let line = try readLine() else { throw ClientError("connection closed") }
            return try JSONParser.parse(line)
        }
    }
}

/// A task with the required fields, for tests.
func sampleTask(agent: String = "agent-a", id: String? = nil, extra: [(String, JSONValue)] = []) -> JSONValue {
    var o: JSONObject = ["agent_name": .string(agent), "task_prompt": "summarise the news",
                         "schedule_type": "cron", "schedule_value": "0 9 * * *"]
    if let id { o["id"] = .string(id) }
    for (k, v) in extra { o[k] = v }
    return .object(o)
}
