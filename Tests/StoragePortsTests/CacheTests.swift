import ProxyCore
import StoragePorts
import Testing

@Suite("Caches")
struct CacheTests {
    @Test(arguments: [
        ("*", "anything", true), ("task:*", "task:1", true), ("task:*", "tasks:1", false), ("h?llo", "hello", true),
        ("h?llo", "hllo", false), ("h[ae]llo", "hallo", true), ("h[^e]llo", "hello", false), ("h[a-c]llo", "hbllo", true),
        ("a\\*b", "a*b", true), ("a\\*b", "axb", false), ("*:*:end", "x:y:end", true), ("", "", true), ("", "x", false),
    ])
    func globMatchesLikeRedis(pattern: String, key: String, expected: Bool) {
        #expect(GlobPattern(pattern).matches(key) == expected)
    }

    final class FakeClock: @unchecked Sendable {  // test-only, single-threaded
        var now = 1000.0
    }

    @Test func memoryCacheTTLAndSemantics() throws {
        let clock = FakeClock()
        let cache = MemoryCache(clock: { clock.now })
        func value(_ k: String) -> JSONValue? {
            var out: JSONValue?? = nil
            cache.get(k) { out = try? $0.get() }
            return out ?? nil
        }
        cache.set("a", ["x": 1], ttl: 10) { _ in }
        cache.set("b", 2, ttl: nil) { _ in }
        #expect(value("a") == ["x": 1])
        clock.now += 11
        #expect(value("a") == nil)
        cache.set("b", 3, ttl: 5) { _ in }
        cache.set("b", 4, ttl: nil) { _ in }  // a set without ttl clears the earlier one
        clock.now += 100
        #expect(value("b") == 4)
        var removed = -1
        cache.set("app:1", 1, ttl: nil) { _ in }
        cache.set("app:2", 1, ttl: nil) { _ in }
        cache.clearPattern("app:*") { removed = (try? $0.get()) ?? -1 }
        #expect(removed == 2)
        var existed: Bool?
        cache.delete("b") { existed = try? $0.get() }
        #expect(existed == true)
        cache.delete("b") { existed = try? $0.get() }
        #expect(existed == false)
    }

    /// Like Redis with `maxmemory` and `allkeys-lru`: the least recently used
    /// keys go first, reads count as use, and the budget holds.
    @Test func memoryCacheEvictsTheLeastRecentlyUsedPastItsBudget() {
        let cache = MemoryCache(maxBytes: 10 * (MemoryCache.entryOverhead + 1024))
        let value = JSONValue.string(String(repeating: "v", count: 1000))
        for i in 0..<9 { cache.set("k\(i)", value, ttl: Double?.none) { _ in } }
        var seen: JSONValue?? = nil
        cache.get("k0") { seen = try? $0.get() }  // k0 is now the most recent
        #expect(seen == .some(value))
        for i in 9..<14 { cache.set("k\(i)", value, ttl: Double?.none) { _ in } }
        var present: [String] = []
        for i in 0..<14 { cache.exists("k\(i)") { if (try? $0.get()) == true { present.append("k\(i)") } } }
        #expect(present.contains("k0"))
        #expect(!present.contains("k1") && !present.contains("k2"))
        #expect(present.contains("k13"))
        #expect(cache.usedBytes <= 10 * (MemoryCache.entryOverhead + 1024))
        var refused: ProxyError?
        cache.set("huge", JSONValue.string(String(repeating: "x", count: 20_000)), ttl: Double?.none) { if case .failure(let e) = $0 { refused = e } }
        #expect(refused?.code == -32602)
    }

