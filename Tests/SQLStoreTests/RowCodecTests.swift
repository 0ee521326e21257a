import ProxyCore
import SQLStore
import StoragePorts
import Testing

/// A result row as a driver hands it over: the text (or integer) of each column.
private struct Row: SQLRow {
    let columns: [String?]
    func text(_ i: Int) -> String? { columns[i] }
    func int(_ i: Int) -> Int64? { columns[i].flatMap { Int64($0) } }
}

@Suite("The row codec, shared by both backends")
struct RowCodecTests {
    @Test("a task reads back from SQLite's storage: 0/1 booleans, RFC 3339 text times, JSON text")
    func sqliteTask() {
        let row = Row(columns: ["t1", "agent", "prompt", "cron", "* * * * *", "1", nil, "0",
                                "2026-11-25T09:00:00.000000Z", "2026-11-25T10:00:00.500000Z", nil, "2026-11-26T00:00:00.000000Z",
                                "done", #"{"k":[1,2]}"#, "Europe/Berlin", "2", "5", "w1", "2026-11-26T00:01:00.000000Z",
                                "failed", #"{"ok":false}"#])
        let t = Statements.sqlite.task(row)
        #expect(t.timeZone == "Europe/Berlin" && t.attempts == 2 && t.maxAttempts == 5 && t.leaseOwner == "w1")
        #expect(t.leaseUntil?.rfc3339 == "2026-11-26T00:01:00.000000Z" && t.lastStatus == "failed" && t.lastResult == ["ok": false])
        #expect(t.id == "t1" && t.agentName == "agent" && t.repeats && !t.enabled && t.repeatInterval == nil)
        #expect(t.updatedAt.rfc3339 == "2026-11-25T10:00:00.500000Z" && t.lastRun == nil)
        #expect(t.nextRun?.rfc3339 == "2026-11-26T00:00:00.000000Z")
        #expect(t.extra == ["k": [1, 2]])
    }

    @Test("a task reads back from PostgreSQL's text format: t/f booleans, epoch microseconds")
    func postgresTask() {
        let row = Row(columns: ["t1", "agent", "prompt", "cron", "* * * * *", "f", "1h", "t",
                                "0", "1500000", "-500000", nil, "pending", nil, nil, "0", nil, nil, nil, nil, nil])
        let t = Statements.postgresql.task(row)
        #expect(t.timeZone == nil && t.attempts == 0 && t.maxAttempts == nil && t.leaseUntil == nil && t.lastResult == nil)
        #expect(!t.repeats && t.enabled && t.repeatInterval == "1h")
        #expect(t.updatedAt.rfc3339 == "1970-01-01T00:00:01.500000Z")
        #expect(t.lastRun?.rfc3339 == "1969-12-31T23:59:59.500000Z" && t.nextRun == nil)
        #expect(t.extra.isEmpty)
    }

    @Test("what a save writes, the codec reads back the same, in both dialects", arguments: [Statements.sqlite, .postgresql])
    func roundTrip(_ s: Statements) {
        let task = TaskRecord(id: "t9", agentName: "a", taskPrompt: "p", scheduleType: "interval", scheduleValue: "60",
                              repeats: true, enabled: true, createdAt: Timestamp(microseconds: 1_000_000),
                              updatedAt: Timestamp(microseconds: 2_000_000), nextRun: Timestamp(microseconds: 3_000_001),
                              status: "pending", timeZone: "Asia/Kolkata", attempts: 1, maxAttempts: 4, leaseOwner: "w",
                              leaseUntil: Timestamp(microseconds: 4_000_000), lastStatus: "completed", lastResult: [1, "two"],
                              extra: ["x": "y"])
        // The insert's values, in the select's column order, as the database would return them.
        let v = s.insertValues(task)
        func text(_ value: SQLValue) -> String? {
            switch value {
            case .null: return nil
            case .int(let n): return String(n)
            case .text(let t):
                if s.dialect == .postgresql, t == "true" || t == "false" { return t == "true" ? "t" : "f" }
                if s.dialect == .postgresql, let time = Timestamp(rfc3339: t), t.hasSuffix("Z") { return String(time.microseconds) }
                return t
            case .blob: return value.pgText
            }
        }
        let stored = [v[19], v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[20], v[7], v[8], v[9], v[10], v[11],
                      v[12], v[13], v[14], v[15], v[16], v[17], v[18]].map(text)
        #expect(s.task(Row(columns: stored)) == task)
    }

    @Test("a vector sent as a BYTEA parameter reads back from PostgreSQL's text form, bit for bit")
    func vectorThroughByteaText() {
        let v: [Float] = [1, -0.5, .pi, Float.leastNonzeroMagnitude, -Float.greatestFiniteMagnitude, 0]
        let text = SQLValue.blob(Float32Bytes.encode(v)).pgText
        #expect(text?.hasPrefix("\\x0000803f") == true, "little-endian float32, lowercase hex")
        #expect(Row(columns: [text]).float32s(0) == v)
        #expect(Row(columns: ["\\x0000803"]).float32s(0) == nil, "half a byte")
        #expect(Row(columns: ["\\x0000"]).float32s(0) == nil, "half a float")
        #expect(Row(columns: ["\\x0000zz3f"]).float32s(0) == nil)
        #expect(Row(columns: [nil]).float32s(0) == nil)
    }

    @Test("vector upserts come in four statement sizes only, covering every document once, in order")
    func upsertChunks() {
        for count in [0, 1, 9, 10, 999, 1000, 1234, 10_000] {
            let chunks = VectorStatements.upsertChunks(count)
            #expect(chunks.flatMap { Array($0) } == Array(0..<count), "\(count)")
            #expect(Set(chunks.map(\.count)).isSubset(of: [1000, 100, 10, 1]), "\(count)")
        }
        #expect(VectorStatements.upsertChunks(1234).map(\.count) == [1000, 100, 100, 10, 10, 10, 1, 1, 1, 1])
    }

    @Test("a metadata value that is not JSON (written by hand) reads as a string")
    func handWrittenMetadata() {
        #expect(Statements.sqlite.storedRow(Row(columns: ["k", "not json"]), .metadata) == .metadata(key: "k", value: "not json"))
        #expect(Statements.sqlite.storedRow(Row(columns: ["k", "[1]"]), .metadata) == .metadata(key: "k", value: [1]))
    }
}
