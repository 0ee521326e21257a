import ProxyCore

/// Everything the proxy can be told, with the Personal Edition's defaults.
/// Keys follow the seed's `config/storage.yaml`, plus a `server:` section.
public struct ProxyConfig: Sendable, Equatable {
    public enum StorageType: String, Sendable { case sqlite, postgresql }
    public enum CacheType: String, Sendable { case none, memory, redis }

    public struct SQLite: Sendable, Equatable {
        public var path = "./storage/data.db"
        public var poolSize = 4
        /// FULL: an acknowledged write survives a power cut. NORMAL trades that for speed.
        public var synchronous = "FULL"
        public var busyTimeoutMs = 5000
    }

    public struct PostgreSQL: Sendable, Equatable {
        public var url: String? = nil
        public var host = "localhost"
        public var port = 5432
        public var database = "qwen_agent"
        public var user = "qwen"
        public var password: String? = nil
        /// libpq's TLS settings, passed through: `disable`, `prefer` (libpq's default), `require`, `verify-ca`,
        /// `verify-full`; and the authority to check the server against. A URL carries them as `?sslmode=…`.
        public var sslmode: String? = nil
        public var sslrootcert: String? = nil
        public var poolSize = 20
        public var maxOverflow = 40
        public var poolRecycle = 3600
        /// Autocommit statements queued on one connection before another is used.
        public var pipelineDepth = 8
        /// The same for writes when `groupCommit` is off. A write's commit waits
        /// for its WAL flush: two queued on one connection flush one after the
        /// other, on two connections PostgreSQL flushes them together.
        public var writePipelineDepth = 1
        /// Writes outside transactions share commits (STORAGE.md "Durability").
        public var groupCommit = true
        /// Groups committing at the same time, at most (each holds a pooled connection while it commits; a second starts only beside a slow one).
        public var commitGroups = 2
        /// Writes in one group at most.
        public var maxGroupWrites = 256
        /// How long a write in a group waits for a row lock before it leaves the group to wait alone.
        public var groupLockWaitMs = 500
        public init() {}
    }

    public struct Redis: Sendable, Equatable {
        public var url: String? = nil
        public var host = "localhost"
        public var port = 6379
        public var db = 0
        public var password: String? = nil
        public var poolSize = 10
        /// Every key the proxy writes in Redis starts with this.
        public var keyPrefix = "storage-proxy:"
    }

    /// Byte ceilings of the caches held in the proxy's own memory.
    public struct MemoryLimits: Sendable, Equatable {
        /// The in-process `cache.*` store: past it the least recently used keys go (Redis `allkeys-lru`).
        public var maxMemory = 64 << 20
        /// The in-process read-through entries (encoded answers).
        public var readThroughMaxMemory = 64 << 20
    }

    /// TLS on the TCP listeners (`server.tls`): PEM files, read again on SIGHUP.
    public struct TLS: Sendable, Equatable {
        public var cert = ""
        public var key = ""
        /// Clients must present a certificate signed by one of these (mutual TLS); nil: none asked.
        public var clientCA: String?
        public init() {}
    }

    /// A limited scope (`server.tokens`, `server.unix_peers`): which agents'
    /// tasks and logs, read-only or not, admin methods or not.
    public struct Grant: Sendable, Equatable {
        /// Shown in logs; also names the scope's own `cache.*` and metadata namespace.
        public var name = ""
        /// The token that opens it (`tokens`), or nil (`unix_peers`).
        public var token: String?
        /// The Unix user it applies to (`unix_peers`).
        public var uid: UInt32?
        /// nil: every agent (`"*"`).
        public var agents: [String]?
        public var readOnly = false
        public var admin = false
        public init() {}
    }

    public struct Server: Sendable, Equatable {
        /// Unix socket path; empty switches it off.
        public var socket = "./storage/proxy.sock"
        public var socketMode = 0o660
        /// `HOST:PORT`, or `PORT` for loopback; empty switches TCP off.
        public var listen = ""
        public var authToken: String? = nil
        /// Tokens with a limited scope, besides `authToken` (which opens everything).
        public var tokens: [Grant] = []
        /// Unix socket peers (by uid, from SO_PEERCRED) given a limited scope; others get everything.
        public var unixPeers: [Grant] = []
        public var allowInsecure = false
        /// `HOST:PORT` or `PORT` of the HTTP endpoint (metrics, probes, POST /); empty: off.
        public var httpListen = ""
        /// TLS on `listen` and `http_listen` (never the Unix socket); nil: plain TCP.
        public var tls: TLS?
        /// HTTP connections open at once (a scraper and a load balancer need a few).
        public var httpMaxConnections = 64
        /// The console's live views at once (`/console/live`).
        public var consoleMaxViewers = 8
        public var maxConnections = 1024
        public var maxLineBytes = 16 << 20
        /// Seconds a connection may stay silent with nothing in flight; 0 = never closed.
        public var idleTimeout = 300.0
        /// Seconds between deletions of LangGraph store items whose TTL passed; 0 = only on `store.sweep`.
        public var storeSweepSeconds = 60.0
        public var transactionTimeout = 30.0
        /// Seconds a transaction may stay open however busy it is (its locks go with it).
        public var transactionMaxLifetime = 300.0
        /// Open (and opening) transactions: all connections / one connection.
        public var maxTransactions = 256
        public var maxTransactionsPerConnection = 16
        /// Seconds a started line may take to arrive complete (slow senders).
        public var lineTimeout = 30.0
        /// The largest single answer (a result row set); past it, `-32005`.
        public var maxAnswerBytes = 16 << 20
        /// The longest `cache.clear_pattern` glob.
        public var maxPatternBytes = 1024
        /// Wrong `auth` tokens on one connection before it is closed.
        public var maxAuthFailures = 3
        /// How long the answer to a wrong `auth` token is held back (slows guessing).
        public var authFailureDelayMs = 200
        /// Unsent bytes for one client before the proxy stops reading from it
        /// (and drops its live events, telling it with one `lagged` event).
        public var maxOutputBytes = 4 << 20
        /// `subscribe` calls one connection may have open.
        public var maxSubscriptionsPerConnection = 16
        /// Claims a task may take when it keeps losing its lease (its own `max_attempts` wins); 0: no limit.
        public var defaultMaxAttempts = 3
        /// The longest lease `claim_due_tasks` and `renew_lease` grant.
        public var maxLeaseSeconds = 86_400.0
        public var logLevel = "info"
        /// `plain` or `json` (one object per line).
        public var logFormat = "plain"
        /// Calls slower than this are logged (`slow_call`); 0: none.
        public var slowLogMs = 1000
        /// Threads that compute schedules for `schedule.next_runs`, off the loop.
        public var computeThreads = 1
        /// Reads one connection may have started and not yet answered (the rest of its pipeline waits).
        public var maxReadsInFlight = 32
    }

