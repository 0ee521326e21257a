import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `storage-proxy import-files` on a fixture `storage/` folder with good and
/// bad files (Fixtures/storage): what lands, what is skipped and why, that a
/// second run adds nothing, that a dry run writes nothing, and that the
/// source folder is never touched.
@Suite("import-files")
struct ImportFilesTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/storage").path

    /// Every file's path, size, modification time and bytes: equal before and after means untouched.
    static func snapshot(_ folder: String) throws -> [String: String] {
        var files: [String: String] = [:]
        let walker = FileManager.default.enumerator(atPath: folder)!
        while let name = walker.nextObject() as? String {
            let path = folder + "/" + name
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let bytes = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "(folder)"
            files[name] = "\(attributes[.size] ?? 0) \(attributes[.modificationDate] ?? "") \(bytes)"
        }
        return files
    }

    func importFiles(_ backend: TestBackend, dir: String, _ extra: [String] = []) throws -> CLIRun {
        let run = try runCLI(["import-files", "--source", Self.fixture] + (try backend.serveArguments(in: dir)) + extra)
        #expect(run.status == 0, "\(run.err)")
        return run
    }

    @Test("imports the good files, reports the bad ones, adds nothing the second time", arguments: TestBackend.allCases)
    func importsAndIsIdempotent(backend: TestBackend) throws {
        let before = try Self.snapshot(Self.fixture)
        let dir = ProxyProcess.makeTempDir()

        let first = try importFiles(backend, dir: dir)
        #expect(first.out.contains("tasks: 2 imported, 0 already present, 4 skipped"), "\(first.out)")
        #expect(first.out.contains("logs:  6 imported, 0 already present, 2 skipped (3 files)"), "\(first.out)")
        for reason in ["tasks/broken.json: bad JSON", "tasks/list.json: not a JSON object", "tasks/noprompt.json: missing task_prompt",
                       "tasks/badtime.json: Invalid params: task.next_run", "logs/ghost.log: logs for unknown task ghost",
                       "logs/mail-1.jsonl:3: no created_at/timestamp"] {
            #expect(first.out.contains(reason), "missing: \(reason)\n\(first.out)")
        }

        let second = try importFiles(backend, dir: dir)
        #expect(second.out.contains("tasks: 0 imported, 2 already present, 4 skipped"), "\(second.out)")
        #expect(second.out.contains("logs:  0 imported, 6 already present, 2 skipped"), "\(second.out)")

        // What landed, read back through a proxy on the same storage.
        let proxy = try ProxyProcess(backend: backend, dir: dir)
        let c = try proxy.client()
        let news = try #require(try c.result("get_task", ["task_id": "news"]).objectValue)  // id from the file name
        #expect(news["next_run"] == "2026-11-25T09:00:00.000000Z" && news["repeat"] == true)
        let mail = try #require(try c.result("get_task", ["task_id": "mail-1"]).objectValue)
        #expect(mail["status"] == "done" && mail["owner"] == "ops" && mail["created_at"] == "2026-11-20T08:00:00.000000Z")
        #expect(try c.result("list_tasks").arrayValue?.count == 2)

        let newsLogs = try #require(try c.result("query_logs", ["task_id": "news"]).arrayValue?.compactMap(\.objectValue))
        #expect(newsLogs.map { $0["message"] } == ["done", "parse failed\nTraceback (most recent call last):\n  File \"agent.py\", line 3, in <module>\nValueError: bad date",
                                                   "slow feed - example.com", "fetching feeds"])
        #expect(newsLogs.last?["created_at"] == "2026-11-24T10:00:00.123000Z" && newsLogs.last?["id"] == "logs/news.log:1")
        #expect(newsLogs[1]["level"] == "ERROR")
        let mailLogs = try #require(try c.result("query_logs", ["task_id": "mail-1"]).arrayValue?.compactMap(\.objectValue))
        #expect(mailLogs.count == 2)
        #expect(mailLogs.first { $0["message"] == "sorted 12 mails" }?["metadata"] == ["count": 12])
        #expect(mailLogs.first { $0["message"] == "idle" }?["created_at"] == "2026-11-24T10:05:00.000000Z")

        #expect(try Self.snapshot(Self.fixture) == before)  // the source is only read
    }

    @Test("a task with more logs than one query_logs page: the second run still finds every line", arguments: TestBackend.allCases)
    func manyLogsForOneTask(backend: TestBackend) throws {
        let source = ProxyProcess.makeTempDir(), dir = ProxyProcess.makeTempDir()
        defer { for d in [source, dir] { try? FileManager.default.removeItem(atPath: d) } }
        try FileManager.default.createDirectory(atPath: source + "/tasks", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: source + "/logs", withIntermediateDirectories: true)
        try #"{"agent_name":"a","task_prompt":"p","schedule_type":"cron","schedule_value":"* * * * *"}"#
            .write(toFile: source + "/tasks/busy.json", atomically: true, encoding: .utf8)
        // Four lines per millisecond: pages of 10,000 end in the middle of equal times.
        let lines = 21_000
        let text = (0..<lines).map { i -> String in
            let ms = i / 4
            return String(format: "2026-11-24 10:%02d:%02d,%03d - INFO - line %d", ms / 60_000, ms / 1000 % 60, ms % 1000, i)
        }.joined(separator: "\n") + "\n"
        try text.write(toFile: source + "/logs/busy.log", atomically: true, encoding: .utf8)
        let args = ["import-files", "--source", source] + (try backend.serveArguments(in: dir))

        let first = try runCLI(args)
        #expect(first.out.contains("logs:  \(lines) imported, 0 already present"), "\(first.out)\(first.err)")
        let second = try runCLI(args)
        #expect(second.out.contains("logs:  0 imported, \(lines) already present"), "\(second.out)\(second.err)")
    }

    @Test("--dry-run checks everything the same way and writes nothing")
    func dryRun() throws {
        let dir = ProxyProcess.makeTempDir()
        let run = try importFiles(.sqlite, dir: dir, ["--dry-run"])
        #expect(run.out.contains("dry run"))
        #expect(run.out.contains("tasks: 2 imported, 0 already present, 4 skipped"), "\(run.out)")
        #expect(run.out.contains("logs:  6 imported"), "\(run.out)")
        #expect(run.out.contains("tasks/badtime.json: Invalid params"))  // the proxy checked it
        let proxy = try ProxyProcess(backend: .sqlite, dir: dir)
        #expect(try proxy.client().result("list_tasks") == [])
        #expect(try proxy.client().result("query_logs") == [])
    }

    @Test("--address imports through a running proxy")
    func throughARunningProxy() throws {
        let proxy = try ProxyProcess()
        let run = try runCLI(["import-files", "--source", Self.fixture, "--address", "unix://\(proxy.socketPath)"])
        #expect(run.status == 0 && run.out.contains("tasks: 2 imported"), "\(run.out)\(run.err)")
        #expect(try proxy.client().result("query_logs", ["task_id": "news"]).arrayValue?.count == 4)
        let missing = try runCLI(["import-files", "--source", "/nonexistent/storage", "--address", "unix://\(proxy.socketPath)"])
        #expect(missing.status != 0 && missing.err.contains("no folder at /nonexistent/storage"))
    }
}
