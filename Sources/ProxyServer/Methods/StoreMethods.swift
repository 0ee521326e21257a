import ProxyConfig
import ProxyCore
import SQLStore
import StoragePorts

/// LangGraph's long-term store (`store.*`, PROTOCOL.md "Long-term store"):
/// JSON items by namespace and key, with TTLs and embeddings (the client's
/// embedder's, or the proxy's: `texts`, `query`). Shared like the vector
/// store: any scope reads, a read-write scope writes.
enum StoreMethods {
    static let namespaceSchema = Schema.array(Schema.string)
    static let item: JSONValue = ["$ref": "#/components/schemas/StoreItem"]

    static let all: [MethodSpec] = [
        MethodSpec("store.put", .write(.shared), "Store a JSON object under a namespace and key (created once, updated after), "
                   + "with a TTL and its embeddings when given.",
                   params: [.required("namespace", namespaceSchema, "Labels: 1 or more non-empty strings without \".\"."),
                            .required("key", Schema.string, "The item's key in its namespace."),
                            .required("value", Schema.object, "The item."),
                            .optional("ttl", Schema.number, "Minutes until it expires (reads with refresh_ttl start it again); none: never."),
                            .optional("vectors", Schema.array(["type": "object", "required": ["field", "embedding"],
                                                                "properties": ["field": Schema.string, "embedding": Schema.vector]]),
                                      "Embeddings of its indexed fields, replacing what it had (absent: kept)."),
                            .optional("texts", Schema.array(["type": "object", "required": ["field", "text"],
                                                              "properties": ["field": Schema.string, "text": Schema.string]]),
                                      "Its indexed fields' texts, for the proxy's embedder (`vector.embedder`) to embed instead of `vectors`.")],
                   result: Schema.null, ordering: .write, transactional: true, retrySafe: true) { call in
            let p = call.params
            var put = StoreOperations.Put(namespace: try namespace(p, "namespace", empty: false), key: try p.string("key"),
                                          value: .object(try p.objectParam("value")),
                                          ttlMinutes: try p.optionalNumber("ttl", in: 0...5_256_000, exclusiveLowerBound: true),
                                          vectors: try vectors(p, limits: call.services.vectorLimits), now: .now())
            let tx = try call.transaction()
            guard let texts = try fieldTexts(p, max: call.services.vectorLimits.maxDocumentsPerCall) else {
                return call.services.operations.run(StoreOperations.put(put), in: tx) { call.relay($0) }
            }
            guard put.vectors == nil else { throw ProxyError.invalidParams(field: "texts", reason: "give vectors or texts, not both") }
            try embed(call, texts.map(\.text), field: "texts") { made in
                put.vectors = zip(texts, made).map { ($0.field, $1) }
                call.services.operations.run(StoreOperations.put(put), in: tx) { call.relay($0) }
            }
        },
        MethodSpec("store.delete", .write(.shared), "Delete an item. true if it was stored.",
                   params: [.required("namespace", namespaceSchema, "Its namespace."), .required("key", Schema.string, "Its key.")],
                   result: Schema.boolean, ordering: .write, transactional: true, retrySafe: true) { call in
            try call.answer(StoreOperations.delete(try namespace(call.params, "namespace", empty: false),
                                                   key: try call.params.string("key")))
        },
        MethodSpec("store.get", .read(.shared), "An item {namespace, key, value, created_at, updated_at}, or null (never stored, "
                   + "deleted or expired). With refresh_ttl (default) its TTL starts again.",
                   params: [.required("namespace", namespaceSchema, "Its namespace."), .required("key", Schema.string, "Its key."),
                            .optional("refresh_ttl", Schema.boolean, "Start its TTL again (default true; not for a read-only scope).")],
                   result: Schema.nullable(item), ordering: .read, transactional: true) { call in
            let p = call.params, now = Timestamp.now()
            let get = StoreOperations.get(try namespace(p, "namespace", empty: false), key: try p.string("key"), now: now)
            let refresh = try flag(p, "refresh_ttl") && !call.session.scope.readOnly, tx = try call.transaction()
            call.services.operations.run(get, in: tx) { result in
                guard refresh, case .success(let found?) = result, found.hasTTL else { return call.relay(result) }
                call.services.operations.run(StoreOperations.refresh([found], now: now), in: tx) { call.relay($0.map { found }) }
            }
        },
        MethodSpec("store.search", .read(.shared), "Items under a namespace prefix that pass `filter`, newest update first; with "
                   + "`query_embedding`, most similar first (cosine; `score`). One page.",
                   params: [.required("namespace_prefix", namespaceSchema, "Labels every result's namespace starts with ([] for all)."),
                            .optional("filter", Schema.object, "Conditions on the value's keys: a value (equal) or {$eq, $ne, $gt, $gte, $lt, $lte: value}."),
                            .integer("limit", 1...1000, default: 10, "How many at most."),
                            .integer("offset", 0...1_000_000, default: 0, "How many to skip."),
                            .optional("query_embedding", Schema.vector, "The query's embedding, by the same embedder as the items'."),
                            .optional("query", Schema.string, "The query's text, for the proxy's embedder (`vector.embedder`) to embed instead."),
                            .optional("refresh_ttl", Schema.boolean, "Start the results' TTLs again (default true; not for a read-only scope).")],
                   result: Schema.array(item), ordering: .read, transactional: true) { call in
            let p = call.params, now = Timestamp.now()
            var search = StoreOperations.Search(
                prefix: try namespace(p, "namespace_prefix", empty: true),
                filter: try p.optionalObject("filter").map { o throws(ProxyError) in try StoreFilter(o) },
                limit: try p.int("limit"), offset: try p.int("offset"),
                query: try p.object["query_embedding"].flatMap { v throws(ProxyError) in
                    v == .null ? nil : try VectorParams.vector(v, field: "query_embedding", maxDimension: call.services.vectorLimits.maxDimension)
                },
                now: now, budget: AnswerBudget(limit: call.services.maxAnswerBytes))
            let refresh = try flag(p, "refresh_ttl") && !call.session.scope.readOnly, tx = try call.transaction()
            let run = { (search: StoreOperations.Search) in
                call.services.operations.run(StoreOperations.search(search), in: tx) { result in
                    guard refresh, case .success(let found) = result, found.items.contains(where: \.hasTTL) else { return call.relay(result) }
                    call.services.operations.run(StoreOperations.refresh(found.items, now: now), in: tx) { call.relay($0.map { found }) }
                }
            }
            guard let text = try p.optionalString("query") else { return run(search) }
            guard search.query == nil else { throw ProxyError.invalidParams(field: "query", reason: "give query_embedding or query, not both") }
            try embed(call, [text], field: "query") { made in
                search.query = made.first
                run(search)
            }
        },
        MethodSpec("store.list_namespaces", .read(.shared), "Namespaces holding items, in order: those matching `prefix` and `suffix` "
                   + "(labels, \"*\" any one), cut to `max_depth` labels. One page.",
                   params: [.optional("prefix", namespaceSchema, "Labels the namespace starts with (\"*\": any)."),
                            .optional("suffix", namespaceSchema, "Labels the namespace ends with (\"*\": any)."),
                            .optional("max_depth", Schema.integer, "Only the first this many labels of each (1 or more)."),
                            .integer("limit", 1...10_000, default: 100, "How many at most."),
                            .integer("offset", 0...1_000_000, default: 0, "How many to skip.")],
                   result: Schema.array(namespaceSchema), ordering: .read, transactional: true) { call in
            let p = call.params
            let depth = try p.object["max_depth"].flatMap { v throws(ProxyError) -> Int? in
                guard v != .null else { return nil }
                guard let n = v.intValue, n >= 1 else { throw ProxyError.invalidParams(field: "max_depth", reason: "must be an integer of 1 or more") }
                return Int(n)
            }
            try call.answer(StoreOperations.listNamespaces(
                prefix: try p.object["prefix"] == nil ? nil : namespace(p, "prefix", empty: true).labels,
                suffix: try p.object["suffix"] == nil ? nil : namespace(p, "suffix", empty: true).labels,
                maxDepth: depth, limit: try p.int("limit"), offset: try p.int("offset"), now: .now(),
                budget: AnswerBudget(limit: call.services.maxAnswerBytes)))
        },
        MethodSpec("store.sweep", .write(.shared), "Delete the items whose TTL passed (the proxy also does it every "
                   + "`server.store_sweep_seconds`). Returns how many.",
                   result: Schema.integer, ordering: .write, transactional: true, retrySafe: true) { call in
            try call.answer(StoreOperations.sweep(now: .now()))
        },
    ]

