import ProxyCore
import ProxyConfig
import Testing

@Suite("Configuration files")
struct ConfigLoaderTests {
    @Test func expandsVariablesWithDefaults() throws {
        let env = ["A": "1", "EMPTY": ""]
        #expect(try ConfigLoader.expand("x${A}y", environment: env) == "x1y")
        #expect(try ConfigLoader.expand("${MISSING:-dflt}", environment: env) == "dflt")
        #expect(try ConfigLoader.expand("${EMPTY:-dflt}", environment: env) == "dflt")
        #expect(try ConfigLoader.expand("${MISSING:-}", environment: env) == "")
        #expect(try ConfigLoader.expand("${EMPTY}", environment: env) == "")
        #expect(try ConfigLoader.expand("${A:-x}:${A}", environment: env) == "1:1")
        #expect(try ConfigLoader.expand("${A:?needed}", environment: env) == "1")
    }

    /// An unset variable must never become an empty value silently: for
    /// `storage.sqlite.path` that is SQLite's private temporary database.
    @Test func unsetVariablesStopTheLoadWithKeyFileAndLine() {
        let cases: [(String, String)] = [
            ("storage:\n  sqlite:\n    path: \"${SQLITE_PATH}\"\n", "SQLITE_PATH} is not set"),
            ("storage:\n  sqlite:\n    path: \"${SQLITE_PATH:?set it in .env}\"\n", "set it in .env"),
            ("storage:\n  sqlite:\n    path: \"${EMPTY:?}\"\n", "EMPTY} is not set"),
            ("storage:\n  sqlite:\n    path: \"\"\n", "must not be empty"),
            ("storage:\n  sqlite:\n    path: \"${EMPTY:-}\"\n", "must not be empty"),
        ]
        for (yaml, why) in cases {
            do {
                _ = try ConfigLoader.load(yaml: yaml, file: "p.yaml", environment: ["EMPTY": ""])
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.hasPrefix("p.yaml:3: storage.sqlite.path: "), "\(error)")
                #expect(error.description.contains(why), "\(error)")
            }
        }
    }

    @Test func valuesOutOfRangeAreRefusedAtLoad() {
        for yaml in ["server:\n  max_connections: -1\n", "server:\n  max_line_bytes: 0\n", "server:\n  log_level: loud\n",
                     "server:\n  idle_timeout: -5\n", "server:\n  transaction_timeout: 0\n", "storage:\n  sqlite:\n    pool_size: 0\n",
                     "storage:\n  postgresql:\n    port: 70000\n", "storage:\n  cache:\n    max_memory: 10\n",
                     "server:\n  idle_timeout: .nan\n", "storage:\n  postgresql:\n    commit_groups: 0\n",
                     "storage:\n  postgresql:\n    max_group_writes: 5000\n", "storage:\n  postgresql:\n    group_commit: maybe\n"] {
            #expect(throws: ConfigError.self, "\(yaml)") { try ConfigLoader.load(yaml: yaml, environment: [:]) }
        }
    }

    @Test func readsTheSeedsKeysAndTheServerSection() throws {
        let yaml = """
            storage:
              type: "${STORAGE_TYPE:-sqlite}"
              sqlite:
                path: "./storage/data.db"
                pool_size: 5
              postgresql:
                host: "${DB_HOST}"
                port: 5432
                database: "qwen_agent"
                user: "${DB_USER:-qwen}"
                password: "${DB_PASSWORD}"
                pool_size: 20
                max_overflow: 40
              cache:
                type: memory
                redis:
                  host: "${REDIS_HOST:-localhost}"
                  port: 6379
                  db: 0
                  password: "${REDIS_PASSWORD}"
            server:
              socket: ./run/p.sock
              listen: "0.0.0.0:7600"
              auth_token: ${TOKEN}
              socket_mode: "0600"
              idle_timeout: 2.5
            """
        let c = try ConfigLoader.load(yaml: yaml, environment: ["STORAGE_TYPE": "postgresql", "DB_HOST": "db", "DB_PASSWORD": "pw", "TOKEN": "t", "REDIS_PASSWORD": ""])
        #expect(c.storageType == .postgresql)
        #expect(c.sqlite.poolSize == 5)
        #expect(c.postgresql.host == "db" && c.postgresql.user == "qwen" && c.postgresql.password == "pw" && c.postgresql.maxOverflow == 40)
        #expect(c.redis.password == nil)
        #expect(c.cacheType == .memory)
        #expect(c.server.socket == "./run/p.sock" && c.server.listen == "0.0.0.0:7600" && c.server.authToken == "t")
        #expect(c.server.socketMode == 0o600 && c.server.idleTimeout == 2.5)
    }

    @Test func errorsNameTheKeyAndTheLine() {
        let yaml = "storage:\n  sqlite:\n    pool_size: lots\n"
        do {
            _ = try ConfigLoader.load(yaml: yaml, file: "x.yaml", environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("x.yaml:3"))
            #expect(error.description.contains("storage.sqlite.pool_size"))
        }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: "server:\n  sockt: x\n", environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: "storage:\n  type: oracle\n", environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: "storage: [unclosed\n", environment: [:]) }
    }

    @Test func groupCommitKeys() throws {
        #expect(ProxyConfig().postgresql.groupCommit && ProxyConfig().postgresql.commitGroups == 2)
        let c = try ConfigLoader.load(yaml: "storage:\n  postgresql:\n    group_commit: false\n    commit_groups: 3\n    max_group_writes: 64\n",
                                      environment: [:])
        #expect(!c.postgresql.groupCommit && c.postgresql.commitGroups == 3 && c.postgresql.maxGroupWrites == 64)
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try ConfigLoader.load(yaml: "", environment: [:]) == ProxyConfig())
    }
}
