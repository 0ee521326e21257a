import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `storage-proxy export`: the SQL dump loads with `psql -f` into an empty
/// database (and again, harmlessly) with the same checksums; JSON lines hold
/// every row by column name.
@Suite("export")
struct ExportTests {
    @Test("export → psql -f into an empty database → the same checksums, and a proxy serves it as it is")
    func sqlDumpLoadsWithPsql() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 1500)
        let original = try source.client().result("get_task", ["task_id": "T0"])
        source.stop()
        let db = "\(source.dir)/data.db", dump = "\(source.dir)/dump.sql"

        let export = try runCLI(["export", "--database", db, "--output", dump])
        #expect(export.status == 0 && export.err.contains("exported 3 tasks, 1500 logs, 2 metadata"), "\(export.err)")
        let targetDir = ProxyProcess.makeTempDir()
        let target = try TestPostgres.database(named: targetDir)
        for _ in 0..<2 {  // the second load finds everything present and changes nothing
            let load = try runProgram(TestPostgres.psqlPath, ["-qX", "-d", target, "-f", dump])
            #expect(load.status == 0 && !load.err.contains("ERROR"), "\(load.err)")
            let sums = try runCLI(["checksum", db, target])
            #expect(sums.status == 0 && sums.out.contains(" 1500 "), "\(sums.out)\(sums.err)")
        }
        let migrate = try runCLI(["migrate", "--database", target])  // the dump recorded its schema version
        #expect(migrate.out.contains("schema is up to date (version 10)"), "\(migrate.out)\(migrate.err)")
        let proxy = try ProxyProcess(backend: .postgresql, dir: targetDir)
        #expect(try proxy.client().result("get_task", ["task_id": "T0"]) == original)
    }

    @Test("JSON lines: one row per line by column name, tasks before their logs")
    func jsonLines() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 30)
        source.stop()
        let out = "\(source.dir)/rows.jsonl"
        let export = try runCLI(["export", "--database", "\(source.dir)/data.db", "--output", out])  // format from the extension
        #expect(export.status == 0, "\(export.err)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let tables = lines.compactMap { $0.objectValue?["table"]?.stringValue }
        #expect(tables == Array(repeating: "tasks", count: 3) + Array(repeating: "logs", count: 30) + ["metadata", "metadata"])
        let t0 = try #require(lines.first { $0.objectValue?["row"]?.objectValue?["id"] == "T0" }?.objectValue?["row"]?.objectValue)
        #expect(t0["task_prompt"] == "it's \"quoted\" \\ back\nline é 🙂" && t0["repeat"] == true && t0["last_run"] == .null)
        #expect(t0["extra"] == ["tags": ["z": 1, "a": [1.5, nil, "x", 1e300]]])
        let log = try #require(lines[4].objectValue?["row"]?.objectValue)
        #expect(Set(log.keys) == ["id", "task_id", "level", "message", "metadata", "created_at"])

        let toStdout = try runCLI(["export", "--database", "\(source.dir)/data.db", "--format", "jsonl"])
        #expect(toStdout.out.split(separator: "\n").count == 35)
    }

    @Test("a failed export leaves no file behind")
    func failedExportLeavesNothing() throws {
        let dir = ProxyProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try runCLI(["export", "--database", "\(dir)/missing.db", "--output", "\(dir)/dump.sql"])
        #expect(run.status != 0 && run.err.contains("no database at"), "\(run.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        let badFormat = try runCLI(["export", "--format", "csv"])
        #expect(badFormat.status != 0 && badFormat.err.contains("sql or jsonl"))
    }

    @Test("a source at an older schema version is refused by name, with the command that fixes it")
    func olderSourceIsRefused() throws {
        let dir = ProxyProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try runCLI(["migrate", "--database", "\(dir)/old.db"]).status == 0)
        // As a database last migrated by an older storage-proxy records itself.
        let downgrade = try runProgram("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                                                            + "c.execute('DELETE FROM schema_migrations WHERE version > 1'); c.commit()",
                                                            "\(dir)/old.db"])
        try #require(downgrade.status == 0, "\(downgrade.err)")
        let run = try runCLI(["export", "--database", "\(dir)/old.db", "--output", "\(dir)/dump.sql"])
        #expect(run.status != 0 && run.err.contains("schema version 1") && run.err.contains("storage-proxy migrate"), "\(run.err)")
    }
}
