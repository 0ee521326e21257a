import ProxyCore

/// The read-through guarantees, once for every cached read: a read outside
/// a transaction is served from the cache when it can be; a miss reads
/// storage and fills the entry; identical misses in flight together share one
/// storage read (single-flight: a stampede on a hot key costs one query).
///
/// Every committed write invalidates what it may have changed after the
/// commit succeeded and before it is acknowledged, so a read sent after the
/// acknowledgement, through any proxy sharing the cache, cannot be served the
/// old answer. A fill carries the versions its lookup saw (`FillTicket`) and
/// lands only if no invalidation came in between: a reader that read a row
/// before a concurrent writer committed can never put it back after the
/// writer's invalidation. Writes inside a transaction are gathered and
/// invalidated at its commit. Loop thread only.
public final class ReadThrough {
    public let cache: ReadCache
    /// What each open transaction wrote: invalidated at commit.
    private var touched: [TransactionID: (keys: Set<String>, groups: Set<String>)] = [:]
    /// Storage reads in flight for a miss, and who else waits for each.
    private var flights: [FillTicket: [Completion<EncodedJSON>]] = [:]
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var storageReads = 0
    public private(set) var sharedReads = 0
    public private(set) var bypassed = 0

    public init(cache: ReadCache) { self.cache = cache }

    /// The entry's answer, from the cache or from `read` (storage, outside any transaction).
    public func answer(_ entry: CacheEntry, _ done: @escaping Completion<EncodedJSON>,
                       read: @escaping (@escaping Completion<EncodedJSON>) -> Void) {
        LoopThread.check()
        cache.lookup(entry) { [self] lookup in serve(lookup, done, read: read) }
    }

    /// The entry's answer if a cache in this process holds it: no callback to make (the hot path).
    public func cached(_ entry: CacheEntry) -> EncodedJSON? {
        guard let answer = cache.cached(entry) else { return nil }
        hits += 1
        return answer
    }

    private func serve(_ lookup: CacheLookup, _ done: @escaping Completion<EncodedJSON>,
                       read: (@escaping Completion<EncodedJSON>) -> Void) {
        switch lookup {
        case .hit(let answer):
            hits += 1
            done(.success(answer))
        case .unavailable:
            bypassed += 1
            storageReads += 1
            read(done)
        case .miss(let ticket):
            misses += 1
            if flights[ticket] != nil {
                sharedReads += 1
                flights[ticket]!.append(done)
                return
            }
            flights[ticket] = [done]
            storageReads += 1
            read { [self] result in
                guard case .success(let answer) = result else { return land(ticket, result) }
                // Answered once the entry is in: the next read of it, from
                // anyone, is a hit. Misses meanwhile join this flight.
                cache.fill(ticket, with: answer) { [self] in land(ticket, result) }
            }
        }
    }

    /// Ends a flight: everyone who waited for it gets its answer.
    private func land(_ ticket: FillTicket, _ result: Result<EncodedJSON, ProxyError>) {
        for w in flights.removeValue(forKey: ticket) ?? [] { w(result) }
    }

    /// A write succeeded: `then` runs once what it changed is gone from the
    /// cache (at once inside a transaction: that is invalidated at commit).
    public func wrote(_ what: CacheInvalidation, in tx: TransactionID?, then: @escaping () -> Void) {
        LoopThread.check()
        guard !what.isEmpty else { return then() }
        if let tx {
            touched[tx, default: ([], [])].keys.formUnion(what.keys)
            touched[tx, default: ([], [])].groups.formUnion(what.groups)
            return then()
        }
        cache.invalidate(what, then)
    }

    /// A commit answered (even a failed commit may have been applied:
    /// dropping entries is always safe); `then` once its writes are invalidated.
    public func ended(_ tx: TransactionID, committed: Bool, then: @escaping () -> Void) {
        guard let t = touched.removeValue(forKey: tx), committed else { return then() }
        cache.invalidate(CacheInvalidation(keys: Array(t.keys), groups: Array(t.groups)), then)
    }

    public func statusReport() -> JSONValue {
        ["hits": .int(Int64(hits)), "misses": .int(Int64(misses)), "storage_reads": .int(Int64(storageReads)),
         "shared_reads": .int(Int64(sharedReads)), "bypassed": .int(Int64(bypassed)), "cache": cache.statusReport()]
    }
}
