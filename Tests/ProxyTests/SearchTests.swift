import Foundation
import ProxyCore
import StoragePorts
import StorageProxyClient
import Testing

/// Keyword ranking and filters over real proxies: the same answers on every
/// backend, through every proxy, and in every search mode.
@Suite("Search: keyword ranking and filters")
struct SearchTests {
    typealias Seeded = VectorStoreTests.Seeded

    /// A reference reading of PROTOCOL.md's filter rules, written apart from the proxy's.
    static func passes(_ meta: JSONValue, _ filter: JSONValue) -> Bool {
        guard case .object(let f) = filter else { return false }
        return f.members.allSatisfy { key, value in
            switch key {
            case "$and": return value.arrayValue!.allSatisfy { passes(meta, $0) }
            case "$or": return value.arrayValue!.contains { passes(meta, $0) }
            case "$not": return !passes(meta, value)
            default:
                let found = lookUp(meta, key)
                guard case .object(let ops) = value else { return holds("$eq", found, value) }
                return ops.members.allSatisfy { op, operand in
                    op == "$not" ? !passes(meta, .object(JSONObject([(key, operand)]))) : holds(op, found, operand)
                }
            }
        }
    }

    static func lookUp(_ meta: JSONValue, _ path: String) -> JSONValue? {
        if let whole = meta.objectValue?[path] { return whole }
        var current: JSONValue? = meta
        for part in path.split(separator: ".", omittingEmptySubsequences: false) { current = current?.objectValue?[String(part)] }
        return path.contains(".") ? current : nil
    }

