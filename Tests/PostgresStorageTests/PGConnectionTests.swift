import EventLoop
import Foundation
import PostgresStorage
import ProxyCore
import SQLStore
import ProxyConfig
import Testing

/// The PostgreSQL started by `scripts/test-services` (the README's test command starts it).
func testDatabaseURL() throws -> String {
    try #require(ProcessInfo.processInfo.environment["STORAGE_PROXY_TEST_POSTGRES"],
                 "no test PostgreSQL: run the tests through scripts/test, which starts one")
}

/// Runs `body` on a fresh loop and returns once every handle it opened is closed.
func onLoop(_ body: (UVLoop) -> Void) {
    let loop = UVLoop()
    body(loop)
    loop.run()
}

@Suite("PostgreSQL connection on the loop")
struct PGConnectionTests {
    @Test func connectsAndRunsParameterisedQueries() throws {
        let url = try testDatabaseURL()
        var rows: [[String?]] = []
        var failure: ProxyError?
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { result in
                let c: PGConnection
                switch result {
                case .success(let connection): c = connection
                case .failure(let e): failure = e; return
                }
                c.query("SELECT $1::int + 1, $2::text IS NULL, $3::text", ["41", nil, "é ' \" \\ ;"]) { r in
                    switch r {
                    case .success(let res): rows = [(0..<res.columnCount).map { res.string(0, $0) }]
                    case .failure(let e): failure = e
                    }
                    c.close()
                }
            }
        }
        #expect(failure == nil)
        #expect(rows == [["42", "t", "é ' \" \\ ;"]])
    }

    @Test func statementsWithParametersArePreparedOnceThenReused() throws {
        let url = try testDatabaseURL()
        var answers: [String?] = []
        var preparedCount: String?
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { result in
                guard case .success(let c) = result else { return }
                for i in 0..<3 { c.query("SELECT $1::int + 100", [String(i)]) { answers.append(try? $0.get().string(0, 0)) } }
                c.query("SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 100'") { r in
                    preparedCount = try? r.get().string(0, 0)
                    c.close()
                }
            }
        }
        #expect(answers == ["100", "101", "102"])
        #expect(preparedCount == "1")
    }

    @Test func aStatementThatCannotBePreparedFailsAloneAndIsNotRemembered() throws {
        let url = try testDatabaseURL()
        var outcomes: [String] = []
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { result in
                guard case .success(let c) = result else { return }
                func note(_ r: Result<PGResult, ProxyError>) {
                    switch r {
                    case .success(let res): outcomes.append(res.string(0, 0) ?? "null")
                    case .failure(let e): outcomes.append("error \(e.code)")
                    }
                }
                // All sent at once (pipeline mode); each in its own sync segment.
                c.query("SELECT $1::no_such_type", ["x"], note)
                c.query("SELECT $1::int + 1", ["1"], note)
                c.query("SELECT $1::no_such_type", ["x"], note)
                c.query("SELECT 'after'") { note($0); c.close() }
            }
        }
        #expect(outcomes == ["error -32603", "2", "error -32603", "after"])
    }

    @Test func queuedQueriesAnswerInOrder() throws {
        let url = try testDatabaseURL()
        var answers: [String] = []
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { result in
                guard case .success(let c) = result else { return }
                for i in 0..<200 {
                    c.query("SELECT $1::int * 2", [String(i)]) { r in
                        answers.append((try? r.get().string(0, 0)) ?? "error")
                        if i == 199 { c.close() }
                    }
                }
            }
        }
        #expect(answers == (0..<200).map { String($0 * 2) })
    }

    @Test func sqlErrorsMapBySQLState() throws {
        let url = try testDatabaseURL()
        var codes: [Int] = []
        var natives: [JSONValue?] = []
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { result in
                guard case .success(let c) = result else { return }
                func code(_ r: Result<PGResult, ProxyError>) -> Int {
                    guard case .failure(let e) = r else { return 0 }
                    natives.append(e.data?.objectValue?["native"])
                    return e.code
                }
                c.query("CREATE TEMP TABLE p (id int PRIMARY KEY)") { codes.append(code($0)) }
                c.query("CREATE TEMP TABLE ch (p int REFERENCES p(id))") { codes.append(code($0)) }
                c.query("INSERT INTO p VALUES (1)") { codes.append(code($0)) }
                c.query("INSERT INTO p VALUES (1)") { codes.append(code($0)) }         // unique → conflict
                c.query("INSERT INTO ch VALUES (7)") { codes.append(code($0)) }        // foreign key → not found
                c.query("SELECT * FROM no_such_table") { codes.append(code($0)) }      // a bug of ours → internal
                c.query("SELECT 1") { codes.append(code($0)); c.close() }              // the connection is still fine
            }
        }
        #expect(codes == [0, 0, 0, -32002, -32001, -32603, 0])
        // The SQLSTATE travels in `data`, not in the message.
        #expect(natives == [["backend": "postgresql", "code": "23505"], nil, ["backend": "postgresql", "code": "42P01"]])
    }

    @Test func refusedConnectionsAreRetryableAndNeverShowThePassword() throws {
        var error: ProxyError?
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: "postgresql://user:s3cretpw@127.0.0.1:1/db?connect_timeout=2") { r in
                if case .failure(let e) = r { error = e }
            }
        }
        let e = try #require(error)
        #expect(e.code == -32003)
        #expect(!e.message.contains("s3cretpw"))
    }

    @Test func aKilledBackendFailsItsQueriesRetryably() throws {
        let url = try testDatabaseURL()
        var outcome: ProxyError?
        var afterwards: String?
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { r1 in
                guard case .success(let victim) = r1 else { return }
                victim.query("SELECT pg_backend_pid()") { pid in
                    guard let pid = try? pid.get().string(0, 0) else { return }
                    PGConnection.connect(loop: loop, conninfo: url) { r2 in
                        guard case .success(let killer) = r2 else { return }
                        killer.query("SELECT pg_terminate_backend($1::int)", [pid]) { _ in
                            victim.query("SELECT 1") { r in
                                if case .failure(let e) = r { outcome = e }
                                victim.close()
                                killer.query("SELECT 'still here'") { r in
                                    afterwards = try? r.get().string(0, 0)
                                    killer.close()
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(outcome?.code == -32003)
        #expect(afterwards == "still here")
    }
}

@Suite("PostgreSQL migrations")
struct PGMigrationTests {
    /// A fresh, empty database on the test server.
    static func freshDatabase() throws -> String {
        let url = try testDatabaseURL()
        let name = "mig_\(UInt32.random(in: 0...UInt32.max))"
        var created = false
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: url) { r in
                guard case .success(let c) = r else { return }
                c.query("CREATE DATABASE \(name)") { created = (try? $0.get()) != nil; c.close() }
            }
        }
        try #require(created)
        return url.replacingOccurrences(of: "/proxy_test", with: "/\(name)")
    }

    @Test func applyOnceThenNothing() throws {
        let db = try Self.freshDatabase()
        let first = try PostgresStorage.migrate(conninfo: db)
        let all = Schema.migrations(.postgresql).map(\.version)
        #expect(first.applied == all && first.version == all.last)
        let second = try PostgresStorage.migrate(conninfo: db)
        #expect(second.applied.isEmpty && second.version == all.last)
    }

    @Test func concurrentStartsApplyEachChangeOnce() throws {
        let db = try Self.freshDatabase()
        let results = Locked<[Result<[Int], ProxyError>]>([])
        let threads = (0..<4).map { _ in
            Thread { results.withLock { $0.append(Result { () throws(ProxyError) in try PostgresStorage.migrate(conninfo: db).applied }) } }
        }
        threads.forEach { $0.start() }
        while results.withLock({ $0.count }) < 4 { usleep(10_000) }
        let applied = results.withLock { $0 }.compactMap { try? $0.get() }
        #expect(applied.count == 4, "every start succeeds")
        #expect(applied.flatMap { $0 } == Schema.migrations(.postgresql).map(\.version), "each version applied exactly once")
    }
}

@Suite("Connection strings, as libpq reads them")
struct PGConnectionStringTests {
    @Test("a URL or the seed's keys are described as user@host:port/database, without the password")
    func describedWithoutPassword() {
        var c = ProxyConfig().postgresql
        c.url = "postgresql://agent:p%40ss@db.example:5433/agents?sslmode=disable"
        #expect(PGConnectionString.describe(c) == "agent@db.example:5433/agents")
        c.url = nil
        c.host = "10.0.0.5"; c.port = 6432; c.user = "sched"; c.database = "runs"; c.password = "it's secret"
        #expect(PGConnectionString.describe(c) == "sched@10.0.0.5:6432/runs")
        #expect(PGConnectionString.make(c).contains("password='it\\'s secret'"))
    }
}
