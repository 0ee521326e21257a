import Foundation
import ProxyBench
import Testing

/// `bench --pgbench` must never hang: pgbench checks its `-T` only between
/// transactions, so one stuck in a statement would run on.
@Suite("bench: pgbench under the bench's own deadline")
struct PgBenchDeadlineTests {
    @Test("a pgbench stuck past -T is stopped with its server sessions, and the bench says so")
    func stuckPgbenchIsStopped() throws {
        let db = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let started = Date()
        #expect {
            _ = try PgBench.run(script: "SELECT pg_sleep(120);\n", url: db, connections: 2, seconds: 1,
                                dir: ProxyProcess.makeTempDir(), grace: 2)
        } throws: { error in
            "\(error)".contains("was stopped")
        }
        #expect(Date().timeIntervalSince(started) < 60, "stopped long before its statements would end")
        var left = "?"
        for _ in 0..<50 {  // pg_terminate_backend signals; the sessions end a moment later
            left = try TestPostgres.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = current_database()").out
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if left == "0" { break }
            usleep(100_000)
        }
        #expect(left == "0", "pgbench's sessions are gone")
    }

    @Test("a pgbench that ends in time gives its figure")
    func pgbenchInTime() throws {
        let db = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        let tps = try PgBench.run(script: "SELECT 1;\n", url: db, connections: 2, seconds: 1, dir: ProxyProcess.makeTempDir())
        #expect(tps > 0)
    }
}
