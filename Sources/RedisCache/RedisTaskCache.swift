import ProxyCore
import StoragePorts

/// The proxy's read-through entries in Redis, shared by every proxy on the
/// same Redis and database, correct under concurrency and outages:
///
/// - Entries live under `{prefix}rt:`, apart from `cache.*` (`{prefix}app:`).
///   `task:{id}` (TTL 300 s) and `tasks:{agent}:{status}:{limit}:{offset}`
///   (TTL 60 s) hold `stamp|answer`.
/// - `rt:gen` is a generation every new connection increments before it is
///   used. An entry counts only if its stamp names the current generation, so
///   an invalidation missed while Redis was out of reach (or while a proxy
///   was down) cannot leave an old entry to be served: whoever reconnects
///   first retires every entry written before.
/// - A task write increments `rt:lists` (a list entry's stamp is
///   `gen.lists`: any write retires every list) and sets the task's version
///   key `task:{id}:v` to that new value, then deletes the entry. This runs
///   after the storage commit and before the write is acknowledged.
/// - A lookup reads generation, entry and version with one `MGET` (the
///   lookups of one loop turn share it); a miss hands out what it saw, and the fill (a script) writes only if generation and
///   version are unchanged: a reader that read a row before a concurrent
///   writer committed can never store it after the writer's invalidation.
///
/// Loop thread only.
public final class RedisTaskCache: TaskCache {
    public static let taskTTL = 300
    public static let listTTL = 60

    private let redis: RedisClient
    private let space: String
    private let generationKey: String
    private let listsKey: String
    public private(set) var fills = 0
    public private(set) var invalidationsMissed = 0

    /// Lookups asked for during this loop turn, sent together before the loop waits.
    private var pending: [PendingLookup] = []
    /// Lookups per `MGET`: enough to cut per-command costs, few enough to
    /// spread a deep pipeline over several connections.
    static let lookupsPerCommand = 32

    private struct PendingLookup {
        let entry: String
        let isList: Bool  // guarded by the lists counter; a task by its `entry:v` version key
        let done: (CacheLookup) -> Void
    }

    public init(redis: RedisClient) {
        self.redis = redis
        space = redis.settings.keyPrefix + "rt:"
        generationKey = space + "gen"
        listsKey = space + "lists"
        let generationKey = generationKey
        redis.onEveryConnect { connection, done in
            connection.command(["INCR", generationKey]) { r in
                if case .success(.integer) = r { done(true) } else { done(false) }
            }
        }
        redis.beforeWaiting { [unowned self] in sendPending() }
    }

    // MARK: - Lookups

    public func lookupTask(id: String, _ done: @escaping (CacheLookup) -> Void) {
        let entry = space + CacheKeys.task(id)
        pending.append(PendingLookup(entry: entry, isList: false, done: done))
    }

    public func lookupTaskList(_ query: TaskQuery, _ done: @escaping (CacheLookup) -> Void) {
        pending.append(PendingLookup(entry: space + CacheKeys.taskList(query), isList: true, done: done))
    }

    /// `MGET gen entry₁ guard₁ entry₂ guard₂ …` for the turn's lookups. An
    /// entry is a hit if its stamp is the current one: the generation, and
    /// for a list also the lists counter (its guard). Lookups of one entry
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
                    if end == start || turn[end - 1].entry != l.entry {
                        if slots == Self.lookupsPerCommand { break }
                        slots += 1
                        mget.append(l.entry)
                        if l.isList { mget.append(listsKey) } else { mget.append(l.entry, suffix: ":v") }
                    }
                    end += 1
                }
                let batch = turn[start..<end]
                start = end
                redis.send(mget) { [listsKey] reply in Self.answer(batch, slots: slots, from: reply, listsKey: listsKey) }
            }
        }
    }

    private static func answer(_ batch: ArraySlice<PendingLookup>, slots: Int, from reply: RedisReplyView?, listsKey: String) {
        guard let reply, reply.isArray, reply.count == 1 + 2 * slots, let gen = reply[0].bytes else {
            for l in batch { l.done(.unavailable) }
            return
        }
        var slot = -1
        var lookup = CacheLookup.unavailable
        for i in batch.indices {
            let l = batch[i]
            if i == batch.startIndex || batch[i - 1].entry != l.entry {
                slot += 1
                lookup = answer(l, stored: reply[1 + 2 * slot].bytes, version: reply[2 + 2 * slot].bytes, gen: gen, listsKey: listsKey)
            }
            l.done(lookup)
        }
    }

    private static func answer(_ l: PendingLookup, stored: UnsafeRawBufferPointer?, version: UnsafeRawBufferPointer?,
                               gen: UnsafeRawBufferPointer, listsKey: String) -> CacheLookup {
        if let stored, let bar = stored.firstIndex(of: UInt8(ascii: "|")),
           isCurrent(stored[..<bar], gen: gen, lists: l.isList ? version : nil) {
            return .hit(EncodedJSON(bytes: Array(stored[(bar + 1)...])))
        }
        let genText = String(decoding: gen, as: UTF8.self)
        let versionText = version.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let stamp = l.isList ? genText + "." + versionText : genText
        let guardKey = l.isList ? listsKey : l.entry + ":v"  // built only on a miss
        return .miss(FillTicket(entry: l.entry, versions: [genText, versionText, guardKey, stamp]))
    }

    /// A task's stamp is `gen`; a list's is `gen.lists`.
    private static func isCurrent(_ stamp: Slice<UnsafeRawBufferPointer>, gen: UnsafeRawBufferPointer,
                                  lists: UnsafeRawBufferPointer?) -> Bool {
        guard let lists else { return stamp.elementsEqual(gen) }
        guard stamp.count == gen.count + 1 + lists.count else { return false }
        let dot = stamp.startIndex + gen.count
        return stamp[..<dot].elementsEqual(gen) && stamp[dot] == UInt8(ascii: ".") && stamp[(dot + 1)...].elementsEqual(lists)
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
        let ttl = ticket.entry.hasPrefix(space + "tasks:") ? Self.listTTL : Self.taskTTL
        var eval: RedisCommand = ["EVAL", Self.fillScript, "3", generationKey, v[2], ticket.entry, v[0], v[1], v[3]]
        eval.append(bytes: answer.bytes)
        eval.append(String(ttl))
        redis.command(eval) { [self] r in
            if case .success(.integer(1)) = r { fills += 1 }
            done()
        }
    }

    private static let invalidateScript = """
        local c = redis.call('INCR', KEYS[1])
        for i = 2, #KEYS, 2 do
          redis.call('SET', KEYS[i + 1], c, 'EX', 3600)
          redis.call('DEL', KEYS[i])
        end
        return c
        """

    /// If Redis did not confirm, every connection is dropped: each new one
    /// bumps the generation before it serves, so nothing the missed
    /// invalidation should have removed is served again.
    public func invalidate(taskIDs: [String], _ done: @escaping () -> Void) {
        var eval: RedisCommand = ["EVAL", Self.invalidateScript, String(1 + 2 * taskIDs.count), listsKey]
        for id in taskIDs {
            let entry = space + CacheKeys.task(id)
            eval.append(entry)
            eval.append(entry + ":v")
        }
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
