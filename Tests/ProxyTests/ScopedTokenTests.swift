import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `server.tokens` and `server.unix_peers`: every method under a limited
/// read-write scope, a limited read-only one and an admin read-only one over
/// every agent, against a real proxy on each backend. The table below must
/// name every method the proxy has (checked against rpc.discover).
@Suite("Scoped tokens")
struct ScopedTokenTests {
    static let config = """
        server:
          listen: "0"
          auth_token: full-token
          tokens:
            - {name: news, token: news-rw, agents: [news], access: read-write}
            - {name: reader, token: reader-ro, agents: [news, mail], access: read-only}
            - {name: ops, token: ops-admin, agents: "*", access: read-only, admin: true}
        """

    enum Outcome: Equatable, CustomStringConvertible {
        case ok, refused, code(Int64), value(JSONValue)
        var description: String {
            switch self {
            case .ok: return "ok"
            case .refused: return "-32007"
            case .code(let c): return "\(c)"
            case .value(let v): return v.jsonText
            }
        }
    }

    struct Case {
        let method: String
        let params: JSONValue
        let news: Outcome, reader: Outcome, ops: Outcome
        init(_ method: String, _ params: JSONValue = [:], news: Outcome, reader: Outcome, ops: Outcome) {
            self.method = method; self.params = params; self.news = news; self.reader = reader; self.ops = ops
        }
    }

    static func task(_ id: String, _ agent: String) -> JSONValue {
        ["id": .string(id), "agent_name": .string(agent), "task_prompt": "p", "schedule_type": "cron", "schedule_value": "0 9 * * *"]
    }

