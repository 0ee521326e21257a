#if canImport(Glibc)
import Glibc
#endif
import CBuildInfo
import EventLoop
import ProxyCore
import SQLStore
import StoragePorts
import VectorStore
import ProxyConfig
import TLS

/// The proxy: its listeners and connections on one libuv loop, run on the
/// calling thread, and the statistics.
///
/// Life: the loop and its hand-off are made first, then the backends on
/// them, then the server with those backends → `start()` (bind, log where it
/// listens) → `run()` (until a signal or `stop()`) → returns after in-flight
/// requests were answered and the storage pools closed.
public final class ProxyServer: ConnectionOwner {
    var config: ProxyConfig.Server
    private var lastStoreSweep = MonotonicClock.coarseSeconds()
    private var storeSweeping = false
    let log: Logger
    let loop: UVLoop
    private let handoff: LoopHandoff
    let stats: ServerStats
    let services: Services
    let dispatcher: Dispatcher
    var storage: StorageAdapter { services.storage }

    private var listeners: [UVStream] = []
    var http: HTTPEndpoint?
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var dirty: [Connection] = []
    private var helpers: [UVCallback] = []
    private var stopping = false
    private var socketPath: String?

    /// Reads the configuration again (SIGHUP); nil: the server was not started from a file.
    public var reloadConfiguration: (() throws -> ProxyConfig)?

    /// `handoff` is the loop's, on which the backends were built; the server
    /// closes it when it stops.
    public init(config: ProxyConfig.Server, log: Logger, loop: UVLoop, handoff: LoopHandoff,
                backends: Backends, vector: ProxyConfig.Vector = .init(), embedder: TextEmbedder? = nil) {
        self.config = config
        self.log = log
        self.loop = loop
        self.handoff = handoff
        let methods = MethodTable.standard
        stats = ServerStats(methodCount: methods.ordered.count)
        let transactions = TransactionBudget(maxOpen: config.maxTransactions, maxPerConnection: config.maxTransactionsPerConnection,
                                             idleTimeout: config.transactionTimeout, maxLifetime: config.transactionMaxLifetime)
        services = Services(backends, transactions: transactions, maxAnswerBytes: config.maxAnswerBytes,
                            maxPatternBytes: config.maxPatternBytes, defaultMaxAttempts: config.defaultMaxAttempts,
                            maxLeaseSeconds: config.maxLeaseSeconds, maxSubscriptionsPerConnection: config.maxSubscriptionsPerConnection,
                            authToken: config.authToken, authFailureDelayMs: config.authFailureDelayMs,
                            vector: vector, embedder: embedder, computeThreads: config.computeThreads, completions: handoff, log: log,
                            after: { [loop] ms, work in loop.after(ms: ms, work) })
        services.grants = config.tokens
        services.unixPeers = config.unixPeers
        dispatcher = Dispatcher(methods: methods, services: services, stats: stats,
                                limits: .init(config), log: log)
        services.status = { [unowned self] in statusReport() }
        services.reloadPreview = { [unowned self] in reloadPreview() }
        services.countAuthFailure = { [unowned self] in stats.authFailures += 1 }
        services.after = { [loop] ms, work in loop.after(ms: ms, work) }
    }

    // MARK: - Starting

    public func start() throws(ServerError) {
        signal(SIGPIPE, SIG_IGN)
        // A parent may have spawned us with these blocked (a test runner or a
        // supervisor can); a stop signal must never sit pending forever.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        connectionCap = raiseDescriptorLimit()
        if let settings = config.tls { tls = try Self.loadTLS(settings) }
        // TCP first: whoever waits for the Unix socket to appear (a test, a script,
        // a supervisor) then finds every listener open, none a moment later.
        if !config.listen.isEmpty { try listenTCP(config.listen) }
        do {
            if !config.socket.isEmpty { try listenUnix(config.socket) }
        } catch {
            for l in listeners { l.close() }
            throw error
        }
        guard !listeners.isEmpty else {
            throw ServerError("no listener: set server.socket or server.listen")
        }
        if !config.httpListen.isEmpty {
            do {
                try startHTTP()
            } catch {
                for l in listeners { l.close() }
                if let socketPath { unlink(socketPath) }
                throw error
            }
        }

        let flush = UVCallback(loop: loop, .check) { [unowned self] in flushDirty() }
        let sweep = UVCallback(loop: loop, .timer) { [unowned self] in sweepIdle() }
        sweep.startTimer(ms: 1000, repeatMs: 1000)
        helpers = [flush, sweep]
        helpers.append(UVCallback(loop: loop, .signal(SIGHUP)) { [unowned self] in reload() })
        for signum in [SIGINT, SIGTERM] {
            helpers.append(UVCallback(loop: loop, .signal(signum)) { [unowned self] in
                log.info("signal \(signum == SIGINT ? "SIGINT" : "SIGTERM"): stopping", event: "stopping")
                stop()
            })
        }
    }

