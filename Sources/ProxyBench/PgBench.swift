#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Spawn
import SQLStore

/// pgbench with the SQL the proxy runs, for the side-by-side figures.
public enum PgBench {
    /// A pgbench script for a workload (ids are the bench's seeded `bench-N` tasks).
    public static func script(for workload: String) -> String? {
        func withID(_ sql: String, _ params: [String]) -> String {
            var out = sql
            for (i, p) in params.enumerated().reversed() { out = out.replacingOccurrences(of: "$\(i + 1)", with: p) }
            return "\\set n random(0, 999)\n" + out.replacingOccurrences(of: "\n", with: " ") + ";\n"
        }
        switch workload {
        case "get_task": return withID(Statements.postgresql.selectTask, ["'bench-' || :n"])
        case "save_log":
            return withID(Statements.postgresql.insertLog, ["gen_random_uuid()::text", "'bench-' || :n", "'INFO'", "'step done'",
                                                       "'{\"ms\":12}'", "now()"])
        case "claims": return claimCycle
        default: return nil
        }
    }

    /// One scheduler cycle, as `ClaimLoop` runs it through the proxy: the
    /// proxy's claim statement (returning only the id, which `\gset` keeps),
    /// then its completion statement with a next run in the past. Each
    /// pgbench client is a worker.
    static var claimCycle: String {
        func bind(_ sql: String, _ params: [String]) -> String {
            var out = sql
            for (i, p) in params.enumerated().reversed() { out = out.replacingOccurrences(of: "$\(i + 1)", with: "(\(p))") }
            return out.replacingOccurrences(of: "\n", with: " ")
        }
        let claims = ClaimStatements.postgresql, worker = "'pgbench-' || :client_id"
        let claim = claims.claim.components(separatedBy: " RETURNING ")[0] + " RETURNING id"
        return bind(claim, ["now()", "NULL", "1", "3", worker, "now() + interval '60 seconds'"]) + " \\gset\n"
            + bind(claims.complete, ["'pending'", "'2020-01-01T00:00:00Z'", "'completed'", "NULL", "now()", ":id", worker]) + ";\n"
    }

    /// Runs pgbench in prepared mode and returns its transactions per second.
    /// pgbench checks `-T` only between transactions: one stuck on a lock (or
    /// a slow cluster) runs on. So the bench keeps its own deadline: past
    /// `-T` plus a grace, pgbench is interrupted, then killed, and its server
    /// sessions (`application_name` pgbench) are terminated, so nothing it
    /// started keeps running after the bench has given up.
    public static func run(script: String, url: String, connections: Int, seconds: Double, dir: String,
                           grace: Double = 30) throws -> Double {
        let file = "\(dir)/pgbench-\(UUID().uuidString).sql"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let out = file + ".out", err = file + ".err"
        let child = try ChildProcess(try tool("pgbench"), ["-n", "-M", "prepared", "-c", String(connections), "-j", "2",
                                                          "-T", String(Int(seconds.rounded(.up))), "-f", file, url],
                                     stdout: .appendTo(out), stderr: .appendTo(err))
        let deadline = Date().addingTimeInterval(seconds.rounded(.up) + grace)
        while child.isRunning, Date() < deadline { usleep(50_000) }
        if child.isRunning {
            child.send(SIGINT)
            for _ in 0..<40 where child.isRunning { usleep(50_000) }
            child.send(SIGKILL)
            child.wait()
            _ = try? ChildProcess.run(try tool("psql"), ["-qAtX", "-d", url, "-c",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbench' AND pid <> pg_backend_pid()"])
            throw BenchError("pgbench ran \(Int(grace)) s past its -T \(Int(seconds.rounded(.up))) and was stopped (its sessions too); "
                             + "its output:\n" + ChildProcess.contents(of: out) + ChildProcess.contents(of: err))
        }
        let text = ChildProcess.contents(of: out)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst(6).split(separator: " ").first ?? "") else {
            throw BenchError("pgbench gave no figure:\n\(text)\(ChildProcess.contents(of: err))")
        }
        return tps
    }

    /// What the cluster does with a commit: `fsync` and `synchronous_commit`,
    /// printed with every PostgreSQL figure (fsync=off hides the cost of durability).
    public static func durability(url: String) -> String {
        guard let psql = try? tool("psql"),
              let run = try? ChildProcess.run(psql, ["-qAtX", "-d", url, "-c", "SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')"]),
              run.status == 0 else { return "fsync unknown" }
        let parts = run.out.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 2 else { return "fsync unknown" }
        return "fsync=\(parts[0]), synchronous_commit=\(parts[1])" + (parts[0] == "off" ? " (NOT durable: commits skip the disk)" : "")
    }

    /// A PostgreSQL client program: on PATH's /usr/bin, or the newest server version's.
    static func tool(_ name: String) throws -> String {
        let candidates = ["/usr/bin/\(name)"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/\(name)" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("\(name) not found (Debian package postgresql-client, or postgresql for pgbench)")
        }
        return found
    }
}
