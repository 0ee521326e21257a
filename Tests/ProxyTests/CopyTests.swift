import Foundation
import Spawn
import ProxyCore
import StorageProxyClient
import Testing

/// `storage-proxy copy` between a SQLite file and a PostgreSQL database, and
/// `checksum`: round trips keep every column, an interrupted copy resumes
/// without duplicates, a non-empty target is refused unless `--merge`, and
/// the verification catches a source that changed.
@Suite("copy")
struct CopyTests {
    @Test("SQLite → PostgreSQL → SQLite keeps every row: equal checksums, and the copy serves the same answers")
    func roundTrip() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 600)
        let originalTask = try source.client().result("get_task", ["task_id": "T0"])
        let originalLogs = try source.client().result("query_logs", ["task_id": "T0", "limit": 5])
        source.stop()
        let sqliteA = "\(source.dir)/data.db"
        // Ordered by ICU's English collation (alpha, T0, Zeta-b; SQLite: T0, Zeta-b, alpha), paged two rows at a time.
        let postgres = try TestPostgres.database(named: ProxyProcess.makeTempDir(), icuLocale: "en-US")
        let dirB = ProxyProcess.makeTempDir(), sqliteB = "\(dirB)/data.db"

        #expect(try TestPostgres.psql(postgres, "SELECT 'alpha' < 'T0'").out.trimmed == "t")
        let there = try runCLI(["copy", "--from", sqliteA, "--to", postgres, "--batch-size", "2"])
        #expect(there.status == 0, "\(there.out)\(there.err)")
        #expect(there.out.contains("copied 3 tasks, 600 logs, 2 metadata"), "\(there.out)")
        #expect(there.out.contains("verified: the target holds exactly the source's rows"))
        #expect(!there.out.contains("DIFFERENT"))
        let back = try runCLI(["copy", "--from", postgres, "--to", sqliteB, "--batch-size", "2"])
        #expect(back.status == 0 && back.out.contains("verified"), "\(back.out)\(back.err)")

        let sums = try runCLI(["checksum", sqliteA, postgres, sqliteB])
        #expect(sums.status == 0, "\(sums.out)\(sums.err)")
        let lines = sums.out.split(separator: "\n").filter { $0.hasPrefix("tasks ") || $0.hasPrefix("logs ") || $0.hasPrefix("metadata ") }
        #expect(lines.count == 3 && lines.allSatisfy { $0.hasSuffix("same") }, "\(sums.out)")
        #expect(lines.first { $0.hasPrefix("logs ") }?.contains(" 600 ") == true, "\(sums.out)")

        // Beyond the checksums: a proxy on the final copy answers exactly as the original did.
        let copy = try ProxyProcess(backend: .sqlite, dir: dirB)
        #expect(try copy.client().result("get_task", ["task_id": "T0"]) == originalTask)
        #expect(try copy.client().result("query_logs", ["task_id": "T0", "limit": 5]) == originalLogs)
        #expect(try copy.client().result("get_metadata", ["key": "config"]) == ["b": [1, 2], "a": "x'y"])
    }

    @Test("a copy killed mid-way resumes after its last committed batch: no duplicates, nothing skipped")
    func killedAndResumed() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 30000)
        source.stop()
        let target = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let args = ["copy", "--from", "\(source.dir)/data.db", "--to", target, "--batch-size", "50"]

        let copy = try ChildProcess(ProxyProcess.binary, args, stdout: .discard)
        var copiedLogs = 0
        let deadline = Date().addingTimeInterval(30)
        while copiedLogs == 0 && copy.isRunning && Date() < deadline {
            copiedLogs = Int(try TestPostgres.psql(target, "SELECT count(*) FROM logs").out.trimmed) ?? 0
        }
        copy.send(SIGKILL)
        #expect(copy.wait() == .signaled(SIGKILL), "the copy finished before it could be interrupted")

        // Each batch committed with its mark: the logs present are exactly those the mark counts.
        let state = try TestPostgres.psql(target, """
            SELECT (SELECT count(*) FROM logs), (SELECT row_count FROM storage_proxy_copy_marks WHERE tbl = 'logs')
            """).out.trimmed.split(separator: "|").map { Int($0) ?? -1 }
        #expect(state.count == 2 && state[0] == state[1] && state[0] > 0 && state[0] < 30000, "\(state)")

        let resumed = try runCLI(args)
        #expect(resumed.status == 0, "\(resumed.out)\(resumed.err)")
        #expect(resumed.out.contains("resuming an interrupted copy: tasks after 3 rows, logs after \(state[0]) rows"), "\(resumed.out)")
        #expect(resumed.out.contains("copied 0 tasks, \(30000 - state[0]) logs, 2 metadata"), "\(resumed.out)")
        #expect(resumed.out.contains("verified: the target holds exactly the source's rows"), "\(resumed.out)")
        #expect(try TestPostgres.psql(target, "SELECT count(*), count(DISTINCT id) FROM logs").out.trimmed == "30000|30000")
        #expect(try TestPostgres.psql(target, "SELECT count(*) FROM storage_proxy_copy_marks").out.trimmed == "0")
    }

    @Test("a target that holds rows is refused without --merge; --merge adds what it lacks and keeps its own rows")
    func nonEmptyTargetAndMerge() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 10)
        source.stop()
        let target = try ProxyProcess(backend: .postgresql)
        let c = try target.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "alpha", extra: [("status", "theirs")])])  // same key, other content
        _ = try c.result("save_task", ["task": sampleTask(id: "own")])
        let url = try TestPostgres.database(named: target.dir)

        let refused = try runCLI(["copy", "--from", "\(source.dir)/data.db", "--to", url])
        #expect(refused.status != 0 && refused.err.contains("already holds 2 tasks") && refused.err.contains("--merge"), "\(refused.err)")
        #expect(try c.result("list_tasks").arrayValue?.count == 2)  // untouched

        let merged = try runCLI(["copy", "--from", "\(source.dir)/data.db", "--to", url, "--merge"])
        #expect(merged.status == 0, "\(merged.out)\(merged.err)")
        #expect(merged.out.contains("2 identical, 1 kept the target's own, 0 missing"), "\(merged.out)")
        #expect(merged.out.contains("1 rows were already in the target"), "\(merged.out)")
        #expect(merged.out.contains("verified: every source row is in the target"), "\(merged.out)")
        let tasks = try TestPostgres.psql(url, "SELECT id || ':' || status FROM tasks ORDER BY id COLLATE \"C\"").out
        #expect(tasks.split(separator: "\n") == ["T0:pending", "Zeta-b:pending", "alpha:theirs", "own:pending"], "\(tasks)")
        #expect(try TestPostgres.psql(url, "SELECT count(*) FROM logs").out.trimmed == "10")
    }

    @Test("rows written to the source between an interruption and the resume are caught by the verification")
    func verificationCatchesAChangedSource() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 100)
        source.stop()
        let target = "\(ProxyProcess.makeTempDir())/target.db"
        let args = ["copy", "--from", "\(source.dir)/data.db", "--to", target]
        #expect(try runCLI(args).status == 0)

        try pretendInterrupted(target: target, source: "\(source.dir)/data.db", merge: false)
        // Meanwhile a log whose key sorts before the mark lands in the source.
        try source.start()
        _ = try source.client().result("save_log", ["task_id": "T0", "level": "INFO", "message": "late", "id": "0-early"])
        source.stop()

        let resumed = try runCLI(args)
        #expect(resumed.status == 1, "\(resumed.out)\(resumed.err)")
        #expect(resumed.out.contains("logs") && resumed.out.contains("DIFFERENT"), "\(resumed.out)")
        #expect(resumed.err.contains("verification failed: logs differs"), "\(resumed.err)")
        let again = try runCLI(args + ["--merge"])  // adds the missing row
        #expect(again.status == 0 && again.out.contains("101 identical, 0 kept the target's own, 0 missing"), "\(again.out)\(again.err)")
        #expect(try runCLI(["checksum", "\(source.dir)/data.db", target]).status == 0)
    }

    @Test("a --merge copy resumed without --merge is still checked as a merge")
    func mergeResumedAsMerge() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 100)
        source.stop()
        let target = "\(ProxyProcess.makeTempDir())/target.db", from = "\(source.dir)/data.db"
        #expect(try runCLI(["copy", "--from", from, "--to", target]).status == 0)
        try pretendInterrupted(target: target, source: from, merge: true, alsoRun: """
            INSERT INTO tasks (id, agent_name, task_prompt, schedule_type, schedule_value, created_at, updated_at)
            VALUES ('own', 'a', 'p', 'cron', '* * * * *', '2026-11-25T09:00:00.000000Z', '2026-11-25T09:00:00.000000Z')
            """)

        let resumed = try runCLI(["copy", "--from", from, "--to", target])
        #expect(resumed.status == 0, "\(resumed.out)\(resumed.err)")
        #expect(resumed.out.contains("resuming an interrupted copy (merging): "), "\(resumed.out)")
        #expect(resumed.out.contains("100 identical, 0 kept the target's own, 0 missing"), "\(resumed.out)")
        #expect(resumed.out.contains("verified: every source row is in the target"), "\(resumed.out)")
    }

    /// Makes `target`, a finished copy of `source`, look like a copy killed
    /// after its tasks and 40 logs: the later logs gone, the marks in place.
    func pretendInterrupted(target: String, source: String, merge: Bool, alsoRun extraSQL: String = "") throws {
        let run = try runProgram("/usr/bin/env", ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            ids = [r[0] for r in db.execute("SELECT id FROM logs ORDER BY id")]
            db.execute("DELETE FROM logs WHERE id > ?", (ids[39],))
            marks = "INSERT INTO storage_proxy_copy_marks VALUES (?, ?, ?, ?, ?)"
            db.execute(marks, ("sqlite:" + sys.argv[2], "logs", ids[39], 40, int(sys.argv[3])))
            db.execute(marks, ("sqlite:" + sys.argv[2], "tasks", "alpha", 3, int(sys.argv[3])))
            if sys.argv[4]: db.execute(sys.argv[4])
            db.commit()
            """, target, source, merge ? "1" : "0", extraSQL])
        #expect(run.status == 0, "\(run.err)")
    }

    @Test("checksum tells databases apart by content, not only by row count")
    func checksumSeesContent() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 20)
        source.stop()
        let a = "\(source.dir)/data.db", b = "\(ProxyProcess.makeTempDir())/b.db"
        #expect(try runCLI(["copy", "--from", a, "--to", b]).status == 0)
        #expect(try runCLI(["checksum", a, b]).status == 0)

        let edit = try runProgram("/usr/bin/env", ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("UPDATE logs SET message = 'line 7: it''s dome' WHERE message = 'line 7: it''s done'")
            db.commit()
            print(db.total_changes)
            """, b])
        #expect(edit.out.trimmed == "1", "\(edit.out)\(edit.err)")
        let run = try runCLI(["checksum", a, b])
        #expect(run.status == 1 && run.err.contains("differ in logs"), "\(run.out)\(run.err)")
        let logsLine = run.out.split(separator: "\n").first { $0.hasPrefix("logs ") } ?? ""
        #expect(logsLine.contains("DIFFERENT") && logsLine.split(separator: " ").filter { $0 == "20" }.count == 2, "\(run.out)")
        #expect(run.out.split(separator: "\n").first { $0.hasPrefix("tasks ") }?.hasSuffix("same") == true, "\(run.out)")

        let missing = try runCLI(["checksum", "\(source.dir)/nothing.db"])
        #expect(missing.status != 0 && missing.err.contains("no database at"), "\(missing.err)")
    }
}

