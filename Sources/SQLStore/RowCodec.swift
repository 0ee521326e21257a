import ProxyCore
import StoragePorts

/// Rows into records, for every backend: the columns are those of
/// `Statements.taskColumns` and `logColumns`, in that order.
extension Statements {
    public func task(_ row: some SQLRow) -> TaskRecord {
        TaskRecord(
            id: row.text(0) ?? "", agentName: row.text(1) ?? "", taskPrompt: row.text(2) ?? "",
            scheduleType: row.text(3) ?? "", scheduleValue: row.text(4) ?? "", repeats: dialect.bool(row, 5),
            repeatInterval: row.text(6), enabled: dialect.bool(row, 7),
            createdAt: dialect.time(row, 8) ?? Timestamp(microseconds: 0), updatedAt: dialect.time(row, 9) ?? Timestamp(microseconds: 0),
            lastRun: dialect.time(row, 10), nextRun: dialect.time(row, 11), status: row.text(12) ?? "",
            timeZone: row.text(14), attempts: Int(row.int(15) ?? 0), maxAttempts: row.int(16).map { Int($0) },
            leaseOwner: row.text(17), leaseUntil: dialect.time(row, 18), lastStatus: row.text(19), lastResult: row.json(20),
            extra: row.json(13)?.objectValue ?? JSONObject())
    }

    public func log(_ row: some SQLRow) -> LogEntry {
        LogEntry(id: row.text(0) ?? "", taskID: row.text(1) ?? "", level: LogLevel(loose: row.text(2) ?? "") ?? .info,
                 message: row.text(3) ?? "", metadata: row.json(4)?.objectValue,
                 createdAt: dialect.time(row, 5) ?? Timestamp(microseconds: 0))
    }

    /// A row of `columns(table)`.
    public func storedRow(_ row: some SQLRow, _ table: StoredTable) -> StoredRow {
        if let plain = table.plainColumns {
            return .plain(table, plain.enumerated().map { i, c -> JSONValue in
                switch c.kind {
                case .text: return row.text(i).map { .string($0) } ?? .null
                case .json: return row.json(i) ?? .null
                case .int: return row.int(i).map { .int($0) } ?? .null
                case .real: return row.text(i).flatMap(Double.init).map { .double($0) } ?? .null
                case .time: return dialect.time(row, i).map { .string($0.rfc3339) } ?? .null
                case .bytes: return row.bytes(i).map { .string(Base64.encode($0)) } ?? .null
                }
            })
        }
        switch table {
        case .tasks: return .task(task(row))
        case .logs: return .log(log(row))
        case .metadata: return .metadata(key: row.text(0) ?? "", value: row.json(1) ?? .null)
        case .collections:
            return .collection(StoredCollection(name: row.text(0) ?? "", dimension: row.int(1).map { Int($0) }, metric: row.text(2) ?? "",
                                                createdAt: dialect.time(row, 3) ?? Timestamp(microseconds: 0)))
        case .documents:
            return .document(StoredDocument(collection: row.text(0) ?? "", id: row.text(1) ?? "", text: row.text(2) ?? "",
                                            metadata: row.json(3)?.objectValue, embedding: row.bytes(4), embeddedBy: row.text(5),
                                            createdAt: dialect.time(row, 6) ?? Timestamp(microseconds: 0),
                                            updatedAt: dialect.time(row, 7) ?? Timestamp(microseconds: 0)))
        case .checkpoints, .checkpointBlobs, .checkpointWrites, .storeItems, .storeVectors:
            preconditionFailure("read above, column for column")
        }
    }
}
