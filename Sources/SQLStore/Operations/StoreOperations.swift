import ProxyCore
import StoragePorts
import VectorSearch

/// LangGraph's long-term store (`store.*`) as operations, written once for
/// both backends. An expired item is gone to every read (`live`), whether or
/// not the sweeper (`sweep`) has deleted it yet. A read that found items with
/// a TTL starts them again (`refresh`) when asked. Not read-through entries:
/// an item's expiry is the database's clock, not the cache's.
public enum StoreOperations {
    /// `store.put`: an item and, when given, its embeddings.
    public struct Put {
        public var namespace: StoreNamespace
        public var key: String
        public var value: JSONValue
        public var ttlMinutes: Double?
        /// The item's embeddings by field, replacing what it had; nil keeps them.
        public var vectors: [(field: String, embedding: [Float])]?
        public var now: Timestamp

        public init(namespace: StoreNamespace, key: String, value: JSONValue, ttlMinutes: Double?,
                    vectors: [(field: String, embedding: [Float])]?, now: Timestamp) {
            self.namespace = namespace; self.key = key; self.value = value; self.ttlMinutes = ttlMinutes
            self.vectors = vectors; self.now = now
        }
    }

    /// The item as given (created once, updated each time), with its TTL from now.
    public static func put(_ p: Put) -> Unit<Void> {
        Unit(.write) { steps, done in
            let expires = p.ttlMinutes.map { SQLValue.int(p.now.microseconds + Int64($0 * 60_000_000)) } ?? .null
            var writes: [Operation<Void>] = [.done(nil) { d in
                ("INSERT INTO store_items (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
                 + "VALUES ($1, $2, \(d.parameter(3, as: d.jsonType)), \(d.parameter(4, as: d.timeType)), \(d.parameter(5, as: d.timeType)), "
                 + "\(d.parameter(6, as: "bigint")), \(d.parameter(7, as: d == .sqlite ? nil : "double precision"))) "
                 + "ON CONFLICT (prefix, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
                 + "expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes",
                 [.text(p.namespace.stored), .text(p.key), .text(p.value.jsonText), d.value(p.now), d.value(p.now), expires,
                  p.ttlMinutes.map { .text(String($0)) } ?? .null])
            }]
            if let vectors = p.vectors {
                writes.append(.done(nil) { _ in
                    ("DELETE FROM store_vectors WHERE prefix = $1 AND key = $2", [.text(p.namespace.stored), .text(p.key)])
                })
                for v in vectors {
                    writes.append(.done(nil) { d in
                        ("INSERT INTO store_vectors (prefix, key, field, embedding) VALUES ($1, $2, $3, \(d.parameter(4, as: d == .sqlite ? nil : "bytea")))",
                         [.text(p.namespace.stored), .text(p.key), .text(v.field), .blob(Float32Bytes.encode(v.embedding))])
                    })
                }
            }
            steps.all(writes, then: (), done)
        }
    }

    /// True if the item was stored (its embeddings go with it).
    public static func delete(_ namespace: StoreNamespace, key: String) -> Operation<Bool> {
        .changed(.store(namespace.stored, key)) { _ in ("DELETE FROM store_items WHERE prefix = $1 AND key = $2", [.text(namespace.stored), .text(key)]) }
    }

    static let itemColumns = { (d: SQLDialect) in
        "prefix, key, \(d.readJSON("value")), \(d.readTime("created_at")), \(d.readTime("updated_at")), ttl_minutes"
    }

    static func item(_ row: any SQLRow, _ d: SQLDialect) -> StoreItem {
        StoreItem(namespace: StoreNamespace(stored: row.text(0) ?? ""), key: row.text(1) ?? "", value: row.text(2) ?? "null",
                  createdAt: d.time(row, 3) ?? Timestamp(microseconds: 0), updatedAt: d.time(row, 4) ?? Timestamp(microseconds: 0),
                  hasTTL: row.text(5) != nil)
    }

    /// `$n` holds now (epoch µs): the item has no TTL or it has not passed.
    static func live(_ n: Int) -> String { "(expires_at IS NULL OR expires_at > $\(n))" }

