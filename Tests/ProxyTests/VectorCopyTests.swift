import Foundation
import ProxyCore
import StorageProxyClient
import StoragePorts
import Testing

/// Four collections (three metrics, the implicit `default`), 55 documents:
/// texts with quotes and emoji, nested metadata, embeddings with awkward
/// float32 values, documents without an embedding (waiting for an embedder),
/// and some removed. Returns what a user would ask of them.
func fillVectorsForCopy(_ proxy: ProxyProcess) throws {
    let c = try proxy.client()
    for (name, dimension, metric) in [("notes", 3, "cosine"), ("ranked", 4, "dot"), ("places", 2, "l2")] {
        _ = try c.result("vector.create_collection", ["name": .string(name), "dimension": .int(Int64(dimension)), "metric": .string(metric)])
    }
    // float32 values a decimal round trip could lose: the smallest subnormal, -0, the largest (cosine takes
    // any length; dot and l2 a norm up to 1e18), 0.1, π.
    func add(_ collection: String, _ count: Int, dimension: Int, cosine: Bool = true, embedded: (Int) -> Bool) throws {
        let awkward: [Double] = [1e-45, -0.0, cosine ? 3.4028234663852886e38 : 1e17, 0.1, 3.1415927]
        let ids = (0..<count).map { JSONValue.string("\(collection)-\($0)") }
        let texts = (0..<count).map { JSONValue.string("doc \($0) of \(collection): it's \"deployed\" 🙂 word\($0 % 5)") }
        let metadata = (0..<count).map { i -> JSONValue in
            guard i % 3 != 0 else { return .null }
            let team: JSONValue = i % 2 == 0 ? "red" : "blue"
            let nested: JSONValue = ["b": 1, "a": [true, nil]]
            return .object(["team": team, "n": .int(Int64(i)), "nested": nested])
        }
        let embeddings = (0..<count).map { i -> JSONValue in
            guard embedded(i) else { return .null }
            return .array((0..<dimension).map { k in .double(k == 0 ? Double(i + 1) : awkward[(i + k) % awkward.count] * (k % 2 == 0 ? 1 : -1)) })
        }
        _ = try c.result("vector.add_documents", ["collection": .string(collection), "ids": .array(ids), "documents": .array(texts),
                                                  "metadata": .array(metadata), "embeddings": .array(embeddings)])
    }
    try add("notes", 20, dimension: 3) { $0 % 7 != 3 }   // some wait for an embedder
    try add("ranked", 15, dimension: 4, cosine: false) { _ in true }
    try add("places", 12, dimension: 2, cosine: false) { $0 != 5 }
    try add("default", 11, dimension: 3) { _ in true }
    // Removals: 3 of notes: 55 documents stay.
    #expect(try c.result("vector.delete_documents", ["collection": "notes", "ids": ["notes-17", "notes-18", "notes-19"]]) == 3)
}

/// What a user sees of the vector store: every collection listed, and for
/// each a vector search, a filtered one and a keyword search.
func vectorAnswers(_ proxy: ProxyProcess) throws -> [JSONValue] {
    let c = try proxy.client()
    var answers = [try c.result("vector.list_collections")]
    for (name, query) in [("notes", [1.0, 0.5, 0.25]), ("ranked", [1.0, 0, 0, 1]), ("places", [3.0, 0.0]), ("default", [2.0, 1, 0])] {
        let embedding = JSONValue.array(query.map { .double($0) })
        answers.append(try c.result("vector.search", ["collection": .string(name), "embedding": embedding, "top_k": 50]))
        answers.append(try c.result("vector.search", ["collection": .string(name), "embedding": embedding, "top_k": 5, "filter": ["team": "red"]]))
        answers.append(try c.result("vector.search", ["collection": .string(name), "query": "word3 deployed", "top_k": 50]))
    }
    return answers
}