    @Test func readThroughEntriesStayInsideTheirByteBudget() throws {
        let cache = MemoryReadCache(maxBytes: 1 << 20)
        let big = EncodedJSON(bytes: [UInt8](repeating: UInt8(ascii: "1"), count: 100_000))
        for limit in 1...40 {
            var l: CacheLookup?
            cache.lookupTaskList(TaskQuery(limit: limit)) { l = $0 }
            cache.fill(try #require(ticket(l)), with: big) {}
            #expect(cache.usedBytes <= 1 << 20)
        }
        var l: CacheLookup?
        cache.lookupTaskList(TaskQuery(limit: 40)) { l = $0 }
        #expect(hit(l) == big)  // the newest fill is kept
        cache.fill(try #require(ticket(lookup(cache, task: "t"))), with: EncodedJSON(bytes: [UInt8](repeating: 49, count: 200_000))) {}
        #expect(hit(lookup(cache, task: "t")) == nil)  // over an eighth of the budget: not kept
    }

    /// What a lookup answers, with the in-process cache (it answers at once).
    func lookup(_ cache: MemoryReadCache, task id: String) -> CacheLookup? {
        var out: CacheLookup?
        cache.lookupTask(id: id) { out = $0 }
        return out
    }

    func hit(_ l: CacheLookup?) -> EncodedJSON? { if case .hit(let a) = l { return a } else { return nil } }
    func ticket(_ l: CacheLookup?) -> FillTicket? { if case .miss(let t) = l { return t } else { return nil } }

    @Test func taskCacheExpiresAndInvalidates() throws {
        let clock = FakeClock()
        let cache = MemoryReadCache(clock: { clock.now })
        let t = TaskRecord(id: "t1", agentName: "a", taskPrompt: "p", scheduleType: "s", scheduleValue: "v",
                           createdAt: .now(), updatedAt: .now())
        let one = EncodedJSON(encoding: t), list = EncodedJSON(encoding: [t])
        cache.fill(try #require(ticket(lookup(cache, task: "t1"))), with: one) {}
        var listLookup: CacheLookup?
        cache.lookupTaskList(TaskQuery()) { listLookup = $0 }
        cache.fill(try #require(ticket(listLookup)), with: list) {}
        #expect(hit(lookup(cache, task: "t1")) == one)
        cache.lookupTaskList(TaskQuery()) { listLookup = $0 }
        #expect(hit(listLookup) == list)
        cache.lookupTaskList(TaskQuery(limit: 5)) { listLookup = $0 }
        #expect(hit(listLookup) == nil)  // the key includes limit and offset
        clock.now += MemoryReadCache.listTTL + 1
        cache.lookupTaskList(TaskQuery()) { listLookup = $0 }
        #expect(hit(listLookup) == nil)
        #expect(hit(lookup(cache, task: "t1")) == one)
        clock.now += MemoryReadCache.taskTTL
        #expect(hit(lookup(cache, task: "t1")) == nil)
        cache.fill(try #require(ticket(lookup(cache, task: "t1"))), with: one) {}
        cache.invalidate(taskIDs: ["t1"]) {}
        #expect(hit(lookup(cache, task: "t1")) == nil)
        cache.fill(try #require(ticket(lookup(cache, task: "ghost"))), with: EncodedJSON(encoding: JSONValue.null)) {}
        #expect(hit(lookup(cache, task: "ghost"))?.text == "null")  // absent tasks are cached too
    }

    @Test func aFillFromBeforeAnInvalidationDoesNotLand() throws {
        let cache = MemoryReadCache()
        let before = try #require(ticket(lookup(cache, task: "t1")))  // a reader misses…
        cache.invalidate(taskIDs: ["t1"]) {}                           // …a writer commits…
        cache.fill(before, with: EncodedJSON(encoding: JSONValue.string("old"))) {}  // …the reader's old row
        #expect(hit(lookup(cache, task: "t1")) == nil)
    }

    @Test func listKeysEscapeTheirParts() {
        #expect(CacheKeys.taskList(TaskQuery(agentName: "a:b", status: "c")) != CacheKeys.taskList(TaskQuery(agentName: "a", status: "b:c")))
        #expect(CacheKeys.taskList(TaskQuery(agentName: "*")) != CacheKeys.taskList(TaskQuery()))
        #expect(CacheKeys.taskList(TaskQuery(agentName: "news", status: "pending", limit: 10)) == "tasks:news:pending:10:0")
    }
}

/// The task entries by their names: the tests read better with them.
extension ReadCache {
    func lookupTask(id: String, _ done: @escaping (CacheLookup) -> Void) { lookup(.task(id), done) }
    func lookupTaskList(_ query: TaskQuery, _ done: @escaping (CacheLookup) -> Void) { lookup(.taskList(query), done) }
    func invalidate(taskIDs: [String], _ done: @escaping () -> Void) { invalidate(.tasks(taskIDs), done) }
}