    /// Items with a TTL among these live `ttl_minutes` from now again (a read
    /// with `refresh_ttl` found them: LangGraph's refresh on read).
    public static func refresh(_ items: [StoreItem], now: Timestamp) -> Operation<Void> {
        .done(nil) { d in
            let named = d == .sqlite
                ? "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($2)"
                : "SELECT k->>0, k->>1 FROM jsonb_array_elements($2::jsonb) AS k"
            let list = JSONValue.array(items.filter(\.hasTTL).map { .array([.string($0.namespace.stored), .string($0.key)]) }).jsonText
            return ("UPDATE store_items SET expires_at = \(d.parameter(1, as: "bigint")) + CAST(ttl_minutes * 60000000 AS BIGINT) "
                    + "WHERE ttl_minutes IS NOT NULL AND expires_at > $1 AND (prefix, key) IN (\(named))",
                    [.int(now.microseconds), .text(list)])
        }
    }

    /// The item, or nil (never stored, deleted, expired).
    public static func get(_ namespace: StoreNamespace, key: String, now: Timestamp) -> Operation<StoreItem?> {
        .one(.read, { d in
            ("SELECT \(itemColumns(d)) FROM store_items WHERE prefix = $1 AND key = $2 AND \(live(3))",
             [.text(namespace.stored), .text(key), .int(now.microseconds)])
        }, decode: { row, d in item(row, d) })
    }

    /// `store.search`.
    public struct Search {
        public var prefix: StoreNamespace
        public var filter: StoreFilter?
        public var limit, offset: Int
        public var query: [Float]?
        public var now: Timestamp
        public var budget: AnswerBudget

        public init(prefix: StoreNamespace, filter: StoreFilter?, limit: Int, offset: Int, query: [Float]?,
                    now: Timestamp, budget: AnswerBudget) {
            self.prefix = prefix; self.filter = filter; self.limit = limit; self.offset = offset; self.query = query
            self.now = now; self.budget = budget
        }
    }

    /// The items under a namespace prefix that pass the filter: newest update
    /// first; with `query`, most similar first (cosine, the best of an item's
    /// embedded fields; items without one after those, unscored). Filters and
    /// similarity are the proxy's (LangGraph's rules, the same on both
    /// backends); the rows it reads to find them count against the answer
    /// budget (-32005: narrow the prefix).
    public static func search(_ s: Search) -> Operation<StoreScan> {
        let inSQL = s.filter == nil && s.query == nil  // the database pages it itself
        return Operation(.read, statement: { d in
            var values: [SQLValue] = [.int(s.now.microseconds)]
            var conditions = [live(1)]
            if !s.prefix.labels.isEmpty {
                values += [.text(s.prefix.stored)]
                let p = d.parameter(2, as: "text")
                conditions.append("(prefix = \(p) OR (prefix > \(p) || '.' AND prefix < \(p) || '/'))")
            }
            let columns = itemColumns(d).replacingOccurrences(of: "prefix, key", with: "i.prefix, i.key")
            let join = s.query == nil ? "" : " LEFT JOIN store_vectors v USING (prefix, key)"
            var sql = "SELECT \(columns), \(s.query == nil ? "NULL" : "v.embedding") FROM store_items i\(join) "
                + "WHERE \(conditions.joined(separator: " AND ")) "
                + (s.query == nil ? "ORDER BY i.updated_at DESC, i.prefix, i.key" : "ORDER BY i.prefix, i.key")
            if inSQL {
                values += [.int(Int64(s.limit)), .int(Int64(s.offset))]
                sql += " LIMIT $\(values.count - 1) OFFSET $\(values.count)"
            }
            return (sql, values)
        }, initial: StoreScan(s, skip: inSQL ? 0 : s.offset), eachRow: { row, d, out throws(ProxyError) in try out.add(row, d) },
           finish: { out, _ in out.finish() })
    }

    /// `store.list_namespaces`: the namespaces holding live items that match
    /// every condition (`prefix`, `suffix`: labels, "*" any one), cut to
    /// `maxDepth` labels, in order, a page of them.
    public static func listNamespaces(prefix: [String]?, suffix: [String]?, maxDepth: Int?, limit: Int, offset: Int, now: Timestamp,
                                      budget: AnswerBudget) -> Operation<NamespaceList> {
        Operation(.read, statement: { d in
            var values: [SQLValue] = [.int(now.microseconds)]
            var sql = "SELECT DISTINCT prefix FROM store_items WHERE \(live(1))"
            // The labels before the first wildcard are a key range.
            let literal = (prefix ?? []).prefix { $0 != "*" }
            if !literal.isEmpty {
                values.append(.text(literal.joined(separator: ".")))
                let p = d.parameter(2, as: "text")
                sql += " AND (prefix = \(p) OR (prefix > \(p) || '.' AND prefix < \(p) || '/'))"
            }
            return (sql + " ORDER BY prefix", values)
        }, initial: NamespaceList(budget: budget, limit: limit, offset: offset), eachRow: { row, _, out throws(ProxyError) in
            let ns = StoreNamespace(stored: row.text(0) ?? "")
            try out.budget.spend(ns.stored.utf8.count + 8)
            guard prefix.map({ ns.matches($0, atEnd: false) }) ?? true, suffix.map({ ns.matches($0, atEnd: true) }) ?? true else { return }
            out.found.insert(maxDepth.map { StoreNamespace(Array(ns.labels.prefix($0))) } ?? ns)
        })
    }

