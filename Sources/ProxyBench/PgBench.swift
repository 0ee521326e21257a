import Foundation
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
    public static func run(script: String, url: String, connections: Int, seconds: Double, dir: String) throws -> Double {
        let file = "\(dir)/pgbench-\(UUID().uuidString).sql"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let binary = ["/usr/bin/pgbench"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
        guard let pgbench = binary.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("pgbench not found (Debian package postgresql-contrib or postgresql)")
        }
        let text = try output(of: pgbench, ["-n", "-M", "prepared", "-c", String(connections), "-j", "2",
                                            "-T", String(Int(seconds.rounded(.up))), "-f", file, url])
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst(6).split(separator: " ").first ?? "") else {
            throw BenchError("pgbench gave no figure:\n\(text)")
        }
        return tps
    }
}