    static let cases: [Case] = [
        Case("health_check", news: .value(true), reader: .value(true), ops: .value(true)),
        Case("rpc.discover", news: .ok, reader: .ok, ops: .ok),
        Case("schedule.next_runs", ["schedule_type": "interval", "schedule_value": "PT1H"], news: .ok, reader: .ok, ops: .ok),
        Case("unsubscribe", ["subscription": "none"], news: .value(false), reader: .value(false), ops: .value(false)),
        Case("server.status", news: .refused, reader: .refused, ops: .ok),
        Case("server.reload_preview", news: .refused, reader: .refused, ops: .ok),
        Case("delete_old_logs", ["before": "2000-01-01T00:00:00Z"], news: .refused, reader: .refused, ops: .refused),
        Case("get_task", ["task_id": "t-news"], news: .ok, reader: .ok, ops: .ok),
        Case("get_task", ["task_id": "t-mail"], news: .value(.null), reader: .ok, ops: .ok),
        Case("list_tasks", ["agent_name": "news"], news: .ok, reader: .ok, ops: .ok),
        Case("list_tasks", ["agent_name": "mail"], news: .refused, reader: .ok, ops: .ok),
        Case("list_tasks", news: .refused, reader: .refused, ops: .ok),
        Case("count_tasks", ["agent_name": "news"], news: .value(1), reader: .value(1), ops: .value(1)),
        Case("count_tasks", ["agent_name": "mail"], news: .refused, reader: .value(1), ops: .value(1)),
        Case("count_tasks", news: .refused, reader: .refused, ops: .value(2)),
        Case("query_logs", ["task_id": "t-news"], news: .ok, reader: .ok, ops: .ok),
        Case("query_logs", ["task_id": "t-mail"], news: .refused, reader: .ok, ops: .ok),
        Case("query_logs", news: .refused, reader: .refused, ops: .ok),
        Case("subscribe", ["agent_name": "news"], news: .ok, reader: .ok, ops: .ok),
        Case("subscribe", ["task_id": "t-mail"], news: .refused, reader: .ok, ops: .ok),
        Case("subscribe", news: .refused, reader: .refused, ops: .ok),
        Case("subscribe", ["agent_prefix": "ne"], news: .refused, reader: .refused, ops: .ok),
        Case("save_task", ["task": task("t-news-2", "news")], news: .value("t-news-2"), reader: .refused, ops: .refused),
        Case("save_task", ["task": task("t-mail", "news")], news: .refused, reader: .refused, ops: .refused),  // taking another agent's task
        Case("save_task", ["task": ["id": "t-mail", "task_prompt": "changed"]], news: .refused, reader: .refused, ops: .refused),
        Case("update_task_status", ["task_id": "t-news", "status": "pending"], news: .value(true), reader: .refused, ops: .refused),
        Case("update_task_status", ["task_id": "t-mail", "status": "pending"], news: .refused, reader: .refused, ops: .refused),
        Case("save_log", ["task_id": "t-news", "level": "INFO", "message": "m"], news: .ok, reader: .refused, ops: .refused),
        Case("save_log", ["task_id": "t-mail", "level": "INFO", "message": "m"], news: .refused, reader: .refused, ops: .refused),
        Case("claim_due_tasks", ["worker": "w", "agent_name": "news"], news: .ok, reader: .refused, ops: .refused),
        Case("claim_due_tasks", ["worker": "w"], news: .refused, reader: .refused, ops: .refused),
        Case("claim_due_tasks", ["worker": "w", "agent_prefix": "ne"], news: .refused, reader: .refused, ops: .refused),
        Case("renew_lease", ["task_id": "t-news", "worker": "w"], news: .code(-32002), reader: .refused, ops: .refused),
        Case("renew_lease", ["task_id": "t-mail", "worker": "w"], news: .refused, reader: .refused, ops: .refused),
        Case("complete_task", ["task_id": "t-news", "worker": "w", "status": "completed"], news: .code(-32002), reader: .refused, ops: .refused),
        Case("complete_task", ["task_id": "t-mail", "worker": "w", "status": "completed"], news: .refused, reader: .refused, ops: .refused),
        Case("delete_task", ["task_id": "t-mail"], news: .refused, reader: .refused, ops: .refused),
        Case("delete_task", ["task_id": "t-news-2"], news: .value(true), reader: .refused, ops: .refused),
        // cache.* and metadata: a limited scope has a namespace of its own; "k" holds "global" outside them.
        Case("cache.get", ["key": "k"], news: .value(.null), reader: .value(.null), ops: .value("global")),
        Case("cache.exists", ["key": "k"], news: .value(false), reader: .value(false), ops: .value(true)),
        Case("cache.set", ["key": "k", "value": "mine"], news: .ok, reader: .refused, ops: .refused),
        Case("cache.get", ["key": "k"], news: .value("mine"), reader: .value(.null), ops: .value("global")),
        Case("cache.delete", ["key": "k"], news: .value(true), reader: .refused, ops: .refused),
        Case("cache.clear_pattern", ["pattern": "*"], news: .value(0), reader: .refused, ops: .refused),
        Case("get_metadata", ["key": "m"], news: .value(.null), reader: .value(.null), ops: .value("global")),
        Case("save_metadata", ["key": "m", "value": "mine"], news: .ok, reader: .refused, ops: .refused),
        Case("get_metadata", ["key": "m"], news: .value("mine"), reader: .value(.null), ops: .value("global")),
        Case("list_metadata", ["prefix": ""], news: .value(["m"]), reader: .value([]), ops: .value(["m", "~news/m"])),
        Case("list_metadata", ["prefix": "", "after": "m"], news: .value([]), reader: .value([]), ops: .value(["~news/m"])),
        Case("delete_metadata", ["key": "m"], news: .value(true), reader: .refused, ops: .refused),
        Case("get_metadata", ["key": "m"], news: .value(.null), reader: .value(.null), ops: .value("global")),
        // The vector store is shared: read by every scope, written by read-write ones, dropped by admins that may write.
        Case("vector.list_collections", news: .ok, reader: .ok, ops: .ok),
        Case("vector.create_collection", ["name": "kb", "dimension": 2], news: .ok, reader: .refused, ops: .refused),
        Case("vector.add_documents", ["collection": "kb", "documents": ["a"], "embeddings": [[1, 0]], "ids": ["d1"]],
             news: .ok, reader: .refused, ops: .refused),
        Case("vector.search", ["collection": "kb", "embedding": [1, 0]], news: .ok, reader: .ok, ops: .ok),
        Case("vector.get_documents", ["collection": "kb", "ids": ["d1"]], news: .ok, reader: .ok, ops: .ok),
        Case("vector.delete_documents", ["collection": "kb", "ids": ["d1"]], news: .ok, reader: .refused, ops: .refused),
        Case("vector.drop_collection", ["name": "kb"], news: .refused, reader: .refused, ops: .refused),
        // LangGraph's checkpoints are shared like the vector store: read by every scope, written by read-write ones.
        Case("checkpoint.put", ["thread_id": "th", "checkpoint": ["id": "c1"]], news: .ok, reader: .refused, ops: .refused),
        Case("checkpoint.put_writes", ["thread_id": "th", "checkpoint_id": "c1", "task_id": "k", "writes": []],
             news: .ok, reader: .refused, ops: .refused),
        Case("checkpoint.get", ["thread_id": "th"], news: .ok, reader: .ok, ops: .ok),
        Case("checkpoint.list", ["thread_id": "th"], news: .ok, reader: .ok, ops: .ok),
        Case("checkpoint.copy_thread", ["source_thread_id": "th", "target_thread_id": "th2"], news: .value(1), reader: .refused, ops: .refused),
        Case("checkpoint.prune", ["thread_ids": ["th2"], "strategy": "delete"], news: .value(1), reader: .refused, ops: .refused),
        Case("checkpoint.delete_for_runs", ["run_ids": ["r"]], news: .value(0), reader: .refused, ops: .refused),
        Case("checkpoint.delete_thread", ["thread_id": "th"], news: .value(1), reader: .refused, ops: .refused),
        // So is LangGraph's store (a read-only scope's reads leave TTLs as they are).
        Case("store.put", ["namespace": ["mem"], "key": "k", "value": ["v": 1], "ttl": 60], news: .ok, reader: .refused, ops: .refused),
        Case("store.get", ["namespace": ["mem"], "key": "k"], news: .ok, reader: .ok, ops: .ok),
        Case("store.search", ["namespace_prefix": ["mem"]], news: .ok, reader: .ok, ops: .ok),
        Case("store.list_namespaces", news: .value([["mem"]]), reader: .value([["mem"]]), ops: .value([["mem"]])),
        Case("store.sweep", news: .value(0), reader: .refused, ops: .refused),
        Case("store.delete", ["namespace": ["mem"], "key": "k"], news: .value(true), reader: .refused, ops: .refused),
    ]

