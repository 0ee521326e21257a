import ProxyCore
import SQLStore
import StoragePorts
import Testing

/// The shared SQL, checked as text: what each backend's driver relies on.
/// The same statements then run against real SQLite and PostgreSQL in
/// Tests/ProxyTests (the behaviour suites, on every backend).
@Suite("SQL statements, written once for both dialects")
struct StatementsTests {
    static let both: [Statements] = [.sqlite, .postgresql]

    /// The `$n` of a statement in the order they first appear.
    static func parameterOrder(_ sql: String) -> [Int] {
        var seen: [Int] = []
        var chars = sql.utf8[...]
        while let dollar = chars.firstIndex(of: UInt8(ascii: "$")) {
            chars = chars[chars.index(after: dollar)...]
            let digits = chars.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if let n = Int(String(decoding: digits, as: UTF8.self)), !seen.contains(n) { seen.append(n) }
            chars = chars[digits.endIndex...]
        }
        return seen
    }

    static func statements(_ s: Statements) -> [String] {
        let hour = Timestamp(microseconds: 3_600_000_000)
        var all = [s.selectTask, s.selectTaskForUpdate, s.insertTask, s.updateTask, s.deleteTask,
                   s.updateTaskStatus, s.insertLog, s.deleteOldLogs, s.saveMetadata, s.getMetadata]
        all += [TaskQuery(), TaskQuery(agentName: "a"), TaskQuery(status: "done"), TaskQuery(agentName: "a", status: "s", budget: AnswerBudget(limit: 9))]
            .map { s.listTasks($0).sql }
        all += [LogQuery(), LogQuery(taskID: "t", level: .error, startTime: hour, endTime: hour)].map { s.queryLogs($0).sql }
        for table in StoredTable.allCases {
            all += [s.keyPage(table, afterKey: false), s.keyPage(table, afterKey: true), s.rowsWithKeys(table)]
        }
        all += [s.bumpCollections, s.setCollectionDimension, s.insertIfAbsent([document, document][...], into: .documents).sql,
                s.insertIfAbsent([.collection(StoredCollection(name: "c", dimension: nil, metric: "l2", createdAt: Timestamp(microseconds: 0)))][...],
                                 into: .collections).sql]
        // Every statement of the vector store (its stored properties).
        let vectors: VectorStatements = s.dialect == .sqlite ? .sqlite : .postgresql
        all += Mirror(reflecting: vectors).children.compactMap { $0.value as? String }
        return all
    }

    static let document = StoredRow.document(StoredDocument(collection: "c", id: "d", text: "t", metadata: nil, embedding: [0, 0, 128, 63],
                                                            embeddedBy: nil, createdAt: Timestamp(microseconds: 0), updatedAt: Timestamp(microseconds: 0)))

    @Test("every statement numbers its parameters in order of appearance (SQLite binds $n by appearance)",
          arguments: both)
    func parametersInOrder(_ s: Statements) {
        #expect(Mirror(reflecting: VectorStatements.sqlite).children.compactMap { $0.value as? String }.count >= 15, "the vector statements are seen")
        for sql in Self.statements(s) {
            let order = Self.parameterOrder(sql)
            #expect(order.isEmpty || order == Array(1...order.count), "\(sql)")
        }
    }

    @Test("each page statement gets exactly as many values as it has parameters", arguments: both)
    func valuesMatchParameters(_ s: Statements) {
        let hour = Timestamp(microseconds: 3_600_000_000)
        let pages = [TaskQuery(), TaskQuery(agentName: "a", status: "s", limit: 5, offset: 10)].map { s.listTasks($0) }
            + [LogQuery(), LogQuery(taskID: "t", level: .warning, startTime: hour, endTime: hour, limit: 3)].map { s.queryLogs($0) }
        for page in pages {
            #expect(Self.parameterOrder(page.sql).count == page.values.count, "\(page.sql)")
        }
        let task = Self.task
        #expect(Self.parameterOrder(s.insertTask).count == s.insertValues(task).count)
        #expect(Self.parameterOrder(s.updateTask).count == s.updateValues(task).count)
        #expect(Self.parameterOrder(s.insertLog).count == s.values(Self.log).count)
    }

    @Test("a document's key of two columns pages and selects by row value, its values from the joined key")
    func compositeKeys() throws {
        let s = Statements.postgresql
        #expect(s.keyPage(.documents, afterKey: true).hasSuffix("WHERE (collection, id) > ($1, $2) ORDER BY collection, id LIMIT $3"))
        #expect(try s.keyValues(.documents, after: Self.document.key) == [.text("c"), .text("d")])
        #expect(s.keysValue(.documents, [Self.document.key]) == .text(#"[["c","d"]]"#))
        #expect(throws: ProxyError.self) { try s.keyValues(.documents, after: "not a key") }
        // A document takes its collection's version in the target: computed there, not carried.
        #expect(s.insertIfAbsent([Self.document][...], into: .documents).sql
                .contains("(SELECT version FROM vector_collections WHERE name = $1::text)"))
    }

    @Test("PostgreSQL cuts pages at the answer budget itself; SQLite's driver counts as it reads")
    func budgetOnlyInPostgreSQL() {
        let q = TaskQuery(budget: AnswerBudget(limit: 4096))
        let pg = Statements.postgresql.listTasks(q)
        #expect(pg.values.last == .int(4096))
        #expect(pg.sql.contains("bytes_through"))
        let lite = Statements.sqlite.listTasks(q)
        #expect(lite.values == [.int(100), .int(0)])
        #expect(!lite.sql.contains("bytes_through"))
    }

    @Test("a multi-row insert numbers every row's parameters, with PostgreSQL's casts only")
    func multiRowInsert() {
        let rows: [StoredRow] = [.metadata(key: "a", value: 1), .metadata(key: "b", value: ["x": true])]
        let pg = Statements.postgresql.insertIfAbsent(rows[...], into: .metadata)
        #expect(pg.sql == "INSERT INTO metadata (key, value) VALUES ($1::text, $2::jsonb), ($3::text, $4::jsonb) ON CONFLICT DO NOTHING")
        #expect(pg.values == [.text("a"), .text("1"), .text("b"), .text("{\"x\":true}")])
        let lite = Statements.sqlite.insertIfAbsent(rows[...], into: .metadata)
        #expect(lite.sql == "INSERT INTO metadata (key, value) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING")
        #expect(lite.values == pg.values)
    }

    @Test("booleans and times are encoded as each dialect stores them")
    func encodings() {
        let lite = Statements.sqlite.insertValues(Self.task), pg = Statements.postgresql.insertValues(Self.task)
        #expect(lite[4] == .int(1) && lite[6] == .int(0))  // repeat, enabled
        #expect(pg[4] == .text("true") && pg[6] == .text("false"))
        #expect(lite[7] == .text("1970-01-01T01:00:00.000000Z") && pg[7] == lite[7])  // updated_at
        #expect(lite[8] == .null)  // last_run
    }

    static let task = TaskRecord(
        id: "t1", agentName: "agent", taskPrompt: "p", scheduleType: "cron", scheduleValue: "* * * * *", repeats: true,
        repeatInterval: nil, enabled: false, createdAt: Timestamp(microseconds: 0), updatedAt: Timestamp(microseconds: 3_600_000_000),
        lastRun: nil, nextRun: nil, status: "pending", extra: ["k": "v"])
    static let log = LogEntry(id: "l1", taskID: "t1", level: .info, message: "m", metadata: nil, createdAt: Timestamp(microseconds: 0))
}
