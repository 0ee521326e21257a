import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// LangGraph's checkpointer (`checkpoint.*`) over real proxies, on every
/// backend alike: what is stored once, what a read returns, the pending
/// writes' rules, pages, the read-through cache, live events, limits.
/// (LangGraph's own conformance suite runs in the Python client's tests.)
@Suite("Checkpoints (every backend)")
struct CheckpointTests {
    /// A value of "" is sent as LangGraph sends a channel with none: type "empty".
    static func put(_ c: LineClient, thread: String, id: String, parent: String? = nil, ns: String = "", versions: JSONObject,
                    values: [(String, JSONValue, String)], metadata: JSONObject = ["source": "loop"]) throws -> JSONValue {
        var params: JSONObject = [
            "thread_id": .string(thread), "checkpoint_ns": .string(ns),
            "checkpoint": ["v": 4, "id": .string(id), "ts": "2026-12-07T00:00:00Z", "channel_versions": .object(versions), "versions_seen": [:]],
            "metadata": .object(metadata),
            "values": .array(values.map { ["channel": .string($0.0), "version": $0.1, "type": $0.2.isEmpty ? "empty" : "msgpack", "data": .string($0.2)] }),
        ]
        if let parent { params["parent_checkpoint_id"] = .string(parent) }
        return try c.result("checkpoint.put", .object(params))
    }

    static func values(_ tuple: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        for (channel, v) in tuple["channel_values"]?.objectValue?.members ?? [] { out[channel] = v["data"]?.stringValue }
        return out
    }

    @Test("a channel's value is stored once per version: a later checkpoint names it and reads it back; newest first, by id",
          arguments: TestBackend.allCases)
    func valuesOncePerVersion(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        #expect(try Self.put(c, thread: "t", id: "c1", versions: ["messages": 1, "step": "v.1"],
                             values: [("messages", 1, "TUVTU0FHRVM="), ("step", "v.1", "MQ==")])
                == ["thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "c1"])
        // The second checkpoint changes `step` only: it sends that value, and names messages' old version.
        _ = try Self.put(c, thread: "t", id: "c2", parent: "c1", versions: ["messages": 1, "step": "v.2"], values: [("step", "v.2", "Mg==")])
        let latest = try c.result("checkpoint.get", ["thread_id": "t"])
        #expect(latest["checkpoint_id"] == "c2" && latest["parent_checkpoint_id"] == "c1")
        #expect(Self.values(latest) == ["messages": "TUVTU0FHRVM=", "step": "Mg=="])
        #expect(latest["checkpoint"]?["channel_values"] == nil && latest["checkpoint"]?["ts"] == "2026-12-07T00:00:00Z")
        #expect(Self.values(try c.result("checkpoint.get", ["thread_id": "t", "checkpoint_id": "c1"])) == ["messages": "TUVTU0FHRVM=", "step": "MQ=="])
        #expect(try c.result("checkpoint.get", ["thread_id": "t", "checkpoint_id": "nope"]) == .null)
        #expect(try c.result("checkpoint.get", ["thread_id": "t", "checkpoint_ns": "child"]) == .null)
        // A value already stored for that version is kept (a retried put cannot change history).
        _ = try Self.put(c, thread: "t", id: "c2", parent: "c1", versions: ["messages": 1, "step": "v.2"], values: [("step", "v.2", "WA==")],
                         metadata: ["source": "update"])
        let again = try c.result("checkpoint.get", ["thread_id": "t"])
        #expect(Self.values(again)["step"] == "Mg==" && again["metadata"]?["source"] == "update")
        // An "empty" value: the channel has none at that version.
        _ = try Self.put(c, thread: "t", id: "c3", parent: "c2", versions: ["messages": 1, "step": "v.3"], values: [("step", "v.3", "")])
        #expect(Self.values(try c.result("checkpoint.get", ["thread_id": "t"])).keys.sorted() == ["messages"])
    }