/// Each document's embedding as hex text, from either backend (ordered by collection and id).
func embeddingsHex(_ database: String) throws -> String {
    if database.hasPrefix("postgresql://") {
        return try TestPostgres.psql(database, """
            SELECT collection || '/' || id || '=' || coalesce(encode(embedding, 'hex'), 'null') || ',' || coalesce(embedded_by, '-')
            FROM vector_documents ORDER BY collection COLLATE "C", id COLLATE "C"
            """).out
    }
    let run = try runProgram("/usr/bin/python3", ["-c", """
        import sqlite3, sys
        for c, i, e, b in sqlite3.connect(sys.argv[1]).execute(
                "SELECT collection, id, embedding, embedded_by FROM vector_documents ORDER BY collection, id"):
            print(f"{c}/{i}={e.hex() if e is not None else 'null'},{b or '-'}")
        """, database])
    return run.out
}

/// Sets `embedded_by` of one document directly (as the embedder's pass would mark a refused text).
func markRefused(_ sqlite: String, collection: String, id: String) throws {
    let run = try runProgram("/usr/bin/python3", ["-c", """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1])
        db.execute("UPDATE vector_documents SET embedded_by = 'refused by test-model: 400' WHERE collection = ? AND id = ?", (sys.argv[2], sys.argv[3]))
        db.commit()
        """, sqlite, collection, id])
    #expect(run.status == 0, "\(run.err)")
}

