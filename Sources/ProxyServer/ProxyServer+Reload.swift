import ProxyConfig
import ProxyCore
import TLS

/// TLS failures, and SIGHUP: what a running server takes from its
/// configuration file again.
extension ProxyServer {
    static func loadTLS(_ s: ProxyConfig.TLS) throws(ServerError) -> TLSContext {
        do {
            return try TLSContext(certificate: s.cert, key: s.key, clientCA: s.clientCA)
        } catch {
            throw ServerError("server.tls: \(error)")
        }
    }

    /// A handshake that failed (a client that does not trust us, or that we do not trust): logged at most every 10 s.
    func tlsFailed(_ connection: Connection, _ error: Error) {
        stats.tlsFailures += 1
        guard let held = tlsFailureLog.admit() else { return }
        log.warning("TLS failed: \(error)" + (held > 0 ? " (and \(held) more since the last report)" : ""), event: "tls_failed",
                    ["client": connection.session.origin])
    }

    /// SIGHUP: the certificate files again (renewed certificates); new connections use them.
    private func reloadTLS(_ settings: ProxyConfig.TLS?) -> String? {
        guard let settings, tls != nil else { return nil }
        do {
            let context = try Self.loadTLS(settings)
            tls = context
            if http != nil { http?.useTLS(try Self.loadTLS(settings)) }
            return "TLS certificates reloaded"
        } catch {
            log.error("SIGHUP: \(error); the running certificates stay", event: "reload_failed")
            return nil
        }
    }

    // MARK: - Reloading (SIGHUP)

    /// `server.reload_preview`: what a SIGHUP would change if sent now (the file as it reads
    /// now against the configuration in effect), without changing anything.
    func reloadPreview() -> JSONValue {
        guard let reloadConfiguration else { return ["error": "started without --config: nothing to reload", "changes": []] }
        do {
            return ["changes": ProxyConfig.changes(from: startedWith, to: try reloadConfiguration())]
        } catch {
            return ["error": .string("the file does not load, a reload would change nothing: \(error)"), "changes": []]
        }
    }

    /// The configuration file again: tokens, log level and format, limits and
    /// timeouts apply to what comes next; open connections stay open. What
    /// cannot change live (listeners, backends) is named in the log and keeps
    /// its running value. A file that does not load changes nothing.
    func reload() {
        guard let reloadConfiguration else {
            return log.warning("SIGHUP: started without --config, nothing to reload", event: "reload_failed")
        }
        let new: ProxyConfig
        do {
            new = try reloadConfiguration()
        } catch {
            return log.error("SIGHUP: the configuration was not reloaded, the running one stays: \(error)", event: "reload_failed")
        }
        var s = new.server
        var kept: [String] = ProxyConfig.keysNeedingRestart(from: startedWith, to: new)
        if (s.authToken ?? "").isEmpty && !(config.authToken ?? "").isEmpty && !s.allowInsecure && listensBeyondLoopback {
            s.authToken = config.authToken
            kept.append("server.auth_token (a non-loopback listener needs one)")
        }
        if (s.tls == nil) != (config.tls == nil) {
            kept.append("server.tls (switching TLS on or off)")
            s.tls = config.tls
        }
        let tlsNote = reloadTLS(s.tls)
        // What only a restart changes keeps its running value.
        s.socket = config.socket; s.socketMode = config.socketMode; s.listen = config.listen; s.httpListen = config.httpListen
        let tokenChanged = s.authToken != config.authToken || s.tokens != config.tokens || s.unixPeers != config.unixPeers
        config = s
        log.set(level: s.logLevel)
        log.set(format: Logger.Format(rawValue: s.logFormat) ?? .plain)
        services.authToken = s.authToken
        services.grants = s.tokens
        services.unixPeers = s.unixPeers
        services.maxAnswerBytes = s.maxAnswerBytes
        services.maxPatternBytes = s.maxPatternBytes
        services.defaultMaxAttempts = s.defaultMaxAttempts
        services.maxLeaseSeconds = s.maxLeaseSeconds
        services.authFailureDelayMs = UInt64(s.authFailureDelayMs)
        services.events.maxPerConnection = s.maxSubscriptionsPerConnection
        let budget = services.transactions
        budget.maxOpen = s.maxTransactions; budget.maxPerConnection = s.maxTransactionsPerConnection
        budget.idleTimeout = s.transactionTimeout; budget.maxLifetime = s.transactionMaxLifetime
        dispatcher.limits = .init(s)
        connectionCap = min(s.maxConnections, descriptorCap)
        http?.settings.maxConnections = s.httpMaxConnections
        http?.settings.authFailureDelayMs = UInt64(s.authFailureDelayMs)
        http?.settings.maxAuthFailures = s.maxAuthFailures
        http?.settings.maxBodyBytes = s.maxLineBytes
        http?.settings.consoleMaxViewers = s.consoleMaxViewers
        startedWith.server = s
        log.info("SIGHUP: configuration reloaded" + (tokenChanged ? " (tokens changed: new connections use them)" : "")
                 + (tlsNote.map { "; \($0)" } ?? "")
                 + (kept.isEmpty ? "" : "; needs a restart, unchanged until then: " + kept.joined(separator: ", ")), event: "reloaded")
    }

    private var listensBeyondLoopback: Bool {
        [config.listen, config.httpListen].contains { !$0.isEmpty && ListenAddress($0)?.isLoopback == false }
    }
}
