import ProxyCore
import Yams

/// A configuration file that cannot be used: names the file, line and key.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads `config/storage.yaml`-style files into `ProxyConfig`.
public enum ConfigLoader {
    public static func load(yaml: String, file: String = "config", environment: [String: String]) throws(ConfigError) -> ProxyConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("\(file): not valid YAML: \(error)")
        }
        var config = ProxyConfig()
        guard let root else { return config }
        var reader = Reader(file: file, environment: environment)
        try reader.read(root, into: &config)
        return config
    }

    /// `${VAR}`, `${VAR:-default}` (also when VAR is empty; `${VAR:-}` for an
    /// explicit empty value) and `${VAR:?message}` (VAR must be set and not
    /// empty). An unset `${VAR}` is an error, not an empty value: an empty
    /// database path or password must never be a silent default.
    public static func expand(_ text: String, environment: [String: String]) throws(ConfigError) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { out += rest[open.lowerBound...]; return out }
            let body = rest[open.upperBound..<close]
            if let sep = body.range(of: ":-") {
                let value = environment[String(body[..<sep.lowerBound])] ?? ""
                out += value.isEmpty ? String(body[sep.upperBound...]) : value
            } else if let sep = body.range(of: ":?") {
                let name = String(body[..<sep.lowerBound])
                guard let value = environment[name], !value.isEmpty else {
                    let message = body[sep.upperBound...]
                    throw ConfigError("${\(name)} is not set" + (message.isEmpty ? "" : ": \(message)"))
                }
                out += value
            } else {
                guard let value = environment[String(body)] else {
                    throw ConfigError("${\(body)} is not set (write ${\(body):-} for an empty default)")
                }
                out += value
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// Every key of each section (the suggestions for a mistyped one).
private let knownKeys: [String: [String]] = [
        "storage": ["type", "sqlite", "postgresql", "cache"],
        "storage.sqlite": ["path", "pool_size", "synchronous", "busy_timeout_ms"],
        "storage.postgresql": [
            "url", "host", "port", "database", "user", "password", "sslmode", "sslrootcert", "pool_size", "max_overflow", "pool_recycle", "pipeline_depth",
            "write_pipeline_depth", "group_commit", "commit_groups", "max_group_writes", "group_lock_wait_ms",
        ],
        "storage.cache": ["type", "max_memory", "read_through_max_memory", "redis"],
        "storage.cache.redis": ["url", "host", "port", "db", "password", "pool_size", "key_prefix"],
        "vector": [
            "search_threads", "max_memory_bytes", "max_dimension", "max_top_k", "max_documents_per_call", "max_query_words",
            "removals_kept_versions", "embedder",
        ],
        "server.tls": ["cert", "key", "client_ca"],
        "server.tokens": ["name", "token", "agents", "access", "admin"],
        "server.unix_peers": ["name", "uid", "agents", "access", "admin"],
        "vector.embedder": [
            "url", "model", "api_key_env", "batch_size", "timeout_ms", "max_concurrent", "cache_entries", "retry_seconds",
        ],
        "server": [
            "socket", "socket_mode", "listen", "auth_token", "allow_insecure", "http_listen", "tls", "tokens", "unix_peers", "http_max_connections",
            "max_connections", "max_line_bytes", "idle_timeout", "transaction_timeout", "transaction_max_lifetime",
            "max_transactions", "max_transactions_per_connection", "line_timeout", "max_answer_bytes", "max_pattern_bytes",
            "max_auth_failures", "auth_failure_delay_ms", "max_output_bytes", "max_subscriptions_per_connection",
            "default_max_attempts", "max_lease_seconds", "log_level", "log_format", "slow_log_ms", "compute_threads",
            "max_reads_in_flight",
        ],
]

/// Walks the YAML tree; each key knows its type, unknown keys are errors
/// (a typo must not silently fall back to a default).
private struct Reader {
    let file: String
    let environment: [String: String]

    func fail(_ node: Node, _ key: String, _ why: String) -> ConfigError {
        let line = node.mark.map { ":\($0.line)" } ?? ""
        return ConfigError("\(file)\(line): \(key): \(why)")
    }

    /// An unknown key, with the closest known one of its section when it looks like a typo.
    func unknown(_ node: Node, _ key: String) -> ConfigError {
        let section = key.split(separator: ".").dropLast().joined(separator: ".")
        let name = String(key.split(separator: ".").last ?? "")
        let suggestion = Suggestion.closest(to: name, among: knownKeys[section] ?? [])
        return fail(node, key, "unknown key" + (suggestion.map { " (did you mean \(section).\($0)?)" } ?? ""))
    }

    func mapping(_ node: Node, _ key: String) throws(ConfigError) -> [(String, Node)] {
        guard case .mapping(let m) = node else { throw fail(node, key, "expected a mapping") }
        var out: [(String, Node)] = []
        for (k, v) in m {
            guard case .scalar(let s) = k else { throw fail(k, key, "keys must be plain words") }
            out.append((s.string, v))
        }
        return out
    }

    func string(_ node: Node, _ key: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw fail(node, key, "expected a single value") }
        do {
            return try ConfigLoader.expand(s.string, environment: environment)
        } catch {
            throw fail(node, key, error.description)
        }
    }

    func nonEmptyString(_ node: Node, _ key: String) throws(ConfigError) -> String {
        let v = try string(node, key)
        if v.trimmingSpaces.isEmpty { throw fail(node, key, "must not be empty") }
        return v
    }

    func optionalString(_ node: Node, _ key: String) throws(ConfigError) -> String? {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return nil }
        let v = try string(node, key)
        return v.isEmpty ? nil : v
    }

    func int(_ node: Node, _ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try string(node, key)
        guard let v = Int(text.trimmingSpaces) else { throw fail(node, key, "expected an integer, got '\(text)'") }
        guard range.contains(v) else { throw fail(node, key, "must be from \(range.lowerBound) to \(range.upperBound), got \(v)") }
        return v
    }

    func double(_ node: Node, _ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let text = try string(node, key)
        guard let v = Double(text.trimmingSpaces), v.isFinite else { throw fail(node, key, "expected a number of seconds, got '\(text)'") }
        guard range.contains(v) else { throw fail(node, key, "must be from \(range.lowerBound) to \(range.upperBound) seconds, got \(text)") }
        return v
    }

    func bool(_ node: Node, _ key: String) throws(ConfigError) -> Bool {
        let text = try string(node, key).lowercased()
        switch text {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0", "": return false
        default: throw fail(node, key, "expected true or false, got '\(text)'")
        }
    }

    func choice<T: RawRepresentable>(_ node: Node, _ key: String) throws(ConfigError) -> T where T.RawValue == String {
        let text = try string(node, key)
        guard let v = T(rawValue: text.lowercased()) else { throw fail(node, key, "unknown value '\(text)'") }
        return v
    }

    mutating func read(_ root: Node, into c: inout ProxyConfig) throws(ConfigError) {
        for (k, v) in try mapping(root, "(top)") {
            switch k {
            case "storage": try readStorage(v, into: &c)
            case "server": try readServer(v, into: &c.server)
            case "vector": try readVector(v, into: &c.vector)
            default: throw fail(v, k, "unknown key (expected storage, server or vector)")
            }
        }
    }

    mutating func readStorage(_ node: Node, into c: inout ProxyConfig) throws(ConfigError) {
        for (k, v) in try mapping(node, "storage") {
            let key = "storage.\(k)"
            switch k {
            case "type": c.storageType = try choice(v, key)
            case "sqlite":
                for (k2, v2) in try mapping(v, key) {
                    let key2 = "\(key).\(k2)"
                    switch k2 {
                    case "path": c.sqlite.path = try nonEmptyString(v2, key2)
                    case "pool_size": c.sqlite.poolSize = try int(v2, key2, in: 1...64)
                    case "synchronous":
                        let s = try string(v2, key2).uppercased()
                        guard ["OFF", "NORMAL", "FULL", "EXTRA"].contains(s) else { throw fail(v2, key2, "expected OFF, NORMAL, FULL or EXTRA") }
                        c.sqlite.synchronous = s
                    case "busy_timeout_ms": c.sqlite.busyTimeoutMs = try int(v2, key2, in: 0...600_000)
                    default: throw unknown(v2, key2)
                    }
                }
            case "postgresql":
                for (k2, v2) in try mapping(v, key) {
                    let key2 = "\(key).\(k2)"
                    switch k2 {
                    case "url": c.postgresql.url = try optionalString(v2, key2)
                    case "host": c.postgresql.host = try nonEmptyString(v2, key2)
                    case "port": c.postgresql.port = try int(v2, key2, in: 1...65535)
                    case "database": c.postgresql.database = try nonEmptyString(v2, key2)
                    case "user": c.postgresql.user = try nonEmptyString(v2, key2)
                    case "password": c.postgresql.password = try optionalString(v2, key2)
                    case "sslmode":
                        let mode = try string(v2, key2)
                        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) else {
                            throw fail(v2, key2, "expected disable, allow, prefer, require, verify-ca or verify-full")
                        }
                        c.postgresql.sslmode = mode
                    case "sslrootcert": c.postgresql.sslrootcert = try optionalString(v2, key2)
                    case "pool_size": c.postgresql.poolSize = try int(v2, key2, in: 1...1000)
                    case "max_overflow": c.postgresql.maxOverflow = try int(v2, key2, in: 0...10_000)
                    case "pool_recycle": c.postgresql.poolRecycle = try int(v2, key2, in: 1...Int(Int32.max))
                    case "pipeline_depth": c.postgresql.pipelineDepth = try int(v2, key2, in: 1...1024)
                    case "write_pipeline_depth": c.postgresql.writePipelineDepth = try int(v2, key2, in: 1...1024)
                    case "group_commit": c.postgresql.groupCommit = try bool(v2, key2)
                    case "commit_groups": c.postgresql.commitGroups = try int(v2, key2, in: 1...64)
                    case "max_group_writes": c.postgresql.maxGroupWrites = try int(v2, key2, in: 1...4096)
                    case "group_lock_wait_ms": c.postgresql.groupLockWaitMs = try int(v2, key2, in: 1...60_000)
                    default: throw unknown(v2, key2)
                    }
                }
            case "cache":
                for (k2, v2) in try mapping(v, key) {
                    let key2 = "\(key).\(k2)"
                    switch k2 {
                    case "type": c.cacheType = try choice(v2, key2)
                    case "max_memory": c.memoryCache.maxMemory = try int(v2, key2, in: 1024...(1 << 40))
                    case "read_through_max_memory": c.memoryCache.readThroughMaxMemory = try int(v2, key2, in: 0...(1 << 40))
                    case "redis":
                        for (k3, v3) in try mapping(v2, key2) {
                            let key3 = "\(key2).\(k3)"
                            switch k3 {
                            case "url": c.redis.url = try optionalString(v3, key3)
                            case "host": c.redis.host = try nonEmptyString(v3, key3)
                            case "port": c.redis.port = try int(v3, key3, in: 1...65535)
                            case "db": c.redis.db = try int(v3, key3, in: 0...Int(Int32.max))
                            case "password": c.redis.password = try optionalString(v3, key3)
                            case "pool_size": c.redis.poolSize = try int(v3, key3, in: 1...256)
                            case "key_prefix": c.redis.keyPrefix = try string(v3, key3)
                            default: throw unknown(v3, key3)
                            }
                        }
                    default: throw unknown(v2, key2)
                    }
                }
            default: throw unknown(v, key)
            }
        }
    }

    mutating func readVector(_ node: Node, into s: inout ProxyConfig.Vector) throws(ConfigError) {
        for (k, v) in try mapping(node, "vector") {
            let key = "vector.\(k)"
            switch k {
            case "search_threads": s.searchThreads = try int(v, key, in: 1...256)
            case "max_memory_bytes": s.maxMemoryBytes = try int(v, key, in: 1 << 20...(1 << 44))
            case "max_dimension": s.maxDimension = try int(v, key, in: 1...65_536)
            case "max_top_k": s.maxTopK = try int(v, key, in: 1...100_000)
            case "max_documents_per_call": s.maxDocumentsPerCall = try int(v, key, in: 1...1_000_000)
            case "max_query_words": s.maxQueryWords = try int(v, key, in: 1...10_000)
            case "removals_kept_versions": s.removalsKeptVersions = try int(v, key, in: 1...1_000_000_000)
            case "embedder": s.embedder = try readEmbedder(v, key)
            default: throw unknown(v, key)
            }
        }
    }

    func readEmbedder(_ node: Node, _ key: String) throws(ConfigError) -> ProxyConfig.Embedder? {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return nil }
        var e = ProxyConfig.Embedder()
        for (k, v) in try mapping(node, key) {
            let key2 = "\(key).\(k)"
            switch k {
            case "url":
                e.url = try nonEmptyString(v, key2)
                guard e.url.hasPrefix("http://") || e.url.hasPrefix("https://") else { throw fail(v, key2, "expected an http:// or https:// URL") }
            case "model": e.model = try nonEmptyString(v, key2)
            case "api_key_env":
                let name = try nonEmptyString(v, key2)
                guard let value = environment[name], !value.isEmpty else { throw fail(v, key2, "the environment variable \(name) is not set") }
                e.apiKey = value
            case "batch_size": e.batchSize = try int(v, key2, in: 1...2048)
            case "timeout_ms": e.timeoutMs = try int(v, key2, in: 1...600_000)
            case "max_concurrent": e.maxConcurrent = try int(v, key2, in: 1...256)
            case "cache_entries": e.cacheEntries = try int(v, key2, in: 0...10_000_000)
            case "retry_seconds": e.retrySeconds = try double(v, key2, in: 0.01...86_400)
            default: throw unknown(v, key2)
            }
        }
        guard !e.url.isEmpty, !e.model.isEmpty else { throw fail(node, key, "needs url and model") }
        return e
    }

    /// `tokens` (each with `token`) or `unix_peers` (each with `uid`): a list of scopes.
    func readGrants(_ node: Node, _ key: String, byToken: Bool) throws(ConfigError) -> [ProxyConfig.Grant] {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return [] }
        guard case .sequence(let items) = node else { throw fail(node, key, "expected a list") }
        var grants: [ProxyConfig.Grant] = []
        for (i, item) in items.enumerated() {
            let key1 = "\(key)[\(i)]"
            var g = ProxyConfig.Grant()
            for (k, v) in try mapping(item, key1) {
                let key2 = "\(key1).\(k)"
                switch k {
                case "name":
                    g.name = try nonEmptyString(v, key2)
                    guard g.name.count <= 64, g.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
                        throw fail(v, key2, "1 to 64 of A-Z a-z 0-9 _ . -")
                    }
                case "token" where byToken: g.token = try nonEmptyString(v, key2)
                case "uid" where !byToken: g.uid = UInt32(try int(v, key2, in: 0...Int(UInt32.max)))
                case "agents":
                    if case .scalar(let s) = v, s.string == "*" { g.agents = nil; continue }
                    guard case .sequence(let names) = v, names.count > 0 else { throw fail(v, key2, "expected a list of agent names, or \"*\"") }
                    var agents: [String] = []
                    for n in names { agents.append(try nonEmptyString(n, key2)) }
                    g.agents = agents
                case "access":
                    switch try string(v, key2) {
                    case "read-only": g.readOnly = true
                    case "read-write": g.readOnly = false
                    default: throw fail(v, key2, "expected read-only or read-write")
                    }
                case "admin": g.admin = try bool(v, key2)
                default: throw unknown(v, "\(key).\(k)")
                }
            }
            guard !g.name.isEmpty else { throw fail(item, key1, "needs a name") }
            if byToken && g.token == nil { throw fail(item, key1, "needs a token") }
            if !byToken && g.uid == nil { throw fail(item, key1, "needs a uid") }
            guard !grants.contains(where: { $0.name == g.name }) else { throw fail(item, key1, "the name \(g.name) is used twice") }
            guard !byToken || !grants.contains(where: { $0.token == g.token }) else { throw fail(item, key1, "the same token twice") }
            guard byToken || !grants.contains(where: { $0.uid == g.uid }) else { throw fail(item, key1, "the same uid twice") }
            grants.append(g)
        }
        return grants
    }

    func readTLS(_ node: Node, _ key: String) throws(ConfigError) -> ProxyConfig.TLS? {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return nil }
        var t = ProxyConfig.TLS()
        for (k, v) in try mapping(node, key) {
            let key2 = "\(key).\(k)"
            switch k {
            case "cert": t.cert = try nonEmptyString(v, key2)
            case "key": t.key = try nonEmptyString(v, key2)
            case "client_ca": t.clientCA = try optionalString(v, key2)
            default: throw unknown(v, key2)
            }
        }
        guard !t.cert.isEmpty, !t.key.isEmpty else { throw fail(node, key, "needs cert and key (PEM files)") }
        return t
    }

    mutating func readServer(_ node: Node, into s: inout ProxyConfig.Server) throws(ConfigError) {
        for (k, v) in try mapping(node, "server") {
            let key = "server.\(k)"
            switch k {
            case "socket": s.socket = try optionalString(v, key) ?? ""
            case "socket_mode":
                let text = try string(v, key)
                guard let mode = Int(text, radix: 8), mode >= 0, mode <= 0o777 else { throw fail(v, key, "expected an octal mode such as 0660") }
                s.socketMode = mode
            case "listen": s.listen = try optionalString(v, key) ?? ""
            case "auth_token": s.authToken = try optionalString(v, key)
            case "allow_insecure": s.allowInsecure = try bool(v, key)
            case "http_listen": s.httpListen = try optionalString(v, key) ?? ""
            case "tls": s.tls = try readTLS(v, key)
            case "tokens": s.tokens = try readGrants(v, key, byToken: true)
            case "unix_peers": s.unixPeers = try readGrants(v, key, byToken: false)
            case "http_max_connections": s.httpMaxConnections = try int(v, key, in: 1...100_000)
            case "max_connections": s.maxConnections = try int(v, key, in: 1...1_000_000)
            case "max_line_bytes": s.maxLineBytes = try int(v, key, in: 256...(1 << 30))
            case "idle_timeout": s.idleTimeout = try double(v, key, in: 0...31_536_000)
            case "transaction_timeout": s.transactionTimeout = try double(v, key, in: 0.001...86_400)
            case "transaction_max_lifetime": s.transactionMaxLifetime = try double(v, key, in: 0.001...86_400)
            case "max_transactions": s.maxTransactions = try int(v, key, in: 1...100_000)
            case "max_transactions_per_connection": s.maxTransactionsPerConnection = try int(v, key, in: 1...100_000)
            case "line_timeout": s.lineTimeout = try double(v, key, in: 0.001...86_400)
            case "max_answer_bytes": s.maxAnswerBytes = try int(v, key, in: 1024...(1 << 40))
            case "max_pattern_bytes": s.maxPatternBytes = try int(v, key, in: 1...(1 << 20))
            case "max_auth_failures": s.maxAuthFailures = try int(v, key, in: 1...1000)
            case "auth_failure_delay_ms": s.authFailureDelayMs = try int(v, key, in: 0...10_000)
            case "max_output_bytes": s.maxOutputBytes = try int(v, key, in: 1024...(1 << 40))
            case "max_subscriptions_per_connection": s.maxSubscriptionsPerConnection = try int(v, key, in: 1...10_000)
            case "default_max_attempts": s.defaultMaxAttempts = try int(v, key, in: 0...1_000_000)
            case "max_lease_seconds": s.maxLeaseSeconds = try double(v, key, in: 1...31_536_000)
            case "log_level":
                let level = try string(v, key).lowercased()
                guard ["debug", "info", "warning", "error"].contains(level) else { throw fail(v, key, "expected debug, info, warning or error") }
                s.logLevel = level
            case "log_format":
                let format = try string(v, key).lowercased()
                guard ["plain", "json"].contains(format) else { throw fail(v, key, "expected plain or json") }
                s.logFormat = format
            case "slow_log_ms": s.slowLogMs = try int(v, key, in: 0...86_400_000)
            case "compute_threads": s.computeThreads = try int(v, key, in: 1...64)
            case "max_reads_in_flight": s.maxReadsInFlight = try int(v, key, in: 1...4096)
            default: throw unknown(v, key)
            }
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
