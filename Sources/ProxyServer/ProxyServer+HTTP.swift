/// The HTTP endpoint (`server.http_listen`), wired to this server's metrics, readiness and sessions.
extension ProxyServer {
    func startHTTP() throws(ServerError) {
        let settings = HTTPEndpoint.Settings(maxBodyBytes: config.maxLineBytes, maxConnections: config.httpMaxConnections,
                                             authFailureDelayMs: UInt64(config.authFailureDelayMs), maxAuthFailures: config.maxAuthFailures,
                                             consoleMaxViewers: config.consoleMaxViewers)
        let host = HTTPEndpoint.Host(
            metrics: { [unowned self] in
                Metrics.page(stats: stats, methods: dispatcher.methods, status: statusReport(), build: Self.build,
                             httpsFailures: http?.tlsFailures ?? 0)
            },
            status: { [unowned self] in statusReport() },
            readiness: { [unowned self] answer in
                services.health.check(storage: storage) { up in answer(up ? nil : "storage unreachable") }
            },
            newSession: { [unowned self] scope, origin, lane in
                Session(requiresAuth: scope == nil, maxAuthFailures: config.maxAuthFailures, budget: services.transactions, origin: origin,
                        scope: scope ?? .full, lane: lane)
            },
            sessionEnded: { [unowned self] in endSession($0) },
            drained: { [unowned self] in finishStopIfDone() })
        let endpoint = HTTPEndpoint(loop: loop, dispatcher: dispatcher, settings: settings, host: host, log: log)
        if let settings = config.tls { endpoint.useTLS(try Self.loadTLS(settings)) }  // its own context: its failures are counted there
        try endpoint.listen(config.httpListen, allowInsecure: config.allowInsecure || config.tls?.clientCA != nil)
        http = endpoint
    }
}