@Suite("copy, export and checksum carry the vector store")
struct VectorCopyTests {
    @Test("every table of the schema is copied and checksummed, or named as bookkeeping with a reason (both backends)")
    func everyTableHasAPlace() throws {
        let dir = ProxyProcess.makeTempDir()
        let sqlite = "\(dir)/schema.db", postgres = try TestPostgres.database(named: dir)
        for db in [sqlite, postgres] { #expect(try runCLI(["migrate", "--database", db]).status == 0) }
        #expect(try runCLI(["copy", "--from", sqlite, "--to", "\(dir)/target.db"]).status == 0)  // a target has its marks table
        let lite = try runProgram("/usr/bin/python3", ["-c", """
            import sqlite3, sys
            for db in sys.argv[1:]:
                for (name,) in sqlite3.connect(db).execute(
                        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%'"):
                    print(name)
            """, sqlite, "\(dir)/target.db"])
        let pg = try TestPostgres.psql(postgres, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        let known = Set(StoredTable.allCases.map(\.rawValue)).union(StoredTable.bookkeeping.keys)
        for (backend, out) in [("SQLite", lite.out), ("PostgreSQL", pg.out)] {
            let tables = Set(out.split(separator: "\n").map(String.init))
            #expect(tables.subtracting(known).isEmpty,
                    "\(backend) tables with no place in copy/checksum (StoredTable) nor in StoredTable.bookkeeping: \(tables.subtracting(known).sorted())")
            #expect(tables.isSuperset(of: StoredTable.allCases.map(\.rawValue)), "\(backend): \(tables.sorted())")
        }
    }

    @Test("SQLite → PostgreSQL → SQLite: collections and documents, embeddings bit for bit, the same searches")
    func roundTrip() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillForCopy(source, logs: 60)
        try fillVectorsForCopy(source)
        let original = try vectorAnswers(source)
        source.stop()
        let a = "\(source.dir)/data.db"
        try markRefused(a, collection: "notes", id: "notes-3")
        let postgresDir = ProxyProcess.makeTempDir()
        let postgres = try TestPostgres.database(named: postgresDir)
        let dirB = ProxyProcess.makeTempDir(), b = "\(dirB)/data.db"

        // Batches of 7: document pages cross collections, and resume by (collection, id).
        let there = try runCLI(["copy", "--from", a, "--to", postgres, "--batch-size", "7"])
        #expect(there.status == 0, "\(there.out)\(there.err)")
        #expect(there.out.contains("copied 3 tasks, 60 logs, 2 metadata, 4 vector_collections, 55 vector_documents"), "\(there.out)")
        #expect(there.out.contains("verified: the target holds exactly the source's rows"), "\(there.out)")
        let back = try runCLI(["copy", "--from", postgres, "--to", b, "--batch-size", "7"])
        #expect(back.status == 0 && back.out.contains("verified: the target holds exactly"), "\(back.out)\(back.err)")

        let sums = try runCLI(["checksum", a, postgres, b])
        #expect(sums.status == 0, "\(sums.out)\(sums.err)")
        for table in ["vector_collections", "vector_documents"] {
            let line = sums.out.split(separator: "\n").first { $0.hasPrefix(table + " ") } ?? ""
            #expect(line.hasSuffix("same"), "\(sums.out)")
        }
        #expect(sums.out.contains(" 55 "), "\(sums.out)")

        let hex = try embeddingsHex(a)
        #expect(hex.split(separator: "\n").count == 55 && hex.contains("01000000") && hex.contains("ffff7f7f"), "the smallest subnormal and the largest float are there: \(hex)")
        #expect(try embeddingsHex(postgres) == hex, "bit for bit in PostgreSQL")
        #expect(try embeddingsHex(b) == hex, "bit for bit back in SQLite")
        #expect(hex.contains("notes/notes-3=null,refused by test-model: 400"), "the embedding state came along")

        // Proxies on both copies answer as the original did (fresh matrices: a new incarnation each).
        let onPostgres = try ProxyProcess(backend: .postgresql, dir: postgresDir)
        #expect(try vectorAnswers(onPostgres).first == original.first, "the same collections")
        let onB = try ProxyProcess(backend: .sqlite, dir: dirB)
        #expect(try vectorAnswers(onB) == original)
        let pgVector = try vectorAnswers(onPostgres)
        for i in stride(from: 1, to: original.count, by: 3) {  // vector searches and filtered ones; keyword scores differ by backend
            #expect(pgVector[i] == original[i] && pgVector[i + 1] == original[i + 1], "search \(i)")
            #expect(pgVector[i + 2].arrayValue?.compactMap { $0.objectValue?["id"] }.sorted { "\($0)" < "\($1)" }
                    == original[i + 2].arrayValue?.compactMap { $0.objectValue?["id"] }.sorted { "\($0)" < "\($1)" }, "keyword search \(i + 2)")
        }
    }

    @Test("a copy interrupted among the documents resumes after its last (collection, id): nothing twice, nothing skipped")
    func resumesAmongDocuments() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillVectorsForCopy(source)
        source.stop()
        let from = "\(source.dir)/data.db"
        let target = try TestPostgres.database(named: ProxyProcess.makeTempDir())
        #expect(try runCLI(["copy", "--from", from, "--to", target]).status == 0)
        // As a copy killed after 20 documents: the later ones gone, its mark in place.
        let cut = try TestPostgres.psql(target, """
            WITH kept AS (SELECT collection, id FROM vector_documents ORDER BY collection, id LIMIT 20),
                 last AS (SELECT collection, id FROM kept ORDER BY collection DESC, id DESC LIMIT 1),
                 gone AS (DELETE FROM vector_documents d USING last WHERE (d.collection, d.id) > (last.collection, last.id) RETURNING 1)
            INSERT INTO storage_proxy_copy_marks SELECT 'sqlite:\(from)', 'vector_documents', json_build_array(collection, id)::text, 20, 0
            FROM last RETURNING (SELECT count(*) FROM gone)
            """)
        #expect(cut.out.trimmed == "35", "\(cut.out)\(cut.err)")
        let resumed = try runCLI(["copy", "--from", from, "--to", target, "--batch-size", "4"])
        #expect(resumed.status == 0, "\(resumed.out)\(resumed.err)")
        #expect(resumed.out.contains("vector_documents after 20 rows"), "\(resumed.out)")
        #expect(resumed.out.contains("0 vector_collections, 35 vector_documents"), "\(resumed.out)")
        #expect(resumed.out.contains("verified: the target holds exactly the source's rows"), "\(resumed.out)")
        #expect(try embeddingsHex(target) == embeddingsHex(from))
    }

    @Test("checksum sees one bit of one embedding")
    func checksumSeesAnEmbeddingBit() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillVectorsForCopy(source)
        source.stop()
        let a = "\(source.dir)/data.db", b = "\(ProxyProcess.makeTempDir())/b.db"
        #expect(try runCLI(["copy", "--from", a, "--to", b]).status == 0)
        let flip = try runProgram("/usr/bin/python3", ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            e = bytearray(db.execute("SELECT embedding FROM vector_documents WHERE id = 'ranked-4'").fetchone()[0])
            e[5] ^= 1
            db.execute("UPDATE vector_documents SET embedding = ? WHERE id = 'ranked-4'", (bytes(e),))
            db.commit()
            """, b])
        #expect(flip.status == 0, "\(flip.err)")
        let run = try runCLI(["checksum", a, b])
        #expect(run.status == 1 && run.err.contains("differ in vector_documents"), "\(run.out)\(run.err)")
    }

    @Test("--merge into a served collection: its proxy finds the new documents at once; another dimension is refused by name")
    func mergeIntoServedCollection() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillVectorsForCopy(source)
        source.stop()
        let target = try ProxyProcess(backend: .postgresql)
        let c = try target.client()
        _ = try c.result("vector.create_collection", ["name": "ranked", "dimension": 4, "metric": "dot"])
        _ = try c.result("vector.add_documents", ["collection": "ranked", "ids": ["own"], "documents": ["theirs"], "embeddings": [[0, 0, 0, 1]]])
        let before = try c.result("vector.search", ["collection": "ranked", "embedding": [1, 0, 0, 0], "top_k": 100])
        #expect(before.arrayValue?.count == 1)  // the proxy's matrix is loaded
        let url = try TestPostgres.database(named: target.dir)

        let merged = try runCLI(["copy", "--from", "\(source.dir)/data.db", "--to", url, "--merge"])
        #expect(merged.status == 0 && merged.out.contains("verified: every source row is in the target"), "\(merged.out)\(merged.err)")
        let after = try c.result("vector.search", ["collection": "ranked", "embedding": [1, 0, 0, 0], "top_k": 100])
        #expect(after.arrayValue?.count == 16, "the merged documents are found by the running proxy: \(after)")

        let other = try ProxyProcess(backend: .sqlite)
        _ = try other.client().result("vector.create_collection", ["name": "ranked", "dimension": 2, "metric": "dot"])
        other.stop()
        let refused = try runCLI(["copy", "--from", "\(source.dir)/data.db", "--to", "\(other.dir)/data.db", "--merge"])
        #expect(refused.status == 1 && refused.err.contains("collection ranked has dimension 2 in the target; the source's documents have 4"),
                "\(refused.out)\(refused.err)")
    }

    @Test("export: dump.sql loads the vector store into PostgreSQL (same checksums, searchable); JSON lines hold it with base64 embeddings")
    func exportCarriesVectors() throws {
        let source = try ProxyProcess(backend: .sqlite)
        try fillVectorsForCopy(source)
        let original = try vectorAnswers(source)
        source.stop()
        let db = "\(source.dir)/data.db", dump = "\(source.dir)/dump.sql"
        let export = try runCLI(["export", "--database", db, "--output", dump, "--batch-size", "10"])
        #expect(export.status == 0 && export.err.contains("4 vector_collections, 55 vector_documents"), "\(export.err)")
        let targetDir = ProxyProcess.makeTempDir()
        let target = try TestPostgres.database(named: targetDir)
        let load = try runProgram(TestPostgres.psqlPath, ["-qX", "-d", target, "-f", dump])
        #expect(load.status == 0 && !load.err.contains("ERROR"), "\(load.err)")
        #expect(try runCLI(["checksum", db, target]).status == 0)
        #expect(try embeddingsHex(target) == embeddingsHex(db))
        let proxy = try ProxyProcess(backend: .postgresql, dir: targetDir)
        let answers = try vectorAnswers(proxy)
        #expect(answers[0] == original[0] && answers[1] == original[1])

        let lines = try runCLI(["export", "--database", db, "--format", "jsonl"]).out.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let documents = lines.filter { $0.objectValue?["table"] == "vector_documents" }.compactMap { $0.objectValue?["row"]?.objectValue }
        #expect(documents.count == 55)
        let doc = try #require(documents.first { $0["id"] == "ranked-0" })
        let bytes = try #require(doc["embedding"]?.stringValue.flatMap(Base64.decode))
        let floats = bytes.withUnsafeBytes { raw in (0..<4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        // ranked-0: [1, -0 × -1, 1e17, 0.1 × -1], as sent.
        #expect(floats.map(\.bitPattern) == [Float(1), Float(0), Float(1e17), Float(-0.1)].map(\.bitPattern), "\(floats)")
    }

    @Test("backup: the copy holds the vector store and serves the same searches")
    func backupCarriesVectors() throws {
        let proxy = try ProxyProcess()
        try fillVectorsForCopy(proxy)
        let original = try vectorAnswers(proxy)
        let copyDir = ProxyProcess.makeTempDir()
        let run = try runCLI(["backup", "--database", "\(proxy.dir)/data.db", "--to", "\(copyDir)/data.db"])
        #expect(run.status == 0 && run.out.contains("4 vector_collections, 55 vector_documents"), "\(run.out)\(run.err)")
        let copy = try ProxyProcess(backend: .sqlite, dir: copyDir)
        #expect(try vectorAnswers(copy) == original)
        #expect(try embeddingsHex("\(copyDir)/data.db") == embeddingsHex("\(proxy.dir)/data.db"))
    }
}

@Suite("vector removals are pruned")
struct VectorRemovalPruningTests {
    /// (rows in vector_removals, the collection's removals_floor).
    static func removalsState(_ backend: TestBackend, _ dir: String) throws -> [Int] {
        let sql = "SELECT (SELECT count(*) FROM vector_removals), (SELECT removals_floor FROM vector_collections WHERE name = 'c')"
        let out: String
        switch backend {
        case .sqlite:
            out = try runProgram("/usr/bin/python3", ["-c", "import sqlite3, sys; print('|'.join(map(str, sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone())))",
                                                      "\(dir)/data.db", sql]).out
        case .postgresql:
            out = try TestPostgres.psql(try TestPostgres.database(named: dir), sql).out
        }
        return out.trimmed.split(separator: "|").map { Int($0) ?? -1 }
    }

    @Test("kept for vector.removals_kept_versions versions; an index older than the floor is loaded whole, without the removed documents",
          arguments: TestBackend.allCases)
    func prunedBehindAFloor(backend: TestBackend) throws {
        let config = try writeConfig("vector:\n  removals_kept_versions: 10\n")
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", config])
        let c = try proxy.client()
        _ = try c.result("vector.create_collection", ["name": "c", "dimension": 2, "metric": "l2"])
        let ids = (0..<100).map { "d\($0)" }
        _ = try c.result("vector.add_documents", ["collection": "c", "ids": .array(ids.map { .string($0) }),
                                                  "documents": .array(ids.map { .string("text \($0)") }),
                                                  "embeddings": .array((0..<100).map { [.double(Double($0)), 0] })])
        func found() throws -> Set<String> {
            let hits = try c.result("vector.search", ["collection": "c", "embedding": [0, 0], "top_k": 1000]).arrayValue ?? []
            return Set(hits.compactMap { $0.objectValue?["id"]?.stringValue })
        }
        #expect(try found().count == 100)  // this proxy's matrix stands at the add's version
        for id in ids.prefix(50) {  // fifty removals, a version each
            #expect(try c.result("vector.delete_documents", ["collection": "c", "ids": [.string(id)]]) == 1)
        }
        let state = try Self.removalsState(backend, proxy.dir)
        #expect(state.count == 2 && state[0] <= 11 && state[1] >= 40, "removals kept and floor: \(state)")
        #expect(try found() == Set(ids.suffix(50)), "the matrix, older than the floor, was loaded whole")
        _ = try c.result("vector.add_documents", ["collection": "c", "ids": ["d0"], "documents": ["back"], "embeddings": [[0, 0]]])
        #expect(try found() == Set(ids.suffix(50) + ["d0"]))
    }
}