    /// Labels: strings, none empty or holding "." (the stored form joins them with it, as LangGraph's own stores do).
    private static func namespace(_ p: Params, _ name: String, empty: Bool) throws(ProxyError) -> StoreNamespace {
        guard case .array(let items)? = p.object[name] else { throw ProxyError.invalidParams(field: name, reason: "must be an array of strings") }
        guard empty || !items.isEmpty else { throw ProxyError.invalidParams(field: name, reason: "must have at least one label") }
        var labels: [String] = []
        for (i, item) in items.enumerated() {
            guard let label = item.stringValue, !label.isEmpty, !label.contains(".") else {
                throw ProxyError.invalidParams(field: "\(name)[\(i)]", reason: "must be a non-empty string without \".\"")
            }
            labels.append(label)
        }
        return StoreNamespace(labels)
    }

    /// An item's fields, as many as an add may bring documents: each is a statement (and an embedding) of its own.
    private static func fields(_ p: Params, _ name: String, max: Int) throws(ProxyError) -> [JSONValue]? {
        guard let given = p.object[name], given != .null else { return nil }
        guard case .array(let items) = given else { throw ProxyError.invalidParams(field: name, reason: "must be an array") }
        guard items.count <= max else {
            throw ProxyError.invalidParams(field: name, reason: "must hold at most \(max) fields (vector.max_documents_per_call)")
        }
        return items
    }