    /// Deletes what expired by `now`; answers how many (their embeddings go with them).
    public static func sweep(now: Timestamp) -> Operation<Int> {
        .count(nil) { _ in ("DELETE FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= $1", [.int(now.microseconds)]) }
    }
}

/// Namespaces found, answered in label order (byte order of each label), a page of them.
public struct NamespaceList: JSONWritable {
    var budget: AnswerBudget
    let limit, offset: Int
    var found = Set<StoreNamespace>()

    public func writeJSON(into out: inout [UInt8]) {
        let sorted = found.sorted { $0.labels.lexicographicallyPrecedes($1.labels) { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
        JSONValue.array(sorted.dropFirst(offset).prefix(limit).map(\.json)).writeJSON(into: &out)
    }
}

/// A search's fold: filtered as rows arrive. Without a query, kept in order
/// after the offset. With one, every candidate scored (an item's rows, one
/// per embedded field, arrive together: the best field counts), then ranked.
public struct StoreScan: JSONWritable {
    let search: StoreOperations.Search
    var skip: Int
    var budget: AnswerBudget
    public private(set) var items: [StoreItem] = []
    private var unscored: [StoreItem] = []
    /// The item whose rows are arriving (query searches), its best score so far; nil: rejected by the filter.
    private var current: (key: String, item: StoreItem?)?
    private let queryNorm: Float

    init(_ s: StoreOperations.Search, skip: Int) {
        search = s
        self.skip = skip
        budget = s.budget
        queryNorm = s.query.map { VectorMatrix<Void>.dot($0, $0).squareRoot() } ?? 0
    }

    mutating func add(_ row: any SQLRow, _ d: SQLDialect) throws(ProxyError) {
        let value = row.text(2) ?? "null"
        let embedding = search.query == nil ? nil : row.float32s(6)
        try budget.spend(value.utf8.count + (embedding?.count ?? 0) * 4 + 64)
        let key = StoredKey.join([row.text(0) ?? "", row.text(1) ?? ""])
        if search.query != nil, let current, current.key == key {  // another embedded field of the same item
            if var item = current.item, let embedding, let score = similarity(embedding), score > (item.score ?? -.infinity) {
                item.score = score
                self.current = (key, item)
            }
            return
        }
        flush()
        let passes = search.filter.map { f in (try? JSONParser.parse(value, maxDepth: 512)).map(f.matches) ?? false } ?? true
        guard search.query != nil else {
            guard passes else { return }
            if skip > 0 { skip -= 1; return }
            if items.count < search.limit { items.append(StoreOperations.item(row, d)) }
            return
        }
        var item = passes ? StoreOperations.item(row, d) : nil
        if let embedding, let score = similarity(embedding) { item?.score = score }
        current = (key, item)
    }

    private mutating func flush() {
        guard let item = current?.item else { return }
        if item.score != nil { items.append(item) } else { unscored.append(item) }
        current = nil
    }

    private func similarity(_ e: [Float]) -> Double? {
        guard let q = search.query, q.count == e.count, queryNorm > 0 else { return nil }
        let norm = VectorMatrix<Void>.dot(e, e).squareRoot()
        return norm > 0 ? Double(VectorMatrix<Void>.dot(q, e) / (queryNorm * norm)) : 0
    }

    mutating func finish() {
        guard search.query != nil else { return }
        flush()
        items.sort { $0.score! > $1.score! }
        var ranked = Array(items.dropFirst(search.offset).prefix(search.limit))
        if ranked.count < search.limit {
            // As LangGraph's in-memory store: items without an embedding fill the page, unscored.
            ranked += unscored.dropFirst(max(0, search.offset - items.count)).prefix(search.limit - ranked.count)
        }
        items = ranked
    }

    public func writeJSON(into out: inout [UInt8]) { items.writeJSON(into: &out) }
}
