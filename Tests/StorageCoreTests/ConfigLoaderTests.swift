import StorageCore
import Testing

@Suite("Configuration files")
struct ConfigLoaderTests {
    @Test func expandsVariablesWithDefaults() {
        let env = ["A": "1", "EMPTY": ""]
        #expect(ConfigLoader.expand("x${A}y", environment: env) == "x1y")
        #expect(ConfigLoader.expand("${MISSING:-dflt}", environment: env) == "dflt")
        #expect(ConfigLoader.expand("${EMPTY:-dflt}", environment: env) == "dflt")
        #expect(ConfigLoader.expand("${MISSING}", environment: env) == "")
        #expect(ConfigLoader.expand("${A:-x}:${A}", environment: env) == "1:1")
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
        let c = try ConfigLoader.load(yaml: yaml, environment: ["STORAGE_TYPE": "postgresql", "DB_HOST": "db", "DB_PASSWORD": "pw", "TOKEN": "t"])
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

    @Test func emptyFileMeansDefaults() throws {
        #expect(try ConfigLoader.load(yaml: "", environment: [:]) == ProxyConfig())
    }
}
