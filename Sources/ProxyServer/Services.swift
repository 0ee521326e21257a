import ProxyConfig
import ProxyCore
import SQLStore
import StoragePorts
import VectorStore

/// What the methods work with, made once with the server: the backends and
/// the few settings handlers read. Handlers get this and their connection's
/// `Session`, never the server or the connection. Loop thread only.
final class Services {
    let storage: StorageAdapter
    /// Operations (`SQLStore.Operation`) on the storage, through the read-through cache when there is one.
    let operations: Operations
    /// The application's own key space (`cache.*`).
    let cache: CacheAdapter
    let health = HealthProbe()
    let transactions: TransactionBudget
    /// Live events (`subscribe`).
    let events: EventHub
    /// `vector.*`, and the limits its parameters are checked against.
    let vectors: VectorStore
    let vectorLimits: ProxyConfig.Vector
    /// CPU work off the loop (`server.compute_threads`): schedules computed for `schedule.next_runs`.
    let compute: WorkerPool
    /// `server.max_answer_bytes`: backends stop reading rows past it.
    var maxAnswerBytes: Int
    /// `server.max_pattern_bytes`: the longest `cache.clear_pattern` glob.
    var maxPatternBytes: Int
    /// `server.default_max_attempts` and `server.max_lease_seconds` (claims).
    var defaultMaxAttempts: Int
    var maxLeaseSeconds: Double
    /// `server.auth_token` (SIGHUP may change it; connections already in keep their state).
    var authToken: String?
    /// `server.tokens` and `server.unix_peers` (SIGHUP may change them too).
    var grants: [ProxyConfig.Grant] = []
    var unixPeers: [ProxyConfig.Grant] = []

    /// A token is needed on TCP: the server's own, or any scoped one.
    var needsToken: Bool { !(authToken ?? "").isEmpty || !grants.isEmpty }
    /// `server.auth_failure_delay_ms`, and how a handler waits on the loop without blocking it.
    var authFailureDelayMs: UInt64
    var after: (_ ms: UInt64, _ work: @escaping () -> Void) -> Void = { _, work in work() }
    let log: Logger
    private var authFailureLog = LogThrottle()
    /// `server.status`, which only the server can assemble (connections, statistics).
    var status: () -> JSONValue = { [:] }
    /// `server.reload_preview`, which only the server can assemble.
    var reloadPreview: () -> JSONValue = { [:] }

    init(_ backends: Backends, transactions: TransactionBudget, maxAnswerBytes: Int, maxPatternBytes: Int,
         defaultMaxAttempts: Int, maxLeaseSeconds: Double, maxSubscriptionsPerConnection: Int, authToken: String?,
         authFailureDelayMs: Int, vector: ProxyConfig.Vector, embedder: TextEmbedder?, computeThreads: Int, completions: CompletionQueue,
         log: Logger, after: @escaping (_ ms: UInt64, _ work: @escaping () -> Void) -> () -> Void) {
        self.log = log
        let storage = backends.storage
        operations = backends.operations
        cache = backends.cache
        var limits = VectorStore.Limits()
        limits.searchThreads = vector.searchThreads
        limits.maxMemory = vector.maxMemoryBytes
        limits.removalsKept = Int64(vector.removalsKeptVersions)
        limits.approximateFrom = vector.approximateFromDocuments
        limits.graphShape = .init(m: vector.hnswM, efConstruction: vector.hnswEfConstruction)
        limits.defaultEf = vector.hnswEf
        // (Serve has made `auto` a folder or nothing: it knows the backend.)
        limits.graphDirectory = vector.graphDirectory.isEmpty || vector.graphDirectory == "auto" ? nil : vector.graphDirectory
        vectors = VectorStore(storage: storage.vectors, completions: completions, limits: limits, embedder: embedder,
                              retrySeconds: vector.embedder?.retrySeconds ?? 30, after: after)
        vectorLimits = vector
        compute = WorkerPool(threads: computeThreads, completions: completions, name: "schedule computation")
        self.authFailureDelayMs = UInt64(authFailureDelayMs)
        events = EventHub(feed: storage, maxPerConnection: maxSubscriptionsPerConnection)
        self.defaultMaxAttempts = defaultMaxAttempts
        self.maxLeaseSeconds = maxLeaseSeconds
        self.storage = storage
        self.transactions = transactions
        self.maxAnswerBytes = maxAnswerBytes
        self.maxPatternBytes = maxPatternBytes
        self.authToken = authToken
    }

    /// Ends a transaction: committed, then what it wrote is retired from the
    /// read-through cache before the answer; or rolled back (nothing to retire).
    func commit(_ tx: TransactionID, _ done: @escaping Completion<Void>) {
        storage.commitTransaction(tx) { [operations] result in operations.transactionEnded(tx, committed: true) { done(result) } }
    }

    func rollback(_ tx: TransactionID, _ done: @escaping Completion<Void> = { _ in }) {
        operations.transactionEnded(tx, committed: false) {}
        storage.rollbackTransaction(tx, done)
    }

    /// Counts a wrong token (`ServerStats.authFailures`): set by the server.
    var countAuthFailure: () -> Void = {}

    /// A wrong token (`auth`, or an HTTP bearer): counted, and logged at most every 10 s, never the token.
    func authFailed(client: String) {
        countAuthFailure()
        guard let held = authFailureLog.admit() else { return }
        log.warning("authentication failed" + (held > 0 ? " (and \(held) more since the last report)" : ""),
                    event: "auth_failed", ["client": client])
    }

    /// The scope a presented token opens: everything for `server.auth_token`
    /// (or when no token is configured at all), a grant's scope for one of
    /// `server.tokens`, nil for none. Every configured token is compared, each
    /// in constant time, so the answer's timing tells nothing about which.
    func scope(forToken presented: String) -> Scope? {
        guard needsToken else { return .full }
        var found: Scope? = nil
        if let token = authToken, !token.isEmpty, Self.same(presented, token) { found = .full }
        for grant in grants where Self.same(presented, grant.token ?? "") && found == nil { found = Scope(grant) }
        return found
    }

    /// The scope of a Unix socket peer, by its uid (`server.unix_peers`); everything when unmapped.
    func scope(forPeerUID uid: UInt32?) -> Scope {
        guard let uid, let grant = unixPeers.first(where: { $0.uid == uid }) else { return .full }
        return Scope(grant)
    }

    /// Constant time: every byte is compared whatever the first difference (tokens, the console's CSRF token).
    static func same(_ presented: String, _ token: String) -> Bool {
        guard !token.isEmpty else { return false }
        let a = Array(presented.utf8), b = Array(token.utf8)
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { diff |= b[i] ^ (i < a.count ? a[i] : 0) }
        return diff == 0
    }
}