    /// The vector store (`vector.*`): every limit a caller could push on.
    public struct Vector: Sendable, Equatable {
        /// Threads that scan the in-memory matrices (searches never run on the loop).
        public var searchThreads = 2
        /// Bytes all collections' in-memory matrices may take in one proxy.
        public var maxMemoryBytes = 2 << 30
        /// The most components an embedding may have.
        public var maxDimension = 4096
        /// The largest `top_k`.
        public var maxTopK = 1000
        /// Documents (or ids) one `add_documents` / `delete_documents` may carry.
        public var maxDocumentsPerCall = 10_000
        /// Different words one keyword query may hold.
        public var maxQueryWords = 64
        /// Conditions (field tests) one search filter may hold, how deep its
        /// `$and`/`$or`/`$not` may nest, and values one `$in`/`$nin` may list.
        public var maxFilterConditions = 64
        public var maxFilterDepth = 8
        public var maxFilterValues = 1024
        /// Versions of a collection whose removals are kept for other proxies to
        /// catch up (older ones are pruned; a proxy further behind reloads the collection).
        public var removalsKeptVersions = 10_000
        /// Collections with at least this many embedded documents are searched
        /// through their HNSW graph (below it, the exact scan).
        public var approximateFromDocuments = 20_000
        /// HNSW: links per node, an insertion's search breadth, a search's
        /// default breadth (`ef`) and the largest one a search may ask for.
        public var hnswM = 16
        public var hnswEfConstruction = 100
        public var hnswEf = 128
        public var maxEf = 4096
        /// Where HNSW graphs are saved and read back at a restart: `auto` is
        /// beside the SQLite database (`<storage.sqlite.path>.graphs`), and off
        /// on PostgreSQL; empty: off.
        public var graphDirectory = "auto"
        /// Texts to vectors (`vector.embedder`); nil: documents and searches bring their own.
        public var embedder: Embedder?
        public init() {}
    }

    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    public struct Embedder: Sendable, Equatable {
        public var url = ""
        public var model = ""
        /// Read from the environment variable `api_key_env` names; never logged.
        public var apiKey: String?
        public var batchSize = 64
        public var timeoutMs = 10_000
        public var maxConcurrent = 4
        /// Texts whose vectors are kept (a text is embedded once).
        public var cacheEntries = 10_000
        /// Seconds between background passes over documents stored without an embedding.
        public var retrySeconds = 30.0
        public init() {}
    }

    public var storageType = StorageType.sqlite

    /// `vector.graph_directory` made a folder, or nil for off (`auto`: beside a SQLite database).
    public var graphDirectory: String? {
        switch vector.graphDirectory {
        case "": return nil
        case "auto": return storageType == .sqlite ? sqlite.path + ".graphs" : nil
        case let folder: return folder
        }
    }
    public var sqlite = SQLite()
    public var postgresql = PostgreSQL()
    public var cacheType = CacheType.memory
    public var redis = Redis()
    public var memoryCache = MemoryLimits()
    public var server = Server()
    public var vector = Vector()

    public init() {}
}

extension ProxyConfig {
    /// The keys whose change a running proxy cannot apply (listeners,
    /// backends, the vector store; `ConfigKey.reloadable`): those that differ
    /// between `old` and `new`. Names only, never values.
    public static func keysNeedingRestart(from old: ProxyConfig, to new: ProxyConfig) -> [String] {
        ConfigKey.all.filter { !$0.reloadable && $0.differs(old, new) }.map(\.name)
    }

    /// What loading `new` over `old` would change, key by key: `{key, now, after, applies}` (`"reload"`
    /// or `"restart"`), values as `server.status` shows them (a secret only as whether it is set).
    public static func changes(from old: ProxyConfig, to new: ProxyConfig) -> JSONValue {
        .array(ConfigKey.all.filter { $0.differs(old, new) }.map { key in
            ["key": .string(key.name), "now": key.show(old), "after": key.show(new),
             "applies": .string(key.reloadable ? "reload" : "restart")]
        })
    }
}