    @Test("pending writes: a special channel (negative idx) overwrites, any other keeps the first; ordered by path, task, idx",
          arguments: TestBackend.allCases)
    func pendingWrites(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try Self.put(c, thread: "w", id: "c1", versions: [:], values: [])
        func write(_ task: String, path: String, _ rows: [(Int64, String, String)]) throws {
            _ = try c.result("checkpoint.put_writes", ["thread_id": "w", "checkpoint_id": "c1", "task_id": .string(task), "task_path": .string(path),
                                                       "writes": .array(rows.map { ["idx": .int($0.0), "channel": .string($0.1), "type": "json", "data": .string($0.2)] })])
        }
        try write("b", path: "~2", [(0, "out", "Zmlyc3Q="), (-1, "__error__", "b2xk")])
        try write("b", path: "~2", [(0, "out", "c2Vjb25k"), (-1, "__error__", "bmV3")])
        try write("a", path: "~1", [(1, "x", "eA=="), (0, "y", "eQ==")])
        let writes = try #require(try c.result("checkpoint.get", ["thread_id": "w"])["pending_writes"]?.arrayValue)
        let seen = writes.map { w in "\(w["task_id"]?.stringValue ?? "")/\(w["idx"]?.intValue ?? 99)/\(w["channel"]?.stringValue ?? "")=\(w["data"]?.stringValue ?? "")" }
        #expect(seen == ["a/0/y=eQ==", "a/1/x=eA==", "b/-1/__error__=bmV3", "b/0/out=Zmlyc3Q="])
        #expect(writes.first?["task_path"] == "~1")
        // A new checkpoint starts with none.
        _ = try Self.put(c, thread: "w", id: "c2", parent: "c1", versions: [:], values: [])
        #expect(try c.result("checkpoint.get", ["thread_id": "w"])["pending_writes"] == [])
    }

    @Test("list: newest first across threads, filters on metadata, before, and pages that together are the whole list",
          arguments: TestBackend.allCases)
    func listing(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        var parent: String?
        for i in 0..<7 {
            let id = String(format: "c%02d", i)
            _ = try Self.put(c, thread: i % 2 == 0 ? "even" : "odd", id: id, parent: parent, versions: [:], values: [],
                             metadata: ["source": .string(i % 3 == 0 ? "input" : "loop"), "step": .int(Int64(i)), "run_id": .string("r\(i % 2)")])
            parent = id
        }
        _ = try Self.put(c, thread: "even", id: "c00", ns: "sub:1", versions: [:], values: [])
        func ids(_ params: JSONObject) throws -> [String] {
            try #require(try c.result("checkpoint.list", .object(params))["checkpoints"]?.arrayValue).map { $0["checkpoint_id"]?.stringValue ?? "" }
        }
        #expect(try ids(["thread_id": "even", "checkpoint_ns": ""]) == ["c06", "c04", "c02", "c00"])
        #expect(try ids(["thread_id": "even"]) == ["c06", "c04", "c02", "c00", "c00"])
        #expect(try ids([:]) == ["c06", "c05", "c04", "c03", "c02", "c01", "c00", "c00"])
        #expect(try ids(["filter": ["source": "input"]]) == ["c06", "c03", "c00"])
        #expect(try ids(["filter": ["source": "input", "step": 3]]) == ["c03"])
        #expect(try ids(["filter": ["source": "nothing"]]) == [])
        #expect(try ids(["thread_id": "odd", "before": "c05"]) == ["c03", "c01"])
        #expect(try ids(["thread_id": "odd", "checkpoint_id": "c03"]) == ["c03"])
        // Pages of 3 continue where the last ended, even between two checkpoints with one id (c00 in two namespaces).
        var paged: [String] = [], params: JSONObject = ["limit": 3], pages = 0
        while true {
            let page = try c.result("checkpoint.list", .object(params))
            paged += try #require(page["checkpoints"]?.arrayValue).map { $0["checkpoint_id"]?.stringValue ?? "" }
            pages += 1
            guard let next = page["next"], next != .null else { break }
            params["after"] = next
        }
        #expect(paged == ["c06", "c05", "c04", "c03", "c02", "c01", "c00", "c00"] && pages == 3)
        #expect(try c.errorCode("checkpoint.list", ["limit": 0]) == -32602)
        #expect(try c.call("checkpoint.list", ["after": ["checkpoint_id": "x"]])["error"]?["data"]?["field"] == "after")
    }