    private func listenUnix(_ path: String) throws(ServerError) {
        if let folder = createParentDirectories(of: path) { throw ServerError("cannot create the folder \(folder)") }
        try StaleSocket.prepare(path)
        let stream = UVStream(loop: loop, kind: .pipe)
        // The socket file is born with its final mode: no window in which others may connect.
        let previousMask = umask(mode_t(~config.socketMode & 0o777))
        var rc = stream.bindPipe(path)
        umask(previousMask)
        if rc == 0 { rc = stream.listen() }
        guard rc == 0 else {
            stream.close()
            throw ServerError("cannot listen on \(path): \(uvError(rc))")
        }
        stream.delegate = acceptor(requiresAuth: false, tls: false)
        stream.acceptFailed = { [unowned self] in acceptFailed($0) }
        stream.refusal = Self.outOfDescriptors
        listeners.append(stream)
        socketPath = path
        log.info("listening on unix:\(path) (mode \(String(config.socketMode, radix: 8)))", event: "listening")
    }

    private func listenTCP(_ text: String) throws(ServerError) {
        guard let address = ListenAddress(text) else { throw ServerError("server.listen: '\(text)' is not HOST:PORT or PORT") }
        let token = config.authToken ?? ""
        if !address.isLoopback && token.isEmpty && config.tokens.isEmpty && config.tls?.clientCA == nil && !config.allowInsecure {
            throw ServerError("refusing to listen on \(address.host):\(address.port) without server.auth_token "
                + "(set one, require client certificates with server.tls.client_ca, bind a loopback address, or set server.allow_insecure: true)")
        }
        let stream = UVStream(loop: loop, kind: .tcp)
        var rc = stream.bindTCP(host: address.host, port: address.port)
        if rc == 0 { rc = stream.listen() }
        guard rc == 0 else {
            stream.close()
            throw ServerError("cannot listen on \(address.host):\(address.port): \(uvError(rc))")
        }
        let requiresAuth = services.needsToken
        stream.delegate = acceptor(requiresAuth: true, tls: tls != nil)  // auth: when a token is set, now or after a reload
        stream.acceptFailed = { [unowned self] in acceptFailed($0) }
        stream.refusal = Self.outOfDescriptors
        listeners.append(stream)
        let notes = [tls != nil ? "TLS" + (config.tls?.clientCA != nil ? ", client certificates required" : "") : nil,
                     requiresAuth ? "auth required" : nil].compactMap { $0 }
        log.info("listening on tcp:\(address.host):\(stream.boundPort)" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))"),
                 event: "listening")
    }

    /// The connections the descriptors allow: `server.max_connections`, or
    /// fewer when the process may not open that many files. Past it a client
    /// is accepted only to be told `-32006`, never dropped silently.
    var connectionCap = 1024
    private var rejectionLog = LogThrottle()
    /// The connections the open-file limit allows (`server.max_connections` can only lower it).
    private(set) var descriptorCap = Int.max

    /// Raises the soft RLIMIT_NOFILE to the hard one (as PgBouncer and Redis
    /// do) and keeps an eighth of it, plus 64, for storage, caches and logs.
    private func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return config.maxConnections }
        let before = limit.rlim_cur
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 { limit.rlim_cur = before }
        }
        let files = Int(clamping: limit.rlim_cur)
        descriptorCap = max(1, files - 64 - files / 8)
        let cap = min(config.maxConnections, descriptorCap)
        log.info("open files: \(files)\(files > Int(clamping: before) ? " (raised from \(before))" : ""); connections: \(cap)", event: "limits")
        if cap < config.maxConnections {
            log.warning("server.max_connections \(config.maxConnections) needs more descriptors than the \(files) allowed: "
                        + "connections past \(cap) get -32006", event: "limits")
        }
        return cap
    }

    /// What a client hears when the process has no descriptor to give it.
    private static let outOfDescriptors: [UInt8] = {
        var line: [UInt8] = []
        RPCResponse.writeError(id: .null, error: .overloaded("the proxy is out of file descriptors"), into: &line)
        line.append(0x0A)
        return line
    }()

    /// Logged once per burst (at most every 10 s): a flood must not flood the log too.
    private func acceptFailed(_ status: Int32) {
        stats.rejected(status == -EMFILE || status == -ENFILE ? .outOfDescriptors : .acceptFailed)
        logRejection("cannot accept a connection: \(uvError(status))")
    }

    /// Logged once per burst (at most every 10 s), with how many were not.
    private func logRejection(_ why: String) {
        guard let held = rejectionLog.admit() else { return }
        log.warning("\(why) (open: \(connections.count), cap: \(connectionCap))" + (held > 0 ? "; \(held) more since the last report" : ""),
                    event: "connection_rejected")
    }

    private func acceptor(requiresAuth: Bool, tls: Bool) -> Acceptor {
        let a = Acceptor(server: self, requiresAuth: requiresAuth, usesTLS: tls)
        acceptors.append(a)
        return a
    }
    private var acceptors: [Acceptor] = []
    /// Connections numbered from 1 in accept order (HTTP requests are `h` + their number): the first part of request ids in logs.
    private var connectionsMade: UInt64 = 0

    /// Accepts on one listener; over `max_connections` the newcomer gets `overloaded` and is closed.
    final class Acceptor: UVStreamDelegate {
        unowned let server: ProxyServer
        let requiresAuth: Bool
        let usesTLS: Bool
        init(server: ProxyServer, requiresAuth: Bool, usesTLS: Bool) {
            self.server = server; self.requiresAuth = requiresAuth; self.usesTLS = usesTLS
        }

        func streamDidAccept(_ listener: UVStream) {
            let client = UVStream(loop: server.loop, kind: listener.kind)
            guard listener.accept(into: client) else { return client.close() }
            client.setNoDelay()
            server.connectionsMade += 1
            var session: TLSSession?
            if usesTLS, let context = server.tls {
                guard let s = try? TLSSession(context, server: true) else { return client.close() }
                session = s
            }
            // A Unix peer mapped in server.unix_peers gets its scope at once (the kernel vouches for it).
            let scope = listener.kind == .pipe ? server.services.scope(forPeerUID: client.peerCredentials?.uid) : .full
            let connection = Connection(stream: client, owner: server, dispatcher: server.dispatcher,
                                        requiresAuth: requiresAuth && server.services.needsToken,
                                        number: server.connectionsMade, tls: session, scope: scope)
            server.connections[ObjectIdentifier(connection)] = connection
            if server.connections.count > server.connectionCap || server.stopping {
                server.stats.rejected(server.stopping ? .stopping : .maxConnections)
                if !server.stopping { server.logRejection("connection refused: server.max_connections reached") }
                connection.reject(server.stopping ? .overloaded("the server is stopping")
                                  : .overloaded("too many connections (\(server.connectionCap))"))
                return
            }
            server.stats.connectionsAccepted += 1
            if server.log.enabled(.debug) { server.log.debug("connection opened", event: "connection_opened", ["client": connection.session.origin]) }
            connection.start()
        }
        func stream(_ stream: UVStream, didRead bytes: UnsafeRawBufferPointer) {}
        func streamDidEnd(_ stream: UVStream, error: Int32?) {}
        func streamDidDrain(_ stream: UVStream) {}
    }

    // MARK: - TLS and reload (ProxyServer+Reload.swift)

    /// The certificate and key (and client authorities) of `server.tls`; SIGHUP reads them again.
    var tls: TLSContext?
    var tlsFailureLog = LogThrottle()
    /// The whole configuration the server runs with (the backends' parts only to tell what a reload cannot change).
    public var startedWith = ProxyConfig()

    // MARK: - Running

    /// Runs the loop until the server has stopped.
    public func run() {
        loop.run()
    }

    func markDirty(_ connection: Connection) {
        guard !connection.isDirty else { return }
        connection.isDirty = true
        dirty.append(connection)
    }

    /// Once per loop turn: one write per connection with answers waiting.
    private func flushDirty() {
        guard !dirty.isEmpty else { return }
        let list = dirty
        dirty.removeAll(keepingCapacity: true)
        for c in list { c.writeOut() }
    }

    func connectionClosed(_ connection: Connection) {
        connections[ObjectIdentifier(connection)] = nil
        if log.enabled(.debug) {
            log.debug("connection closed", event: "connection_closed",
                      ["client": connection.session.origin, "requests": String(connection.session.requestsStarted)])
        }
        endSession(connection.session)
        if stopping { finishStopIfDone() }
    }

    /// A connection (or an HTTP body) is done: what it left open is rolled back, its subscriptions end.
    func endSession(_ session: Session) {
        for tx in session.close() {
            services.rollback(tx)
        }
        services.events.sessionClosed(session)
    }

    private func sweepIdle() {
        let clock = MonotonicClock.seconds()
        for c in connections.values {
            for (tx, why) in c.session.expiredTransactions(now: clock) {
                log.warning("transaction \(why): rolled back", event: "transaction_expired", ["client": c.session.origin])
                stats.transactionsExpired += 1
                services.rollback(tx)
            }
        }
        let now = MonotonicClock.coarseSeconds()
        for c in connections.values {
            if let since = c.partialLineSince, now - since > config.lineTimeout { c.abandonSlowLine(after: config.lineTimeout) }
        }
        sweepExpiredStoreItems(now: now)
        guard config.idleTimeout > 0 else { return }
        let cutoff = now - config.idleTimeout
        for c in connections.values where c.isIdle && c.lastActivity < cutoff { c.close() }
    }

    /// LangGraph's store: items whose TTL passed are deleted every
    /// `server.store_sweep_seconds` (reads skip them meanwhile). One sweep at a time.
    private func sweepExpiredStoreItems(now: Double) {
        guard config.storeSweepSeconds > 0, !storeSweeping, now - lastStoreSweep >= config.storeSweepSeconds else { return }
        lastStoreSweep = now
        storeSweeping = true
        services.operations.run(StoreOperations.sweep(now: .now()), in: nil) { [weak self] result in
            self?.storeSweeping = false
            if case .failure(let error) = result { self?.log.warning("store sweep failed: \(error.message)", event: "store_sweep") }
            else if case .success(let n) = result, n > 0 { self?.log.info("store sweep: \(n) expired item(s) deleted", event: "store_sweep") }
        }
    }

    // MARK: - Stopping

    /// Stops accepting, answers what was received, closes the pools.
    public func stop() {
        guard !stopping else { return }
        stopping = true
        // The watchdog first: closing connections can finish the whole stop
        // synchronously, and it must be among the handles closed then.
        let deadline = MonotonicClock.seconds() + 10
        let watchdog = UVCallback(loop: loop, .timer) { [unowned self] in
            guard !connections.isEmpty, MonotonicClock.seconds() > deadline else { return }
            log.warning("\(connections.count) connection(s) still busy after 10 s: closing them", event: "stopping")
            for c in Array(connections.values) { c.close() }
        }
        watchdog.startTimer(ms: 1000, repeatMs: 1000)
        helpers.append(watchdog)
        for l in listeners { l.close() }
        listeners.removeAll()
        http?.stop()
        if let socketPath { unlink(socketPath) }
        for c in Array(connections.values) { c.endInput() }
        finishStopIfDone()
    }

    private var closingStorage = false

    func finishStopIfDone() {
        guard connections.isEmpty, (http?.callsInFlight ?? 0) == 0, !closingStorage else { return }
        closingStorage = true
        services.vectors.close()
        services.compute.close()
        storage.close { [self] in
            services.cache.close()
            http?.close()
            for h in helpers { h.close() }
            helpers.removeAll()
            handoff.close()
            log.info("stopped", event: "stop")
        }
    }

    // MARK: - Status

    func statusReport() -> JSONValue {
        var report: JSONObject = [
            "version": .string(Self.build.version), "commit": .string(Self.build.commit),
            "uptime_s": .double((MonotonicClock.seconds() - stats.startedAt).rounded()),
            "connections": ["open": .int(Int64(connections.count)), "accepted": .int(Int64(stats.connectionsAccepted)),
                            "rejected": .int(Int64(stats.connectionsRejected)), "max": .int(Int64(connectionCap))],
            "requests": stats.report(methods: dispatcher.methods),
            "slow_calls": .array(stats.slowCalls.reversed()),
            "transactions": ["open": .int(Int64(services.transactions.open)), "opening": .int(Int64(services.transactions.opening)),
                             "max": .int(Int64(config.maxTransactions))],
            "events": ["subscriptions": .int(Int64(services.events.count)), "feed": .string(services.events.isFeedOn ? "on" : "off"),
                       "published": .int(Int64(services.events.published)), "delivered": .int(Int64(services.events.delivered)),
                       "dropped": .int(Int64(services.events.dropped))],
            "vectors": services.vectors.status,
            "storage": storageReport(),
            "cache": services.cache.statusReport(),
            // The configuration in effect (SIGHUP's changes included), key by key; secrets only as whether they are set.
            "config": ConfigKey.status(of: startedWith),
        ]
        if let allocations = AllocationCount.current { report["allocations"] = .int(Int64(truncatingIfNeeded: allocations)) }
        if let resident = ProcessMemory.residentBytes() { report["memory"] = ["rss_bytes": .int(Int64(resident))] }
        return .object(report)
    }
}

extension ProxyServer {
    /// The backend's figures, with the read-through cache's beside them (`storage.read_through`).
    func storageReport() -> JSONValue {
        guard case .object(var report) = storage.statusReport(), let readThrough = services.operations.readThrough else {
            return storage.statusReport()
        }
        report["read_through"] = readThrough.statusReport()
        return .object(report)
    }

    /// This binary's version and commit (`--version`, `server.status`, `/metrics`).
    public static let build = Metrics.Build(version: OpenRPC.version, commit: String(cString: storage_proxy_build_commit()))

    /// The OpenRPC description of every method (`storage-proxy openrpc`).
    public static func openRPCDocument() -> JSONValue { OpenRPC.document(for: MethodTable.standard) }
}
