import ProxyCore

/// The tables that hold what agents stored, in the order a copy fills them
/// (a log needs its task). `schema_migrations` is not data: each target runs
/// its own migrations.
public enum StoredTable: String, CaseIterable, Sendable {
    case tasks, logs, metadata

    /// The primary key column, by which rows are paged, copied and compared.
    public var keyColumn: String { self == .metadata ? "key" : "id" }
}

/// One row of a stored table, independent of the backend it came from.
public enum StoredRow: Equatable, Sendable {
    case task(TaskRecord)
    case log(LogEntry)
    case metadata(key: String, value: JSONValue)

    public var table: StoredTable {
        switch self {
        case .task: return .tasks
        case .log: return .logs
        case .metadata: return .metadata
        }
    }

    /// The primary key: rows are copied and compared by it.
    public var key: String {
        switch self {
        case .task(let t): return t.id
        case .log(let l): return l.id
        case .metadata(let key, _): return key
        }
    }

    /// Every column as JSON (JSON columns as JSON, times as RFC 3339 text):
    /// what `export --format jsonl` writes and what checksums are taken over.
    public var columns: JSONObject {
        switch self {
        case .task(let t):
            return ["id": .string(t.id), "agent_name": .string(t.agentName), "task_prompt": .string(t.taskPrompt),
                    "schedule_type": .string(t.scheduleType), "schedule_value": .string(t.scheduleValue),
                    "repeat": .bool(t.repeats), "repeat_interval": t.repeatInterval.map { .string($0) } ?? .null,
                    "enabled": .bool(t.enabled), "created_at": .string(t.createdAt.rfc3339),
                    "updated_at": .string(t.updatedAt.rfc3339), "last_run": Self.time(t.lastRun),
                    "next_run": Self.time(t.nextRun), "status": .string(t.status), "extra": .object(t.extra)]
        case .log(let l):
            return ["id": .string(l.id), "task_id": .string(l.taskID), "level": .string(l.level.rawValue),
                    "message": .string(l.message), "metadata": l.metadata.map { .object($0) } ?? .null,
                    "created_at": .string(l.createdAt.rfc3339)]
        case .metadata(let key, let value):
            return ["key": .string(key), "value": value]
        }
    }

    private static func time(_ t: Timestamp?) -> JSONValue { t.map { .string($0.rfc3339) } ?? .null }
}