    @Test("delete_thread, delete_for_runs, copy_thread and prune answer how many checkpoints; prune keeps each namespace's newest",
          arguments: TestBackend.allCases)
    func bulk(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        for (i, id) in ["c1", "c2", "c3"].enumerated() {
            _ = try Self.put(c, thread: "src", id: id, parent: i == 0 ? nil : "c\(i)", versions: ["n": .int(Int64(i))],
                             values: [("n", .int(Int64(i)), "AA==")], metadata: ["run_id": .string(i == 2 ? "last" : "early")])
        }
        _ = try c.result("checkpoint.put_writes", ["thread_id": "src", "checkpoint_id": "c3", "task_id": "t", "writes": [["idx": 0, "channel": "c", "type": "j", "data": "AA=="]]])
        _ = try Self.put(c, thread: "src", id: "s1", ns: "child:1", versions: [:], values: [])
        #expect(try c.result("checkpoint.copy_thread", ["source_thread_id": "src", "target_thread_id": "dst"]) == 4)
        #expect(try c.result("checkpoint.copy_thread", ["source_thread_id": "src", "target_thread_id": "dst"]) == 0)  // already there
        #expect(try c.result("checkpoint.get", ["thread_id": "dst"])["pending_writes"]?.arrayValue?.count == 1)
        #expect(try c.result("checkpoint.prune", ["thread_ids": ["dst"]]) == 2)
        let kept = try #require(try c.result("checkpoint.list", ["thread_id": "dst"])["checkpoints"]?.arrayValue)
        #expect(kept.map { "\($0["checkpoint_ns"]?.stringValue ?? "")/\($0["checkpoint_id"]?.stringValue ?? "")" } == ["child:1/s1", "/c3"])
        #expect(kept.last?["parent_checkpoint_id"] == .null && kept.last?["pending_writes"]?.arrayValue?.count == 1)
        #expect(Self.values(kept.last ?? .null) == ["n": "AA=="])
        // The values only pruned checkpoints named are gone (dst keeps n at version 2), src's all stay.
        let location = backend == .sqlite ? "\(proxy.dir)/data.db" : try TestPostgres.database(named: proxy.dir)
        let sums = try runCLI(["checksum", location]).out
        let blobs = sums.split(separator: "\n").first { $0.hasPrefix("checkpoint_blobs ") }?.split(separator: " ").dropFirst().first
        #expect(blobs == "4", "\(sums)")
        #expect(try c.result("checkpoint.delete_for_runs", ["run_ids": ["early", "nobody"]]) == 2)  // src's c1 and c2
        #expect(try c.result("checkpoint.list", ["thread_id": "src", "checkpoint_ns": ""])["checkpoints"]?.arrayValue?.count == 1)
        #expect(try c.result("checkpoint.prune", ["thread_ids": ["dst"], "strategy": "delete"]) == 2)
        #expect(try c.result("checkpoint.delete_thread", ["thread_id": "src"]) == 2)
        #expect(try c.result("checkpoint.list", [:])["checkpoints"] == [])
        #expect(try c.call("checkpoint.prune", ["thread_ids": ["x"], "strategy": "all"])["error"]?["data"]?["field"] == "strategy")
        // A thread whose graph uses a DeltaChannel is not pruned to its newest (its values are rebuilt from older writes).
        _ = try Self.put(c, thread: "delta", id: "d1", versions: [:], values: [], metadata: ["counters_since_delta_snapshot": ["m": [1, 1]]])
        _ = try Self.put(c, thread: "delta", id: "d2", parent: "d1", versions: [:], values: [])
        let refused = try c.call("checkpoint.prune", ["thread_ids": ["delta"]])
        #expect(refused["error"]?["code"] == -32602 && refused["error"]?["message"]?.stringValue?.contains("DeltaChannel: delta") == true)
        #expect(try c.result("checkpoint.list", ["thread_id": "delta"])["checkpoints"]?.arrayValue?.count == 2)
    }

