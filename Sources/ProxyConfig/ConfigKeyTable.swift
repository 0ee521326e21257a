import ProxyCore

/// Every key of the configuration file, in README's order. Adding a key is
/// adding a line here (and the field with its default in `ProxyConfig`).
extension ConfigKey {
    public static let all: [ConfigKey] = [
        // storage
        .choice("storage.type", \.storageType, [.sqlite, .postgresql], "the backend (`--storage`)"),
        .text("storage.sqlite.path", \.sqlite.path, "database file (its folder is created); one proxy per file (its read-through cache is in-process)"),
        .int("storage.sqlite.pool_size", \.sqlite.poolSize, 1...64,
             "reader connections, each on its own thread (one writer besides); they serve the clients in turn, a queue per connection, `health_check` first"),
        .choice("storage.sqlite.synchronous", \.sqlite.synchronous, ["OFF", "NORMAL", "FULL", "EXTRA"], normalize: { $0.uppercased() },
                "`FULL`: an acknowledged write survives a power cut; `NORMAL` is faster"),
        .int("storage.sqlite.busy_timeout_ms", \.sqlite.busyTimeoutMs, 0...600_000, "how long a write waits for the lock before `-32003`"),
        .optionalText("storage.postgresql.url", \.postgresql.url, secret: true,
                      "`postgresql://user:password@host:port/database?…` (`--database`); instead of the five keys below"),
        .text("storage.postgresql.host", \.postgresql.host, "the server's host (or a Unix socket folder)"),
        .int("storage.postgresql.port", \.postgresql.port, 1...65535, "its port"),
        .text("storage.postgresql.database", \.postgresql.database, "the database"),
        .text("storage.postgresql.user", \.postgresql.user, "the role"),
        .optionalText("storage.postgresql.password", \.postgresql.password, secret: true,
                      "its password (write `${DB_PASSWORD}`: it stays out of the file; never logged)"),
        .custom("storage.postgresql.sslmode", \.postgresql.sslmode, type: "one of disable, allow, prefer, require, verify-ca, verify-full",
                defaultText: "libpq's (`prefer`)", "TLS to PostgreSQL, passed to libpq (`verify-full` checks the server against `sslrootcert`)",
                show: { $0.map { .string($0) } ?? .null }, read: { r, n, k throws(ConfigError) in
                    let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
                    let mode = try r.string(n, k)
                    guard modes.contains(mode) else { throw r.fail(n, k, "expected " + ConfigKey.listed(modes)) }
                    return mode
                }),
        .optionalText("storage.postgresql.sslrootcert", \.postgresql.sslrootcert, "the authority (PEM file) `verify-ca` and `verify-full` check against"),
        .int("storage.postgresql.pool_size", \.postgresql.poolSize, 1...1000, "connections kept open"),
        .int("storage.postgresql.max_overflow", \.postgresql.maxOverflow, 0...10_000, "extra connections under load, closed when idle"),
        .int("storage.postgresql.pool_recycle", \.postgresql.poolRecycle, 1...Int(Int32.max), unit: .seconds, "a connection is replaced after this long"),
        .int("storage.postgresql.pipeline_depth", \.postgresql.pipelineDepth, 1...1024,
             "one-statement reads queued on one connection before another is used (1: one at a time; 1 keeps one client's slow reads from holding up another's, at some throughput); see BENCHMARKS.md"),
        .int("storage.postgresql.write_pipeline_depth", \.postgresql.writePipelineDepth, 1...1024,
             "with `group_commit: false` only: one-statement writes queued on one connection before another is used"),
        .flag("storage.postgresql.group_commit", \.postgresql.groupCommit,
              "writes outside transactions share commits (one WAL flush for many writers; STORAGE.md \"Durability\"); `false`: each commits alone"),
        .int("storage.postgresql.commit_groups", \.postgresql.commitGroups, 1...64,
             "groups committing at once, at most (one normally; another starts beside a group still committing after 10 ms, so a slow statement holds up only its own group)"),
        .int("storage.postgresql.max_group_writes", \.postgresql.maxGroupWrites, 1...4096, "writes in one group at most"),
        .int("storage.postgresql.group_lock_wait_ms", \.postgresql.groupLockWaitMs, 1...60_000,
             "a write in a group that waits this long for a row lock (a client transaction holds it) leaves the group and waits on a connection of its own"),
        .choice("storage.cache.type", \.cacheType, [.none, .memory, .redis],
                "`memory`: in-process read-through (SQLite only) and `cache.*`; `none`: no read-through (`cache.*` still in-process); `redis`: both in Redis, shared by proxies (`--cache redis://…`)"),
        .int("storage.cache.max_memory", \.memoryCache.maxMemory, 1024...(1 << 40), unit: .bytes,
             "the in-process `cache.*` store; past it the least recently used keys go (Redis `allkeys-lru`); a value larger than all of it is `-32602`"),
        .int("storage.cache.read_through_max_memory", \.memoryCache.readThroughMaxMemory, 0...(1 << 40), unit: .bytes,
             "the in-process read-through entries (an answer over an eighth of it is not kept)"),
        .optionalText("storage.cache.redis.url", \.redis.url, secret: true,
                      "`redis://[:password@]host:port/db` or `unix:///path/redis.sock?db=N`; instead of the four keys below"),
        .text("storage.cache.redis.host", \.redis.host, "Redis's host"),
        .int("storage.cache.redis.port", \.redis.port, 1...65535, "its port"),
        .int("storage.cache.redis.db", \.redis.db, 0...Int(Int32.max), "its database number"),
        .optionalText("storage.cache.redis.password", \.redis.password, secret: true, "its password (`${REDIS_PASSWORD}`; never logged)"),
        .int("storage.cache.redis.pool_size", \.redis.poolSize, 1...256, "connections, each pipelined"),
        .custom("storage.cache.redis.key_prefix", \.redis.keyPrefix, type: "text", defaultText: "`storage-proxy:`",
                "the start of every key the proxy writes", show: { .string($0) },
                read: { r, n, k throws(ConfigError) in try r.string(n, k) }),

        // server
        .switchable("server.socket", \.server.socket, "Unix socket"),
        .custom("server.socket_mode", \.server.socketMode, type: "an octal mode", defaultText: "`0660`", "socket file permissions",
                show: { .string("0" + String($0, radix: 8)) }, read: { r, n, k throws(ConfigError) in
                    let text = try r.string(n, k)
                    guard let mode = Int(text, radix: 8), mode >= 0, mode <= 0o777 else { throw r.fail(n, k, "expected an octal mode such as 0660") }
                    return mode
                }),
        .switchable("server.listen", \.server.listen, "TCP: `PORT` (loopback) or `HOST:PORT`"),
        .optionalText("server.auth_token", \.server.authToken, secret: true, reload: true, defaultText: "– (`$STORAGE_PROXY_AUTH_TOKEN`)",
                      "required first (`auth` call) on TCP connections when set, and as `Authorization: Bearer` on HTTP; required to bind a non-loopback address (or `tls.client_ca`)"),
        .custom("server.tokens", \.server.tokens, type: "a list", reload: true, defaultText: "–",
                "tokens with a scope: `name`, `token`, `agents` (a list or `\"*\"`), `access` (`read-only`/`read-write`), `admin` ([PROTOCOL.md](protocol/PROTOCOL.md#scoped-tokens))",
                show: { .array($0.map { .string($0.name) }) }, read: { r, n, k throws(ConfigError) in try r.readGrants(n, k, byToken: true) }),
        .custom("server.unix_peers", \.server.unixPeers, type: "a list", reload: true, defaultText: "–",
                "the same by Unix socket peer uid (`uid` instead of `token`)",
                show: { .array($0.map { .string($0.name) }) }, read: { r, n, k throws(ConfigError) in try r.readGrants(n, k, byToken: false) }),
        .flag("server.allow_insecure", \.server.allowInsecure, reload: true, "allow a non-loopback bind without a token"),
        .custom("server.tls", \.server.tls, type: "`cert`, `key`, `client_ca?`", reload: true, defaultText: "off",
                "TLS on `listen` and `http_listen` (PEM files, reloaded on SIGHUP); `client_ca`: clients need a certificate it signed ([DEPLOYMENT.md](DEPLOYMENT.md#tls))",
                show: { t in t.map { ["cert": .string($0.cert), "key": .string($0.key), "client_ca": $0.clientCA.map { .string($0) } ?? .null] } ?? .null },
                read: { r, n, k throws(ConfigError) in try r.readTLS(n, k) }),
        .switchable("server.http_listen", \.server.httpListen,
                    "`PORT` or `HOST:PORT`: `/healthz`, `/readyz`, `/metrics` (Prometheus), `POST /` (JSON-RPC), `/console/` ([DEPLOYMENT.md](DEPLOYMENT.md#metrics-and-alerts), [console](DEPLOYMENT.md#the-console))"),
        .int("server.http_max_connections", \.server.httpMaxConnections, 1...100_000, reload: true, "HTTP connections at once (past it: 503)"),
        .int("server.console_max_viewers", \.server.consoleMaxViewers, 0...1000, reload: true,
             "`/console/live` streams at once, each one update a second at most (past it: 503)"),
        .int("server.max_connections", \.server.maxConnections, 1...1_000_000, reload: true,
             "the next one gets `-32006` and is closed (fewer when the open-file limit, raised to its hard limit at start, allows fewer: logged)"),
        .int("server.max_line_bytes", \.server.maxLineBytes, 256...(1 << 30), unit: .bytes, reload: true,
             "longer lines get `-32005` (a CRLF's `\\r` does not count)"),
        .seconds("server.line_timeout", \.server.lineTimeout, 0.001...86_400, reload: true,
                 "a line must arrive whole this long after its first byte, else `-32008` and the connection closes"),
        .seconds("server.idle_timeout", \.server.idleTimeout, 0...31_536_000, reload: true, "silent connections are closed (0 = never)"),
        .seconds("server.store_sweep_seconds", \.server.storeSweepSeconds, 0...86_400, reload: true,
                 "how often the items of LangGraph's store (`store.*`) whose TTL passed are deleted (0: only by `store.sweep`); no read returns them meanwhile"),
        .seconds("server.transaction_timeout", \.server.transactionTimeout, 0.001...86_400, reload: true, "idle transactions are rolled back"),
        .seconds("server.transaction_max_lifetime", \.server.transactionMaxLifetime, 0.001...86_400, reload: true,
                 "any transaction is rolled back this long after it opened, however busy"),
        .int("server.max_transactions", \.server.maxTransactions, 1...100_000, reload: true,
             "open or opening transactions in all; past it `begin_transaction` is `-32006`"),
        .int("server.max_transactions_per_connection", \.server.maxTransactionsPerConnection, 1...100_000, reload: true,
             "the same on one connection"),
        .int("server.max_pattern_bytes", \.server.maxPatternBytes, 1...(1 << 20), reload: true, "the longest `cache.clear_pattern` glob (`-32602` past it)"),
        .int("server.max_auth_failures", \.server.maxAuthFailures, 1...1000, reload: true,
             "wrong tokens (`auth` on a line, a bearer token over HTTP) before the connection is closed; what a line queued behind the last never runs"),
        .int("server.auth_failure_delay_ms", \.server.authFailureDelayMs, 0...10_000, reload: true,
             "how long the answer to a wrong token is held back, on a line and over HTTP (the connection's later requests wait behind it)"),
        .int("server.max_answer_bytes", \.server.maxAnswerBytes, 1024...(1 << 40), unit: .bytes, reload: true,
             "one answer larger than this is replaced by `-32005` (ask for fewer rows); listings stop reading rows once past it, so a page of big rows is never held whole"),
        .int("server.max_output_bytes", \.server.maxOutputBytes, 1024...(1 << 40), unit: .bytes, reload: true,
             "unsent answers before the proxy stops reading a client, or starting the rest of its batch; unsent live events past it are dropped and counted in one `lagged` event"),
        .int("server.max_subscriptions_per_connection", \.server.maxSubscriptionsPerConnection, 1...10_000, reload: true,
             "`subscribe` calls one connection may have open (`-32006` past it)"),
        .int("server.default_max_attempts", \.server.defaultMaxAttempts, 0...1_000_000, reload: true,
             "claims a task whose lease keeps expiring may take before it becomes `failed` (a task's own `max_attempts` wins; 0 = no limit)"),
        .seconds("server.max_lease_seconds", \.server.maxLeaseSeconds, 1...31_536_000, reload: true,
                 "the longest lease `claim_due_tasks` and `renew_lease` grant (`-32602` past it)"),
        .choice("server.log_level", \.server.logLevel, ["debug", "info", "warning", "error"], reload: true,
                "`debug` (every call and connection too), `info`, `warning`, `error` (`--log-level`)"),
        .choice("server.log_format", \.server.logFormat, ["plain", "json"], reload: true,
                "`plain` or `json`: one event per line ([DEPLOYMENT.md](DEPLOYMENT.md#logs))"),
        .int("server.slow_log_ms", \.server.slowLogMs, 0...86_400_000, reload: true, "calls slower than this are logged (`slow_call`); 0 = off"),
        .int("server.max_reads_in_flight", \.server.maxReadsInFlight, 1...4096, reload: true,
             "reads one connection may have started and not answered; the rest of its pipeline waits (a client's share of the SQLite readers or PostgreSQL connections)"),
        .int("server.compute_threads", \.server.computeThreads, 1...64,
             "threads that compute `schedule.next_runs` (up to 100 runs, each asking the zone's rules) off the loop: a client pipelining many holds up only its own answers"),

        // vector
        .int("vector.search_threads", \.vector.searchThreads, 1...256, "threads that scan the in-memory matrices (searches never run on the loop)"),
        .int("vector.max_memory_bytes", \.vector.maxMemoryBytes, (1 << 20)...(1 << 44), unit: .bytes,
             "all collections' matrices in one proxy, counting vectors, ids and metadata (about what they take in memory); a search that would load past it is `-32006`. Loads read pages of about 8 MiB"),
        .int("vector.max_dimension", \.vector.maxDimension, 1...65_536, "the most components an embedding may have (`-32602` past it)"),
        .int("vector.max_top_k", \.vector.maxTopK, 1...100_000, "the largest `top_k` (`-32602` past it)"),
        .int("vector.max_documents_per_call", \.vector.maxDocumentsPerCall, 1...1_000_000,
             "documents or ids one `add_documents`, `get_documents` or `delete_documents` may carry (`-32602` past it)"),
        .int("vector.max_query_words", \.vector.maxQueryWords, 1...10_000, "different words one keyword query may hold (`-32602` past it)"),
        .int("vector.max_filter_conditions", \.vector.maxFilterConditions, 1...10_000,
             "field conditions one search `filter` may hold, counted across `$and`/`$or`/`$not` (`-32602` past it)"),
        .int("vector.max_filter_depth", \.vector.maxFilterDepth, 1...64, "how deep a `filter`'s `$and`, `$or` and `$not` may nest (`-32602` past it)"),
        .int("vector.max_filter_values", \.vector.maxFilterValues, 1...1_000_000, "values one `$in` or `$nin` may list (`-32602` past it)"),
        .int("vector.approximate_from_documents", \.vector.approximateFromDocuments, 1...1_000_000_000,
             "a collection with at least this many embedded documents is searched through its HNSW graph (approximate, built in the background; the exact scan answers until it is ready); below it, exactly. A search's `exact` overrides (PROTOCOL.md, Approximate search; [STORAGE.md](STORAGE.md#the-vector-store))"),
        .int("vector.hnsw_m", \.vector.hnswM, 4...64, "HNSW links per node: more raise recall and memory (about 8 bytes per link)"),
        .int("vector.hnsw_ef_construction", \.vector.hnswEfConstruction, 8...2_000, "candidates an insertion into the graph weighs: more give a better graph, built more slowly"),
        .int("vector.hnsw_ef", \.vector.hnswEf, 1...100_000, "candidates an approximate search explores when it names no `ef` (at least `top_k`)"),
        .int("vector.max_ef", \.vector.maxEf, 1...100_000, "the largest `ef` a search may ask for (`-32602` past it)"),
        .switchable("vector.graph_directory", \.vector.graphDirectory,
                    "folder where HNSW graphs are saved after a build and read back at a restart instead of built again; `auto`: beside the SQLite database (`<storage.sqlite.path>.graphs`), off on PostgreSQL"),
        .int("vector.removals_kept_versions", \.vector.removalsKeptVersions, 1...1_000_000_000,
             "versions of a collection whose removed ids are kept for other proxies to catch up; older ones are pruned, and a proxy further behind loads the collection whole ([STORAGE.md](STORAGE.md#the-vector-store))"),
        .custom("vector.embedder", \.vector.embedder, type: "`url`, `model`, …", defaultText: "off",
                "an OpenAI-compatible `/v1/embeddings` endpoint: `url` (e.g. `http://127.0.0.1:11434/v1/embeddings`, Ollama), `model`, `api_key_env` (the environment variable holding its key, sent as a bearer token, never logged), `batch_size` (64 texts per request), `timeout_ms` (10000), `max_concurrent` (4 requests), `cache_entries` (10,000 texts whose vectors are kept), `retry_seconds` (30, between passes over documents stored without vectors)",
                show: { e in e.map { ["url": .string($0.url), "model": .string($0.model)] } ?? .null },
                read: { r, n, k throws(ConfigError) in try r.readEmbedder(n, k) }),
    ]

    public static let byName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// README's table of keys, made from this one (`storage-proxy config-keys`).
    public static var markdownTable: String {
        var out = "| key | default | on SIGHUP | meaning |\n|---|---|---|---|\n"
        for k in all {
            out += "| `\(k.name)` | \(k.defaultText) | \(k.reloadable ? "applied" : "restart") | \(k.doc) |\n"
        }
        return out
    }

    /// What `server.status` shows of a configuration: every key, secrets only as whether they are set.
    public static func status(of config: ProxyConfig) -> JSONValue {
        .object(JSONObject(all.map { ($0.name, $0.show(config)) }))
    }
}
