import StorageCore
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

    @Test func taskCacheExpiresAndInvalidates() {
        let clock = FakeClock()
        let cache = MemoryTaskCache(clock: { clock.now })
        let t = TaskRecord(id: "t1", agentName: "a", taskPrompt: "p", scheduleType: "s", scheduleValue: "v",
                           createdAt: .now(), updatedAt: .now())
        let one = EncodedJSON(encoding: t), list = EncodedJSON(encoding: [t])
        cache.storeTask(one, id: "t1")
        cache.storeTaskList(list, for: TaskQuery())
        #expect(cache.task(id: "t1") == one)
        #expect(cache.taskList(TaskQuery()) == list)
        #expect(cache.taskList(TaskQuery(limit: 5)) == nil)  // the key includes limit and offset
        clock.now += MemoryTaskCache.listTTL + 1
        #expect(cache.taskList(TaskQuery()) == nil)
        #expect(cache.task(id: "t1") == one)
        clock.now += MemoryTaskCache.taskTTL
        #expect(cache.task(id: "t1") == nil)
        cache.storeTask(one, id: "t1")
        cache.invalidate(taskIDs: ["t1"])
        #expect(cache.task(id: "t1") == nil)
        cache.storeTask(EncodedJSON(encoding: JSONValue.null), id: "ghost")  // absent tasks are cached too
        #expect(cache.task(id: "ghost")?.text == "null")
    }
}