    /// `[{field, text}]` for the proxy's embedder.
    private static func fieldTexts(_ p: Params, max: Int) throws(ProxyError) -> [(field: String, text: String)]? {
        guard let items = try fields(p, "texts", max: max) else { return nil }
        var out: [(field: String, text: String)] = []
        for (i, item) in items.enumerated() {
            guard let field = item.objectValue?["field"]?.stringValue, let text = item.objectValue?["text"]?.stringValue else {
                throw ProxyError.invalidParams(field: "texts[\(i)]", reason: "must be {field, text}, both strings")
            }
            out.append((field, text))
        }
        return out
    }

    /// Texts embedded by the proxy's embedder (`vector.embedder`): without one, -32602 naming the field; its failures as it reports them.
    private static func embed(_ call: Call, _ texts: [String], field: String, _ then: @escaping ([[Float]]) -> Void) throws(ProxyError) {
        guard let embedder = call.services.vectors.embedder else {
            throw ProxyError.invalidParams(field: field, reason: "needs the proxy's embedder (vector.embedder), which is not configured")
        }
        guard !texts.isEmpty else { return then([]) }
        embedder.embed(texts) { result in
            switch result {
            case .success(let vectors): then(vectors)
            case .failure(let error): call.reply(.failure(error))
            }
        }
    }

    private static func flag(_ p: Params, _ name: String) throws(ProxyError) -> Bool {
        switch p.object[name] {
        case nil, .null?: return true
        case .bool(let b)?: return b
        case let v?: throw ProxyError.invalidParams(field: name, reason: "must be a boolean, got \(v.typeName)")
        }
    }

    private static func vectors(_ p: Params, limits: ProxyConfig.Vector) throws(ProxyError) -> [(field: String, embedding: [Float])]? {
        guard let items = try fields(p, "vectors", max: limits.maxDocumentsPerCall) else { return nil }
        let max = limits.maxDimension
        var out: [(field: String, embedding: [Float])] = []
        for (i, item) in items.enumerated() {
            guard let field = item.objectValue?["field"]?.stringValue else {
                throw ProxyError.invalidParams(field: "vectors[\(i)].field", reason: "must be a string")
            }
            out.append((field, try VectorParams.vector(item.objectValue?["embedding"] ?? .null, field: "vectors[\(i)].embedding", maxDimension: max)))
        }
        return out
    }
}
