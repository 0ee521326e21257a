import StorageCore

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
/// - A lookup reads generation, entry and version in one `MGET`; a miss hands
///   out what it saw, and the fill (a script) writes only if generation and
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

    public init(redis: RedisClient) {
        self.redis = redis
        space = redis.settings.keyPrefix + "rt:"
        generationKey = space + "gen"
        listsKey = space + "lists"
        let generationKey = generationKey
        redis.onEveryConnect { connection, done in
            connection.command([Array("INCR".utf8), Array(generationKey.utf8)]) { r in
                if case .success(.integer) = r { done(true) } else { done(false) }
            }
        }
    }

    // MARK: - Lookups

    public func lookupTask(id: String, _ done: @escaping (CacheLookup) -> Void) {
        let entry = space + CacheKeys.task(id)
        lookup(entry: entry, guardKey: entry + ":v", stamp: { gen, _ in gen }, done)
    }

    public func lookupTaskList(_ query: TaskQuery, _ done: @escaping (CacheLookup) -> Void) {
        lookup(entry: space + CacheKeys.taskList(query), guardKey: listsKey, stamp: { gen, lists in gen + "." + lists }, done)
    }

    /// `MGET gen entry guard`: a hit if the entry's stamp is the current one.
    private func lookup(entry: String, guardKey: String, stamp: @escaping (String, String) -> String,
                        _ done: @escaping (CacheLookup) -> Void) {
        redis.command([Array("MGET".utf8), Array(generationKey.utf8), Array(entry.utf8), Array(guardKey.utf8)]) { result in
            guard case .success(.array(let values)) = result, values.count == 3 else { return done(.unavailable) }
            let gen = values[0].text ?? "", version = values[2].text ?? ""
            let current = stamp(gen, version)
            if case .bulk(let bytes) = values[1], let bar = bytes.firstIndex(of: UInt8(ascii: "|")),
               bytes[..<bar].elementsEqual(current.utf8) {
                return done(.hit(EncodedJSON(bytes: Array(bytes[(bar + 1)...]))))
            }
            done(.miss(FillTicket(entry: entry, versions: [gen, version, guardKey, current])))
        }
    }

    // MARK: - Fills and invalidation

    private static let fillScript = """
        if (redis.call('GET', KEYS[1]) or '') == ARGV[1] and (redis.call('GET', KEYS[2]) or '') == ARGV[2] then
          redis.call('SET', KEYS[3], ARGV[3] .. '|' .. ARGV[4], 'EX', ARGV[5])
          return 1
        end
        return 0
        """

    public func fill(_ ticket: FillTicket, with answer: EncodedJSON) {
        let v = ticket.versions
        guard v.count == 4 else { return }
        let ttl = ticket.entry.hasPrefix(space + "tasks:") ? Self.listTTL : Self.taskTTL
        let args: [[UInt8]] = [Array("EVAL".utf8), Array(Self.fillScript.utf8), Array("3".utf8),
                               Array(generationKey.utf8), Array(v[2].utf8), Array(ticket.entry.utf8),
                               Array(v[0].utf8), Array(v[1].utf8), Array(v[3].utf8), answer.bytes, Array(String(ttl).utf8)]
        redis.command(args) { [self] r in
            if case .success(.integer(1)) = r { fills += 1 }
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
        var args: [[UInt8]] = [Array("EVAL".utf8), Array(Self.invalidateScript.utf8),
                               Array(String(1 + 2 * taskIDs.count).utf8), Array(listsKey.utf8)]
        for id in taskIDs {
            let entry = space + CacheKeys.task(id)
            args.append(Array(entry.utf8))
            args.append(Array((entry + ":v").utf8))
        }
        redis.command(args) { [self] r in
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
