import ProxyCore

/// The seed's `CacheAdapter`: the application's own key space (`cache.*`).
public protocol CacheAdapter: AnyObject {
    var cacheName: String { get }
    func get(_ key: String, _ done: @escaping Completion<JSONValue?>)
    /// `ttl` in seconds; `nil` clears an earlier ttl (as Redis `SET`).
    func set(_ key: String, _ value: JSONValue, ttl: Double?, _ done: @escaping Completion<Bool>)
    func delete(_ key: String, _ done: @escaping Completion<Bool>)
    func exists(_ key: String, _ done: @escaping Completion<Bool>)
    /// Glob as Redis (`*`, `?`, `[abc]`, `\x`); returns how many keys went.
    func clearPattern(_ pattern: String, _ done: @escaping Completion<Int>)
    func ping(_ done: @escaping Completion<Bool>)
    func statusReport() -> JSONValue
    /// Lets go of connections at shutdown (after storage closed).
    func close()
}

extension CacheAdapter {
    public func close() {}
}

/// The proxy's own read-through entries, in a namespace `cache.*` cannot
/// reach. Values are the encoded answers (`null` for a record known absent):
/// what a client receives, ready to copy. A cache may live in the process or
/// be shared by several proxies (Redis), so every step answers through a
/// callback; an in-process cache calls back at once.
public protocol ReadCache: AnyObject {
    func lookup(_ entry: CacheEntry, _ done: @escaping (CacheLookup) -> Void)
    /// A live entry, when the cache lives in this process (nil: ask `lookup`).
    func cached(_ entry: CacheEntry) -> EncodedJSON?
    /// Stores a storage answer read after the lookup that gave `ticket`,
    /// unless a write was invalidated since (then it may be stale).
    /// `done` once the cache has taken it or refused it: a lookup sent after
    /// that finds the entry (a shared cache on several connections could
    /// otherwise read before the fill arrives).
    func fill(_ ticket: FillTicket, with answer: EncodedJSON, _ done: @escaping () -> Void)
    /// Drops the entries and the groups' entries; `done` once no proxy
    /// sharing the cache can serve them any more.
    func invalidate(_ what: CacheInvalidation, _ done: @escaping () -> Void)
    func statusReport() -> JSONValue
}

extension ReadCache {
    public func cached(_ entry: CacheEntry) -> EncodedJSON? { nil }
}

public enum CacheLookup {
    case hit(EncodedJSON)
    /// Not cached: read storage, then `fill` with the ticket.
    case miss(FillTicket)
    /// The cache cannot be asked (Redis down): read storage, fill nothing.
    case unavailable
}

/// What a miss saw: the entry to fill and the versions that must still hold
/// for the fill to land. Equal tickets are identical misses, which may share
/// one storage read.
public struct FillTicket: Hashable, Sendable {
    public let entry: CacheEntry
    public let versions: [String]

    public init(entry: CacheEntry, versions: [String]) {
        self.entry = entry
        self.versions = versions
    }
}