    /// Methods covered outside the table: auth (every login), and the transaction methods (below).
    static let coveredElsewhere: Set<String> = ["auth", "begin_transaction", "commit_transaction", "rollback_transaction"]

    static func outcome(_ answer: JSONObject) -> (code: Int64?, result: JSONValue?) {
        (answer["error"]?["code"]?.intValue, answer["result"])
    }

    static func login(_ port: Int, _ token: String) throws -> LineClient {
        let c = try LineClient(.tcp(host: "127.0.0.1", port: port))
        #expect(try c.result("auth", ["token": .string(token)]) == .bool(true))
        return c
    }

    @Test("every method × scope, as the access table says", arguments: TestBackend.allCases)
    func everyMethodEveryScope(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig(Self.config)])
        let port = try #require(proxy.tcpPort)
        let full = try Self.login(port, "full-token")
        _ = try full.result("save_task", ["task": Self.task("t-news", "news")])
        _ = try full.result("save_task", ["task": Self.task("t-mail", "mail")])
        _ = try full.result("cache.set", ["key": "k", "value": "global"])
        _ = try full.result("save_metadata", ["key": "m", "value": "global"])

        let methods = Set((try full.result("rpc.discover")["methods"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        #expect(methods.subtracting(Self.cases.map(\.method)).subtracting(Self.coveredElsewhere).isEmpty,
                "not in the table: \(methods.subtracting(Self.cases.map(\.method)).subtracting(Self.coveredElsewhere).sorted())")

        let tokens = ["news": "news-rw", "reader": "reader-ro", "ops": "ops-admin"]
        let sessions = try ["news", "reader", "ops"].map { ($0, try Self.login(port, tokens[$0]!)) }
        for c in Self.cases {
            for (name, session) in sessions {
                // A subscription's events would come between later answers: it gets a connection of its own.
                let client = c.method == "subscribe" ? try Self.login(port, tokens[name]!) : session
                let expected = name == "news" ? c.news : name == "reader" ? c.reader : c.ops
                let answer = try client.call(c.method, c.params)
                let (code, result) = Self.outcome(answer)
                let what = "\(name) \(c.method) \(c.params.jsonText): expected \(expected), got \(JSONValue.object(answer).jsonText)"
                switch expected {
                case .ok: #expect(code == nil, "\(what)")
                case .refused: #expect(code == -32007, "\(what)")
                case .code(let want): #expect(code == want, "\(what)")
                case .value(let want): #expect(code == nil && result == want, "\(what)")
                }
            }
        }
        // Nothing a refused call tried happened: the mail task and the global keys are as they were.
        #expect(try full.result("get_task", ["task_id": "t-mail"])["agent_name"] == "mail")
        #expect(try full.result("get_task", ["task_id": "t-mail"])["task_prompt"] == "p")
        #expect(try full.result("cache.get", ["key": "k"]) == "global")
        #expect(try full.result("get_metadata", ["key": "m"]) == "global")
        #expect(try full.result("query_logs", ["task_id": "t-mail"]).arrayValue?.isEmpty == true)

        // Transactions: open to every scope; what runs inside is held to the scope, and sees the transaction's own tasks.
        let news = sessions[0].1
        let tx = try #require(try news.result("begin_transaction").stringValue ?? news.result("begin_transaction")["transaction"]?.stringValue)
        #expect(try news.result("save_task", ["task": Self.task("t-tx", "news"), "transaction": .string(tx)]) == "t-tx")
        #expect(try news.errorCode("save_log", ["task_id": "t-tx", "level": "INFO", "message": "m", "transaction": .string(tx)]) == nil)
        #expect(try news.errorCode("update_task_status", ["task_id": "t-mail", "status": "failed", "transaction": .string(tx)]) == -32007)
        #expect(try news.errorCode("commit_transaction", ["transaction": .string(tx)]) == nil)
        let reader = sessions[1].1
        let rtx = try #require(try reader.result("begin_transaction").stringValue)
        #expect(try reader.errorCode("rollback_transaction", ["transaction": .string(rtx)]) == nil)
    }

    @Test("HTTP: a scoped bearer token gets its scope; /metrics needs an admin one")
    func httpBearerScopes() throws {
        let proxy = try ProxyProcess(arguments: ["--http-listen", "0", "--config", try writeConfig(Self.config)])
        let port = try #require(proxy.httpPort)
        let save = #"{"jsonrpc":"2.0","id":1,"method":"save_task","params":{"task":"# + Self.task("h1", "mail").jsonText + "}}"
        let refused = try HTTPExchange(port: port, "POST", "/", body: save, headers: ["Authorization": "Bearer news-rw"])
        #expect(try refused.json["error"]?["code"] == .int(-32007))
        let allowed = try HTTPExchange(port: port, "POST", "/", body: save, headers: ["Authorization": "Bearer full-token"])
        #expect(try allowed.json["result"] == "h1")
        #expect(try HTTPExchange(port: port, "GET", "/metrics", headers: ["Authorization": "Bearer news-rw"]).status == 401)
        #expect(try HTTPExchange(port: port, "GET", "/metrics", headers: ["Authorization": "Bearer ops-admin"]).status == 200)
    }

    @Test("server.unix_peers: a Unix socket peer gets the scope mapped to its uid, without auth")
    func unixPeerScope() throws {
        let uid = getuid()
        let yaml = "server:\n  unix_peers:\n    - {name: local-news, uid: \(uid), agents: [news], access: read-only}\n"
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig(yaml)])
        let client = try proxy.client()
        #expect(try client.errorCode("save_task", ["task": Self.task("u1", "news")]) == -32007, "read-only")
        #expect(try client.errorCode("list_tasks", ["agent_name": "mail"]) == -32007)
        #expect(try client.result("list_tasks", ["agent_name": "news"]).arrayValue == [])
        #expect(try client.errorCode("server.status") == -32007)
    }

    @Test("SIGHUP: a token added or removed applies to the next auth; sessions keep the scope they had")
    func reloadTokens() throws {
        let dir = ProxyProcess.makeTempDir()
        let path = dir + "/proxy.yaml"
        try Self.config.write(toFile: path, atomically: true, encoding: .utf8)
        let proxy = try ProxyProcess(arguments: ["--config", path])
        let port = try #require(proxy.tcpPort)
        let before = try Self.login(port, "news-rw")
        try Self.config.replacingOccurrences(of: "news-rw", with: "news-rw-2").write(toFile: path, atomically: true, encoding: .utf8)
        proxy.process?.send(SIGHUP)
        for _ in 0..<100 where !proxy.logText.contains("tokens changed") { usleep(20_000) }
        let late = try LineClient(.tcp(host: "127.0.0.1", port: port))
        #expect(try late.errorCode("auth", ["token": "news-rw"]) == -32007)
        #expect(try Self.login(port, "news-rw-2").errorCode("list_tasks", ["agent_name": "mail"]) == -32007)
        #expect(try before.errorCode("list_tasks", ["agent_name": "mail"]) == -32007, "the old session keeps its scope")
        #expect(!proxy.logText.contains("news-rw"))
    }

    @Test("bad token lists are refused at start, naming the entry")
    func badTokenConfig() throws {
        for (yaml, why) in [
            ("server:\n  tokens:\n    - {name: a, token: t1, agents: [x]}\n    - {name: a, token: t2, agents: [y]}\n", "the name a is used twice"),
            ("server:\n  tokens:\n    - {name: a, agents: [x]}\n", "needs a token"),
            ("server:\n  tokens:\n    - {name: \"a b\", token: t, agents: [x]}\n", "1 to 64 of"),
            ("server:\n  tokens:\n    - {name: a, token: t, agents: [x], acess: read-only}\n", "did you mean server.tokens.access?"),
        ] {
            let r = try runCLI(["serve", "--config", try writeConfig(yaml), "--socket", ProxyProcess.makeTempDir() + "/s.sock"])
            #expect(r.status != 0 && r.err.contains(why), "\(yaml): \(r.err)")
        }
    }
}
