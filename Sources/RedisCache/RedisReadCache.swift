import ProxyCore
import StoragePorts

/// The proxy's read-through entries in Redis, shared by every proxy on the
/// same Redis and database, correct under concurrency and outages:
///
/// - Entries live under `{prefix}rt:`, apart from `cache.*` (`{prefix}app:`),
///   each for its TTL (`task:{id}` 300 s, `tasks:{agent}:{status}:{limit}:{offset}`
///   60 s), holding `stamp|answer`.
/// - `rt:gen` is a generation every new connection increments before it is
///   used. An entry counts only if its stamp names the current generation, so
///   an invalidation missed while Redis was out of reach (or while a proxy
///   was down) cannot leave an old entry to be served: whoever reconnects
///   first retires every entry written before.
/// - An entry with a version of its own (`task:{id}`) is guarded by its
///   version key `task:{id}:v`; an entry of a group (a listing) by the
///   group's counter `rt:{group}` (task lists: `rt:lists`), and its stamp is
///   `gen.counter`. A write increments `rt:seq` and its groups' counters,
///   sets each written key's version to the new `seq`, then deletes the
///   entries. This runs after the storage commit and before the write is
///   acknowledged.
/// - A lookup reads generation, entry and version with one `MGET` (the
///   lookups of one loop turn share it); a miss hands out what it saw, and the fill (a script) writes only if generation and
///   version are unchanged: a reader that read a row before a concurrent
///   writer committed can never store it after the writer's invalidation.
///
/// Loop thread only.
public final class RedisReadCache: ReadCache {

    private let redis: RedisClient
    private let space: String
    private let generationKey: String
    private let sequenceKey: String
    public private(set) var fills = 0
    public private(set) var invalidationsMissed = 0

    /// Lookups asked for during this loop turn, sent together before the loop waits.
    private var pending: [PendingLookup] = []
    /// Lookups per `MGET`: enough to cut per-command costs, few enough to
    /// spread a deep pipeline over several connections.
    static let lookupsPerCommand = 32

    private struct PendingLookup {
        let entry: CacheEntry
        let key: String  // in Redis
        let done: (CacheLookup) -> Void

        /// A group's counter, or the entry's own version key.
        func guardKey(space: String) -> String { entry.group.map { space + $0 } ?? key + ":v" }
    }

    public init(redis: RedisClient) {
        self.redis = redis
        space = redis.settings.keyPrefix + "rt:"
        generationKey = space + "gen"
        sequenceKey = space + "seq"
        let generationKey = generationKey
        redis.onEveryConnect { connection, done in
            connection.command(["INCR", generationKey]) { r in
                if case .success(.integer) = r { done(true) } else { done(false) }
            }
        }
        redis.beforeWaiting { [unowned self] in sendPending() }
    }

    // MARK: - Lookups

    public func lookup(_ entry: CacheEntry, _ done: @escaping (CacheLookup) -> Void) {
        pending.append(PendingLookup(entry: entry, key: space + entry.key, done: done))
    }

    /// `MGET gen entry₁ guard₁ entry₂ guard₂ …` for the turn's lookups. An
    /// entry is a hit if its stamp is the current one: the generation, and
    /// for a group's entry also the group's counter (its guard). Lookups of one entry
    /// asked one after another (a stampede on a hot key) share one slot: Redis
    /// reads the entry once, and they all get the same answer, so their misses
    /// share one storage read too.
    private func sendPending() {
        while !pending.isEmpty {  // a reply handled at once (Redis down) may ask again
            let turn = pending
            pending.removeAll(keepingCapacity: true)
            var start = 0
            while start < turn.count {
                var mget: RedisCommand = ["MGET", generationKey]
                var slots = 0, end = start
                while end < turn.count {
                    let l = turn[end]
                    if end == start || turn[end - 1].key != l.key {
                        if slots == Self.lookupsPerCommand { break }
                        slots += 1
                        mget.append(l.key)
                        if let group = l.entry.group { mget.append(space + group) } else { mget.append(l.key, suffix: ":v") }
                    }
                    end += 1
                }
                let batch = turn[start..<end]
                start = end
                redis.send(mget) { [space] reply in Self.answer(batch, slots: slots, from: reply, space: space) }
            }
        }
    }

