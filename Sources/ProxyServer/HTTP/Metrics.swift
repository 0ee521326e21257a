import ProxyCore

/// `GET /metrics`: the server's counters and `server.status`, as Prometheus
/// families named `storage_proxy_*`. Counters end in `_total`; request
/// latency is a histogram of the sampled requests (one in
/// `ServerStats.sampleEvery`), so its `_count` is not the request count
/// (`storage_proxy_requests_total` is). Loop thread only.
public enum Metrics {
    public struct Build: Sendable { public let version: String; public let commit: String }

    /// `httpsFailures`: handshakes h2o ran that failed (the line protocol's are in `stats`).
    static func page(stats: ServerStats, methods: MethodTable, status: JSONValue, build: Build, httpsFailures: UInt64 = 0) -> String {
        var p = PrometheusText()
        p.family("storage_proxy_build_info", .gauge, "The proxy's version and the commit it was built from.")
        p.sample("storage_proxy_build_info", ["version": build.version, "commit": build.commit], 1)
        p.single("storage_proxy_uptime_seconds", .gauge, "Seconds since the proxy started.",
                 (MonotonicClock.seconds() - stats.startedAt).rounded())
        requests(stats, methods, into: &p)
        connections(stats, httpsFailures: httpsFailures, into: &p)
        for item in fromStatus {
            guard let value = status.at(item.path)?.doubleValue else { continue }
            p.single(item.name, item.kind, item.help, value)
        }
        for (section, what) in [("storage", "The storage backend answers (1) or not (0)."),
                                ("cache", "The shared cache (cache.*) answers (1) or not (0).")] {
            guard let state = status.at([section, "state"])?.stringValue else { continue }
            let type = status.at([section, "type"])?.stringValue ?? (section == "cache" ? "redis" : "")
            p.family("storage_proxy_\(section)_up", .gauge, what)
            p.sample("storage_proxy_\(section)_up", ["type": type], state == "up" ? 1 : 0)
        }
        p.family("storage_proxy_http_requests_total", .counter, "HTTP endpoint requests by path and status.")
        for (key, n) in stats.httpRequests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: " ", maxSplits: 1)
            p.sample("storage_proxy_http_requests_total", ["path": String(parts[1]), "status": String(parts[0])], Double(n))
        }
        return p.text
    }

    private static func requests(_ stats: ServerStats, _ methods: MethodTable, into p: inout PrometheusText) {
        p.family("storage_proxy_requests_total", .counter,
                 "JSON-RPC requests answered, by method and code (ok, or the JSON-RPC error code).")
        var timed: [(String, ServerStats.PrometheusHistogram)] = []
        func counts(_ name: String, _ f: ServerStats.MethodFigures) {
            if f.calls > f.errors { p.sample("storage_proxy_requests_total", ["method": name, "code": "ok"], Double(f.calls - f.errors)) }
            for (code, n) in f.errorsByCode.sorted(by: { $0.key < $1.key }) {
                p.sample("storage_proxy_requests_total", ["method": name, "code": String(code)], Double(n))
            }
        }
        for spec in methods.ordered {
            let f = stats.perMethod[spec.index]
            guard f.calls > 0 else { continue }
            counts(spec.name, f)
            if f.latency.count > 0 { timed.append((spec.name, f.seconds)) }
        }
        counts("(invalid)", stats.invalid)

        let name = "storage_proxy_request_duration_seconds"
        p.family(name, .histogram, "Time from a request's start to its answer, of one request in \(ServerStats.sampleEvery) per method.")
        for (method, h) in timed {
            var cumulative: UInt64 = 0
            for (i, bound) in ServerStats.PrometheusHistogram.bounds.enumerated() {
                cumulative += h.counts[i]
                p.sample(name + "_bucket", ["method": method, "le": PrometheusText.number(bound)], Double(cumulative))
            }
            cumulative += h.counts.last!
            p.sample(name + "_bucket", ["method": method, "le": "+Inf"], Double(cumulative))
            p.sample(name + "_sum", ["method": method], h.sum)
            p.sample(name + "_count", ["method": method], Double(cumulative))
        }
    }

    private static func connections(_ stats: ServerStats, httpsFailures: UInt64, into p: inout PrometheusText) {
        p.single("storage_proxy_connections_accepted_total", .counter, "Client connections accepted.", Double(stats.connectionsAccepted))
        p.family("storage_proxy_connections_rejected_total", .counter, "Client connections turned away at accept, by reason.")
        for why in ServerStats.Rejection.allCases {
            p.sample("storage_proxy_connections_rejected_total", ["reason": why.rawValue], Double(stats.rejections(why)))
        }
        p.single("storage_proxy_received_bytes_total", .counter, "Bytes read from clients.", Double(stats.bytesReceived))
        p.single("storage_proxy_sent_bytes_total", .counter, "Bytes written to clients.", Double(stats.bytesSent))
        p.single("storage_proxy_tls_failures_total", .counter, "TLS handshakes or records that failed (the connection closed).",
                 Double(stats.tlsFailures + httpsFailures))
        p.single("storage_proxy_auth_failures_total", .counter, "Wrong tokens presented (auth on a line, a bearer token over HTTP).",
                 Double(stats.authFailures))
        p.single("storage_proxy_transactions_expired_total", .counter,
                 "Transactions rolled back by the server (server.transaction_timeout, transaction_max_lifetime).",
                 Double(stats.transactionsExpired))
    }

    /// `server.status` values, by their path there.
    private static let fromStatus: [(path: [String], name: String, kind: PrometheusText.Kind, help: String)] = [
        (["connections", "open"], "storage_proxy_connections_open", .gauge, "Client connections open."),
        (["connections", "max"], "storage_proxy_connections_max", .gauge, "Connections the proxy accepts (server.max_connections, or fewer descriptors)."),
        (["transactions", "open"], "storage_proxy_transactions_open", .gauge, "Transactions open."),
        (["transactions", "opening"], "storage_proxy_transactions_opening", .gauge, "Transactions being opened."),
        (["transactions", "max"], "storage_proxy_transactions_max", .gauge, "server.max_transactions."),
        (["events", "subscriptions"], "storage_proxy_subscriptions", .gauge, "Live-event subscriptions open."),
        (["events", "published"], "storage_proxy_events_published_total", .counter, "Change events received from storage."),
        (["events", "delivered"], "storage_proxy_events_delivered_total", .counter, "Events sent to subscribers."),
        (["events", "dropped"], "storage_proxy_events_dropped_total", .counter, "Events dropped for subscribers that did not read."),
        (["vectors", "collections_in_memory"], "storage_proxy_vector_collections_in_memory", .gauge, "Vector collections loaded in memory."),
        (["vectors", "memory_bytes"], "storage_proxy_vector_memory_bytes", .gauge, "Bytes of the in-memory vector matrices."),
        (["vectors", "searches"], "storage_proxy_vector_searches_total", .counter, "Vector searches run."),
        (["vectors", "refreshes"], "storage_proxy_vector_refreshes_total", .counter, "Matrices brought up to date from storage."),
        (["vectors", "keyword_fallbacks"], "storage_proxy_vector_keyword_fallbacks_total", .counter, "Searches answered by keyword only (embedder down)."),
        (["storage", "open_transactions"], "storage_proxy_storage_open_transactions", .gauge, "Transactions open in the backend."),
        (["storage", "pool", "open"], "storage_proxy_pool_open", .gauge, "PostgreSQL connections open."),
        (["storage", "pool", "idle"], "storage_proxy_pool_idle", .gauge, "PostgreSQL connections idle."),
        (["storage", "pool", "shared"], "storage_proxy_pool_shared", .gauge, "PostgreSQL connections carrying pipelined statements."),
        (["storage", "pool", "waiting"], "storage_proxy_pool_waiting", .gauge, "Statements waiting for a PostgreSQL connection."),
        (["storage", "pool", "pool_size"], "storage_proxy_pool_size", .gauge, "postgresql.pool_size."),
        (["storage", "pool", "max_overflow"], "storage_proxy_pool_max_overflow", .gauge, "postgresql.max_overflow."),
        (["storage", "pool", "connects"], "storage_proxy_pool_connects_total", .counter, "PostgreSQL connections made."),
        (["storage", "pool", "connect_failures"], "storage_proxy_pool_connect_failures_total", .counter, "PostgreSQL connection attempts that failed."),
        (["storage", "readers"], "storage_proxy_sqlite_readers", .gauge, "SQLite reader connections."),
        (["storage", "read_queue"], "storage_proxy_sqlite_read_queue", .gauge, "SQLite reads waiting for a reader."),
        (["storage", "write_queue"], "storage_proxy_sqlite_write_queue", .gauge, "SQLite writes waiting for the writer."),
        (["storage", "group_commit", "commits"], "storage_proxy_pg_group_commits_total", .counter, "PostgreSQL group commits (each may carry many writes)."),
        (["storage", "group_commit", "writes_committed"], "storage_proxy_pg_group_writes_committed_total", .counter, "PostgreSQL writes committed by group commit."),
        (["storage", "group_commit", "reruns"], "storage_proxy_pg_group_reruns_total", .counter, "PostgreSQL groups run again without a failed write."),
        (["storage", "group_commit", "queued"], "storage_proxy_pg_group_queued", .gauge, "PostgreSQL writes waiting for the next group."),
        (["storage", "commits"], "storage_proxy_sqlite_commits_total", .counter, "SQLite commits (each may carry many writes)."),
        (["storage", "writes_committed"], "storage_proxy_sqlite_writes_committed_total", .counter, "SQLite writes committed."),
        (["storage", "read_through", "hits"], "storage_proxy_read_through_hits_total", .counter, "Task reads answered from the cache."),
        (["storage", "read_through", "misses"], "storage_proxy_read_through_misses_total", .counter, "Task reads the cache did not hold."),
        (["storage", "read_through", "storage_reads"], "storage_proxy_read_through_storage_reads_total", .counter, "Task reads that went to storage."),
        (["storage", "read_through", "shared_reads"], "storage_proxy_read_through_shared_reads_total", .counter, "Task reads that joined another's storage read."),
        (["storage", "read_through", "bypassed"], "storage_proxy_read_through_bypassed_total", .counter, "Task reads that skipped the cache."),
        (["storage", "read_through", "cache", "fills"], "storage_proxy_read_through_fills_total", .counter, "Answers written into the cache."),
        (["storage", "read_through", "cache", "invalidations_missed"], "storage_proxy_read_through_invalidations_missed_total", .counter,
         "Cache invalidations that could not be delivered."),
        (["cache", "connections"], "storage_proxy_redis_connections", .gauge, "Redis connections."),
        (["cache", "ready"], "storage_proxy_redis_ready", .gauge, "Redis connections ready."),
        (["cache", "connects"], "storage_proxy_redis_connects_total", .counter, "Redis connections made."),
        (["cache", "outages"], "storage_proxy_redis_outages_total", .counter, "Times Redis became unreachable."),
        (["cache", "keys"], "storage_proxy_memory_cache_keys", .gauge, "Keys in the in-process cache."),
        (["cache", "used_bytes"], "storage_proxy_memory_cache_used_bytes", .gauge, "Bytes the in-process cache holds."),
        (["cache", "evicted_keys"], "storage_proxy_memory_cache_evicted_keys_total", .counter, "Keys evicted from the in-process cache."),
    ]
}

extension JSONValue {
    /// The value at a path of object keys.
    func at(_ path: [String]) -> JSONValue? {
        var v: JSONValue? = self
        for key in path { v = v?.objectValue?[key] }
        return v
    }
}