/// Three tasks with awkward content (quotes, a backslash, a new line, emoji,
/// nested extra fields, nulls, times to the microsecond), `logs` log lines
/// over them (sent pipelined, a thousand at a time), and two metadata keys.
func fillForCopy(_ proxy: ProxyProcess, logs: Int) throws {
    let c = try proxy.client()
    let tasks: [JSONValue] = [
        sampleTask(id: "T0", extra: [("task_prompt", "it's \"quoted\" \\ back\nline é 🙂"), ("repeat", true),
                                     ("tags", ["z": 1, "a": [1.5, nil, "x", 1e300]])]),
        sampleTask(agent: "b", id: "Zeta-b", extra: [("enabled", false), ("last_run", "2026-01-01T00:00:00.123456Z"),
                                                     ("repeat_interval", "1h")]),
        sampleTask(agent: "b", id: "alpha", extra: [("priority", 7), ("next_run", "2027-03-01T10:00:00.000001Z")]),
    ]
    for t in tasks { _ = try c.result("save_task", ["task": t]) }
    var sent = 0
    while sent < logs {
        let n = min(1000, logs - sent)
        let lines = (sent..<sent + n).map { i -> String in
            var params: JSONObject = ["task_id": ["T0", "Zeta-b", "alpha"][i % 3], "level": i % 7 == 0 ? "ERROR" : "INFO",
                                      "message": .string("line \(i): it's done")]
            if i % 2 == 1 { params["metadata"] = ["n": .int(Int64(i)), "k": ["b": 2, "a": 1]] }
            return JSONValue.object(["jsonrpc": "2.0", "id": .int(Int64(i)), "method": "save_log", "params": .object(params)]).jsonText + "\n"
        }
        let answers = try c.exchange(lines.joined(), expect: n)
        #expect(answers.allSatisfy { $0.objectValue?["error"] == nil })
        sent += n
    }
    _ = try c.result("save_metadata", ["key": "config", "value": ["b": [1, 2], "a": "x'y"]])
    _ = try c.result("save_metadata", ["key": "Count", "value": 3])
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

@Suite("copy errors")
struct CopyErrorTests {
    @Test("an unreachable target is named without its password, and nothing is left half-done")
    func unreachableTarget() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 3)
        source.stop()
        let run = try runCLI(["copy", "--from", "\(source.dir)/data.db", "--to", "postgresql://agent:S3cr3t-pw@127.0.0.1:1/qwen_agent"])
        #expect(run.status == 1, "\(run.out)\(run.err)")
        #expect(run.err.contains("postgresql://agent@127.0.0.1:1/qwen_agent") && run.err.contains("cannot connect"), "\(run.err)")
        #expect(!(run.out + run.err).contains("S3cr3t-pw"))
        let same = try runCLI(["copy", "--from", "\(source.dir)/data.db", "--to", "sqlite:\(source.dir)/data.db"])
        #expect(same.status != 0 && same.err.contains("the same database"), "\(same.err)")
    }
}