    private static func answer(_ batch: ArraySlice<PendingLookup>, slots: Int, from reply: RedisReplyView?, space: String) {
        guard let reply, reply.isArray, reply.count == 1 + 2 * slots, let gen = reply[0].bytes else {
            for l in batch { l.done(.unavailable) }
            return
        }
        var slot = -1
        var lookup = CacheLookup.unavailable
        for i in batch.indices {
            let l = batch[i]
            if i == batch.startIndex || batch[i - 1].key != l.key {
                slot += 1
                lookup = answer(l, stored: reply[1 + 2 * slot].bytes, version: reply[2 + 2 * slot].bytes, gen: gen, space: space)
            }
            l.done(lookup)
        }
    }

    private static func answer(_ l: PendingLookup, stored: UnsafeRawBufferPointer?, version: UnsafeRawBufferPointer?,
                               gen: UnsafeRawBufferPointer, space: String) -> CacheLookup {
        let grouped = l.entry.group != nil
        if let stored, let bar = stored.firstIndex(of: UInt8(ascii: "|")),
           isCurrent(stored[..<bar], gen: gen, group: grouped ? version : nil) {
            return .hit(EncodedJSON(bytes: Array(stored[(bar + 1)...])))
        }
        let genText = String(decoding: gen, as: UTF8.self)
        let versionText = version.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let stamp = grouped ? genText + "." + versionText : genText
        return .miss(FillTicket(entry: l.entry, versions: [genText, versionText, l.guardKey(space: space), stamp]))  // built only on a miss
    }

    /// An entry's stamp is `gen`; a group's entry's is `gen.counter`.
    private static func isCurrent(_ stamp: Slice<UnsafeRawBufferPointer>, gen: UnsafeRawBufferPointer,
                                  group: UnsafeRawBufferPointer?) -> Bool {
        guard let group else { return stamp.elementsEqual(gen) }
        guard stamp.count == gen.count + 1 + group.count else { return false }
        let dot = stamp.startIndex + gen.count
        return stamp[..<dot].elementsEqual(gen) && stamp[dot] == UInt8(ascii: ".") && stamp[(dot + 1)...].elementsEqual(group)
    }

    // MARK: - Fills and invalidation

    private static let fillScript = """
        if (redis.call('GET', KEYS[1]) or '') == ARGV[1] and (redis.call('GET', KEYS[2]) or '') == ARGV[2] then
          redis.call('SET', KEYS[3], ARGV[3] .. '|' .. ARGV[4], 'EX', ARGV[5])
          return 1
        end
        return 0
        """

    public func fill(_ ticket: FillTicket, with answer: EncodedJSON, _ done: @escaping () -> Void) {
        let v = ticket.versions
        guard v.count == 4 else { return done() }
        var eval: RedisCommand = ["EVAL", Self.fillScript, "3", generationKey, v[2], space + ticket.entry.key, v[0], v[1], v[3]]
        eval.append(bytes: answer.bytes)
        eval.append(String(ticket.entry.ttl))
        redis.command(eval) { [self] r in
            if case .success(.integer(1)) = r { fills += 1 }
            done()
        }
    }

    /// KEYS: `seq`, the groups' counters (ARGV[1] of them), then each entry and its version key.
    private static let invalidateScript = """
        local c = redis.call('INCR', KEYS[1])
        local first = 2 + tonumber(ARGV[1])
        for i = 2, first - 1 do
          redis.call('INCR', KEYS[i])
        end
        for i = first, #KEYS, 2 do
          redis.call('SET', KEYS[i + 1], c, 'EX', 3600)
          redis.call('DEL', KEYS[i])
        end
        return c
        """

    /// If Redis did not confirm, every connection is dropped: each new one
    /// bumps the generation before it serves, so nothing the missed
    /// invalidation should have removed is served again.
    public func invalidate(_ what: CacheInvalidation, _ done: @escaping () -> Void) {
        var eval: RedisCommand = ["EVAL", Self.invalidateScript, String(1 + what.groups.count + 2 * what.keys.count), sequenceKey]
        for group in what.groups { eval.append(space + group) }
        for key in what.keys {
            let entry = space + key
            eval.append(entry)
            eval.append(entry + ":v")
        }
        eval.append(String(what.groups.count))
        redis.command(eval) { [self] r in
            if case .success(.integer) = r { return done() }
            invalidationsMissed += 1
            redis.resetAll("an invalidation was not confirmed")
            done()
        }
    }

    public func statusReport() -> JSONValue {
        ["type": "redis", "fills": .int(Int64(fills)), "invalidations_missed": .int(Int64(invalidationsMissed))]
    }
}