    static func holds(_ op: String, _ found: JSONValue?, _ operand: JSONValue) -> Bool {
        switch op {
        case "$exists": return (found != nil) == operand.boolValue!
        case "$ne": return !holds("$eq", found, operand)
        case "$nin": return !holds("$in", found, operand)
        default: break
        }
        guard let found else { return false }
        if case .array(let elements) = found { return elements.contains { holds(op, $0, operand) } }
        func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
            if let x = a.doubleValue, let y = b.doubleValue { return x == y }
            return a == b
        }
        switch op {
        case "$eq": return same(found, operand)
        case "$in": return operand.arrayValue!.contains { same(found, $0) }
        default:
            let order: Int
            if let x = found.doubleValue, let y = operand.doubleValue { order = x < y ? -1 : (x > y ? 1 : 0) }
            else if case .string(let x) = found, case .string(let y) = operand { order = x < y ? -1 : (x > y ? 1 : 0) }
            else { return false }
            switch op {
            case "$gt": return order > 0
            case "$gte": return order >= 0
            case "$lt": return order < 0
            default: return order <= 0
            }
        }
    }

    static func randomScalar(_ r: inout Seeded) -> JSONValue {
        switch r.next() % 6 {
        case 0: return .string(["red", "blue", "green"][Int(r.next() % 3)])
        case 1, 2: return .int(Int64(r.next() % 5))
        case 3: return .double(Double(r.next() % 5) + 0.5)
        case 4: return .bool(r.next() % 2 == 0)
        default: return .null
        }
    }

    static func randomMetadata(_ r: inout Seeded) -> JSONValue {
        var o = JSONObject()
        for key in ["a", "b", "c"] where r.next() % 4 != 0 { o[key] = randomScalar(&r) }
        if r.next() % 2 == 0 { o["tags"] = .array((0..<Int(r.next() % 3)).map { _ in randomScalar(&r) }) }
        if r.next() % 2 == 0 { o["n"] = .object(["x": randomScalar(&r), "y": .object(["z": randomScalar(&r)])]) }
        return .object(o)
    }

    static func randomFilter(_ r: inout Seeded, depth: Int = 0) -> JSONValue {
        let fields = ["a", "b", "c", "tags", "n.x", "n.y.z", "missing"]
        var o = JSONObject()
        for _ in 0..<Int(r.next() % 2 + 1) {
            let field = fields[Int(r.next() % UInt64(fields.count))]
            switch r.next() % (depth < 2 ? 8 : 5) {
            case 0: o[field] = randomScalar(&r)
            case 1:
                let op = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"][Int(r.next() % 6)]
                var operand = randomScalar(&r)
                if op != "$eq", op != "$ne", operand.doubleValue == nil, operand.stringValue == nil { operand = .int(2) }  // orders take numbers and strings
                var ops = [(op, operand)]
                let bound = ["$gt", "$gte", "$lt", "$lte"][Int(r.next() % 4)]
                if r.next() % 2 == 0, bound != op { ops.append((bound, .int(Int64(r.next() % 5)))) }  // a range: two bounds on one field
                o[field] = .object(JSONObject(ops))
            case 2: o[field] = .object(JSONObject([(r.next() % 2 == 0 ? "$in" : "$nin", .array((0..<3).map { _ in randomScalar(&r) }))]))
            case 3: o[field] = .object(JSONObject([("$exists", .bool(r.next() % 2 == 0))]))
            case 4: o[field] = .object(JSONObject([("$not", .object(JSONObject([("$gte", .int(Int64(r.next() % 5)))])))]))
            case 5: o["$not"] = randomFilter(&r, depth: depth + 1)
            default: o[r.next() % 2 == 0 ? "$and" : "$or"] = .array((0..<Int(r.next() % 3 + 1)).map { _ in randomFilter(&r, depth: depth + 1) })
            }
        }
        return .object(o)
    }

    @Test("filters on random metadata: the vector scan, the postings' candidates, the keyword index and a reference reading agree, after replaces and deletes too (property)",
          arguments: TestBackend.allCases)
    func filtersAgree(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        var r = Seeded(state: 2029)
        var docs = (0..<300).map { i in (id: "d\(i)", text: "common word \(i)", meta: Self.randomMetadata(&r), vector: Optional([1.0, Double(i)])) }
        try VectorStoreTests.add(c, docs)
        var nonTrivial = 0, byPostings = 0
        var postings = MetadataPostings()
        for d in docs { postings.add(id: d.id, d.meta.objectValue) }
        for round in 0..<2 {
            if round == 1 {
                // New metadata for a third, a sixth deleted: the candidates by value follow.
                for i in stride(from: 0, to: 300, by: 3) {
                    postings.remove(id: docs[i].id, docs[i].meta.objectValue)
                    docs[i].meta = Self.randomMetadata(&r)
                    postings.add(id: docs[i].id, docs[i].meta.objectValue)
                }
                try VectorStoreTests.add(c, stride(from: 0, to: 300, by: 3).map { docs[$0] })
                let gone = stride(from: 1, to: 300, by: 6).map { docs[$0].id }
                _ = try c.result("vector.delete_documents", ["ids": .array(gone.map { .string($0) })])
                for d in docs where gone.contains(d.id) { postings.remove(id: d.id, d.meta.objectValue) }
                docs.removeAll { gone.contains($0.id) }
            }
            for _ in 0..<100 {
                let filter = Self.randomFilter(&r)
                let expected = Set(docs.filter { Self.passes($0.meta, filter) }.map(\.id))
                if !expected.isEmpty && expected.count < docs.count { nonTrivial += 1 }
                // The postings' candidates (what the proxy scans instead of every document when they are few) hold every passing document.
                if let candidates = postings.candidates(for: try MetadataFilter.parse(filter.objectValue!)) {
                    byPostings += 1
                    #expect(expected.isSubset(of: candidates), "postings (round \(round)): \(filter.jsonText)")
                }
                let scanned = VectorStoreTests.ids(try VectorStoreTests.search(c, ["embedding": [1, 0], "top_k": 1000, "filter": filter]))
                let matched = VectorStoreTests.ids(try VectorStoreTests.search(c, ["query": "common", "top_k": 1000, "filter": filter]))
                #expect(Set(scanned) == expected, "vector (round \(round)): \(filter.jsonText)")
                #expect(Set(matched) == expected, "keyword (round \(round)): \(filter.jsonText)")
            }
        }
        #expect(nonTrivial > 80, "most filters pass some documents and not others")
        #expect(byPostings > 60, "many take their candidates from the postings")
    }

    /// Texts from a small Zipf-like vocabulary: rankings with real ties and common words.
    static func corpus(_ count: Int) -> [(id: String, text: String, meta: JSONValue, vector: [Double]?)] {
        var r = Seeded(state: 77)
        let words = ["deploy", "deployed", "proxy", "cache", "queue", "lease", "agent", "vector", "index", "shard", "replica", "backup"]
        return (0..<count).map { i in
            let n = Int(r.next() % 12) + 1
            let text = (0..<n).map { _ in words[min(Int(Double(words.count) * pow(Double(r.next() % 1000) / 1000, 2)), words.count - 1)] }
            return ("k\(i)", text.joined(separator: " "), ["i": .int(Int64(i))], nil)
        }
    }

    static let queries = ["deploy", "proxy cache", "backup replica shard", "lease agent deploying", "nothing here", "index vector"]

    static func answers(_ c: LineClient, collection: String) throws -> [JSONValue] {
        try queries.map { q in
            try VectorStoreTests.search(c, ["query": .string(q), "top_k": 15, "collection": .string(collection)]).arrayValue!
                .map { h in JSONValue.array([h.objectValue!["id"]!, h.objectValue!["score"]!]) }
        }.map { .array($0) }
    }

    @Test("keyword ranking: the same ids and scores on SQLite and PostgreSQL, through a second proxy, after replaces, deletes and a restart")
    func keywordRankingEverywhere() throws {
        let lite = try ProxyProcess(backend: .sqlite)
        let first = try ProxyProcess(backend: .postgresql)
        let second = try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: first.dir)])
        let l = try lite.client(), a = try first.client(), b = try second.client()
        let docs = Self.corpus(400)
        for c in [l, a] {
            _ = try c.result("vector.create_collection", ["name": "kw", "dimension": 2])
            try VectorStoreTests.add(c, docs, collection: "kw")
        }
        let reference = try Self.answers(l, collection: "kw")
        #expect(reference.filter { $0.arrayValue?.isEmpty == false }.count == Self.queries.count - 1, "every query but one finds something")
        #expect(try Self.answers(a, collection: "kw") == reference, "PostgreSQL ranks as SQLite")
        #expect(try Self.answers(b, collection: "kw") == reference, "a second proxy on the same PostgreSQL")
        // Changes through one proxy, seen at once through the other, alike on both backends.
        let changed: [(id: String, text: String, meta: JSONValue, vector: [Double]?)] = [("k3", "deploy zebra", [:], nil), ("new", "proxy zebra", [:], nil)]
        for writer in [l, a] {
            try VectorStoreTests.add(writer, changed, collection: "kw")
            #expect(try writer.result("vector.delete_documents", ["ids": ["k5", "k8", "k13"], "collection": "kw"]) == 3)
        }
        let after = try Self.answers(l, collection: "kw")
        #expect(after != reference)
        #expect(Set(VectorStoreTests.ids(try VectorStoreTests.search(b, ["query": "zebra", "collection": "kw"]))) == ["k3", "new"])
        #expect(try Self.answers(b, collection: "kw") == after, "b saw a's replace and deletes at once")
        #expect(try Self.answers(a, collection: "kw") == after)
        second.stop()
        try second.start()
        #expect(try Self.answers(try second.client(), collection: "kw") == after, "a restarted proxy loads the same answer")
    }
}