    @Test("bad input is a -32602 naming the field, and nothing is stored", arguments: TestBackend.allCases)
    func badInput(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        func field(_ method: String, _ params: JSONValue) throws -> String? {
            try c.call(method, params)["error"]?["data"]?["field"]?.stringValue
        }
        #expect(try field("checkpoint.put", ["thread_id": "t", "checkpoint": ["v": 1]]) == "checkpoint.id")
        #expect(try field("checkpoint.put", ["thread_id": "t", "checkpoint": ["id": "c", "channel_versions": [1]]]) == "checkpoint.channel_versions")
        #expect(try field("checkpoint.put", ["thread_id": "t", "checkpoint": ["id": "c"], "values": [["channel": "a", "version": [], "type": "t", "data": ""]]])
                == "values[0].version")
        #expect(try field("checkpoint.put", ["thread_id": "t", "checkpoint": ["id": "c"], "values": [["channel": "a", "version": 1, "type": "t"]]])
                == "values[0].data")
        // A version both databases would not print alike is refused at the door (its value would never be found).
        #expect(try field("checkpoint.put", ["thread_id": "t", "checkpoint": ["id": "c"], "values": [["channel": "a", "version": 1e20, "type": "t", "data": ""]]])
                == "values[0].version")
        #expect(try field("checkpoint.put", ["thread_id": "t", "checkpoint": ["id": "c"],
                                             "values": [["channel": "a", "version": 0.30000000000000004, "type": "t", "data": ""]]]) == "values[0].version")
        #expect(try field("checkpoint.put_writes", ["thread_id": "t", "checkpoint_id": "c", "task_id": "k", "writes": [["idx": "0", "channel": "a", "type": "t", "data": ""]]])
                == "writes[0].idx")
        #expect(try field("checkpoint.put", ["thread_id": "t\u{0}", "checkpoint": ["id": "c"]]) == "thread_id")
        #expect(try field("checkpoint.delete_for_runs", ["run_ids": [1]]) == "run_ids")
        #expect(try c.result("checkpoint.list", [:])["checkpoints"] == [])
    }

    @Test("in a transaction: its own puts are read inside it; a rollback leaves nothing, a commit shows all", arguments: TestBackend.allCases)
    func transactions(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client(), other = try proxy.client()
        #expect(try other.result("checkpoint.get", ["thread_id": "tx"]) == .null)  // a cached miss, retired by the commit below
        for commit in [false, true] {
            let tx = try #require(try c.result("begin_transaction").stringValue)
            _ = try c.result("checkpoint.put", ["thread_id": "tx", "checkpoint": ["id": "c1"], "transaction": .string(tx)])
            _ = try c.result("checkpoint.put_writes", ["thread_id": "tx", "checkpoint_id": "c1", "task_id": "k", "transaction": .string(tx),
                                                       "writes": [["idx": 0, "channel": "a", "type": "t", "data": ""]]])
            #expect(try c.result("checkpoint.get", ["thread_id": "tx", "transaction": .string(tx)])["pending_writes"]?.arrayValue?.count == 1)
            _ = try c.result(commit ? "commit_transaction" : "rollback_transaction", ["transaction": .string(tx)])
            #expect(try other.result("checkpoint.get", ["thread_id": "tx"])["checkpoint_id"] == (commit ? "c1" : nil))
        }
    }

    @Test("a read-through hit is retired by every write to its thread, on any proxy of the database", arguments: TestBackend.allCases)
    func cacheFollowsWrites(backend: TestBackend) throws {
        let a = try ProxyProcess(backend: backend)
        let b = backend == .postgresql ? try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: a.dir)]) : a
        let writer = try a.client(), reader = try b.client()
        for step in 1...3 {
            _ = try Self.put(writer, thread: "r", id: "c\(step)", parent: step == 1 ? nil : "c\(step - 1)", versions: [:], values: [])
            for _ in 0..<2 { #expect(try reader.result("checkpoint.get", ["thread_id": "r"])["checkpoint_id"] == .string("c\(step)")) }
            #expect(try reader.result("checkpoint.list", ["thread_id": "r"])["checkpoints"]?.arrayValue?.count == step)
            _ = try writer.result("checkpoint.put_writes", ["thread_id": "r", "checkpoint_id": .string("c\(step)"), "task_id": "k",
                                                            "writes": [["idx": 0, "channel": "a", "type": "t", "data": ""]]])
            #expect(try reader.result("checkpoint.get", ["thread_id": "r"])["pending_writes"]?.arrayValue?.count == 1)
        }
        _ = try writer.result("checkpoint.delete_for_runs", ["run_ids": ["none"]])
        _ = try writer.result("checkpoint.prune", ["thread_ids": ["r"]])
        #expect(try reader.result("checkpoint.list", ["thread_id": "r"])["checkpoints"]?.arrayValue?.count == 1)
        _ = try writer.result("checkpoint.delete_thread", ["thread_id": "r"])
        #expect(try reader.result("checkpoint.get", ["thread_id": "r"]) == .null)
    }

    @Test("subscribe with thread_id: that thread's checkpoints as they are saved, written and deleted; nothing else", arguments: TestBackend.allCases)
    func events(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let watcher = try EventTests.Subscriber(proxy.address, ["thread_id": "followed"])
        let everything = try EventTests.Subscriber(proxy.address)  // tasks and logs only, as before checkpoints existed
        let c = try proxy.client()
        _ = try Self.put(c, thread: "other", id: "x", versions: [:], values: [])
        _ = try Self.put(c, thread: "followed", id: "c1", versions: [:], values: [], metadata: ["step": 1])
        _ = try c.result("checkpoint.put_writes", ["thread_id": "followed", "checkpoint_id": "c1", "task_id": "k",
                                                   "writes": [["idx": 0, "channel": "a", "type": "t", "data": ""]]])
        _ = try Self.put(c, thread: "followed", id: "c2", parent: "c1", versions: [:], values: [])
        _ = try Self.put(c, thread: "followed", id: "c2", parent: "c1", versions: [:], values: [], metadata: ["source": "update"])  // again
        _ = try c.result("checkpoint.prune", ["thread_ids": ["followed"]])  // c1 goes; c2, kept, is no new checkpoint
        _ = try c.result("checkpoint.delete_thread", ["thread_id": "followed"])
        _ = try c.result("save_task", ["task": sampleTask(id: "marker")])
        var seen: [String] = []
        for _ in 0..<6 {
            let e = try watcher.next()
            let cp = e["checkpoint"]?.objectValue ?? [:]
            #expect(e["topic"] == "checkpoints" && cp["thread_id"] == "followed")
            seen.append("\(e["op"]?.stringValue ?? "")/\(cp["checkpoint_id"]?.stringValue ?? "-")/\(cp["task_id"]?.stringValue ?? "-")")
            if e["op"] == "created" && cp["checkpoint_id"] == "c1" { #expect(cp["metadata"]?["step"] == 1 && cp["parent_checkpoint_id"] == .null) }
        }
        #expect(seen == ["created/c1/-", "updated/c1/k", "created/c2/-", "created/c2/-", "deleted/-/-", "deleted/-/-"])
        #expect(try everything.next()["task"]?["id"] == "marker")
    }

    @Test("a checkpoint with a 6 MiB channel is stored and read back whole; a line past server.max_line_bytes is -32005 and stores nothing",
          arguments: TestBackend.allCases)
    func bigValues(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try LineClient(proxy.address, timeoutSeconds: 60)
        let big = String(repeating: "QUJD", count: 6 << 18)  // 6 MiB of base64
        _ = try Self.put(c, thread: "big", id: "c1", versions: ["messages": 1], values: [("messages", 1, big)])
        let back = try c.result("checkpoint.get", ["thread_id": "big"])
        #expect(Self.values(back)["messages"] == big)
        let tooBig = String(repeating: "QUJD", count: 17 << 18)  // 17 MiB: past the 16 MiB default
        let answer = try c.call("checkpoint.put", ["thread_id": "big", "checkpoint": ["id": "c2", "channel_versions": ["messages": 2]],
                                                   "values": [["channel": "messages", "version": 2, "type": "t", "data": .string(tooBig)]]])
        #expect(answer["error"]?["code"] == -32005 && answer["error"]?["data"]?["limit_bytes"] == .int(16 << 20))
        #expect(try proxy.client().result("checkpoint.get", ["thread_id": "big"])["checkpoint_id"] == "c1")
    }
}
