import ProxyCore

/// The tables that hold what agents stored, in the order a copy fills them
/// (a log needs its task, a document its collection). The raw value is the
/// table's name. The other tables are bookkeeping (`StoredTable.bookkeeping`);
/// a test holds the two lists to the schema, so a table added without a place
/// here fails it.
public enum StoredTable: String, CaseIterable, Sendable {
    case tasks, logs, metadata
    case collections = "vector_collections"
    case documents = "vector_documents"
    case checkpoints
    case checkpointBlobs = "checkpoint_blobs"
    case checkpointWrites = "checkpoint_writes"
    case storeItems = "store_items"
    case storeVectors = "store_vectors"

    /// The primary key's columns, by which rows are paged, copied and compared.
    public var keyColumns: [String] {
        switch self {
        case .tasks, .logs: return ["id"]
        case .metadata: return ["key"]
        case .collections: return ["name"]
        case .documents: return ["collection", "id"]
        case .checkpoints, .checkpointBlobs, .checkpointWrites, .storeItems, .storeVectors: return plainColumns!.prefix(keyCount).map(\.name)
        }
    }

    /// How a column of a table copied as it is (`StoredRow.plain`) is read and written.
    public enum ColumnKind: Sendable { case text, json, int, real, time, bytes }

    /// The columns of the tables copied column for column (LangGraph's
    /// checkpoints: nothing in them is a database's own), key first; nil for
    /// the tables with records of their own.
    public var plainColumns: [(name: String, kind: ColumnKind)]? {
        switch self {
        case .checkpoints:
            return [("thread_id", .text), ("checkpoint_ns", .text), ("checkpoint_id", .text), ("parent_checkpoint_id", .text),
                    ("checkpoint", .json), ("metadata", .json), ("run_id", .text), ("created_at", .time)]
        case .checkpointBlobs:
            return [("thread_id", .text), ("checkpoint_ns", .text), ("channel", .text), ("version", .text), ("type", .text), ("data", .text)]
        case .checkpointWrites:
            return [("thread_id", .text), ("checkpoint_ns", .text), ("checkpoint_id", .text), ("task_id", .text), ("idx", .int),
                    ("channel", .text), ("type", .text), ("data", .text), ("task_path", .text)]
        case .storeItems:
            return [("prefix", .text), ("key", .text), ("value", .json), ("created_at", .time), ("updated_at", .time),
                    ("expires_at", .int), ("ttl_minutes", .real)]
        case .storeVectors:
            return [("prefix", .text), ("key", .text), ("field", .text), ("embedding", .bytes)]
        default:
            return nil
        }
    }

    private var keyCount: Int {
        switch self {
        case .storeItems: return 2
        case .checkpoints, .storeVectors: return 3
        case .checkpointBlobs: return 4
        default: return 5
        }
    }

    /// The database's other tables, and why they are not copied: each
    /// database keeps its own.
    public static let bookkeeping: [String: String] = [
        "schema_migrations": "each database runs its own migrations",
        "event_listeners": "the proxies listening to this database, each a live lease",
        "vector_removals": "what this database's proxies need to catch up; a copy's target starts with none",
        "storage_proxy_copy_marks": "how far a copy into this database got (CopyMarkTable)",
    ]
}

/// A vector collection as it moves between databases: what its user made.
/// Its incarnation and version are each database's own: a copy makes them
/// anew, so proxies on the target load fresh matrices.
public struct StoredCollection: Equatable, Sendable {
    public var name: String
    public var dimension: Int?
    public var metric: String
    public var createdAt: Timestamp

    public init(name: String, dimension: Int?, metric: String, createdAt: Timestamp) {
        self.name = name; self.dimension = dimension; self.metric = metric; self.createdAt = createdAt
    }
}

/// A document as it moves: its embedding as the stored bytes (float32,
/// little-endian), so it is copied and compared bit for bit; `embeddedBy`
/// and a missing embedding keep its embedding state (made by the proxy,
/// refused, or still waiting for the embedder).
public struct StoredDocument: Equatable, Sendable {
    public var collection: String
    public var id: String
    public var text: String
    public var metadata: JSONObject?
    public var embedding: [UInt8]?
    public var embeddedBy: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(collection: String, id: String, text: String, metadata: JSONObject?, embedding: [UInt8]?, embeddedBy: String?,
                createdAt: Timestamp, updatedAt: Timestamp) {
        self.collection = collection; self.id = id; self.text = text; self.metadata = metadata; self.embedding = embedding
        self.embeddedBy = embeddedBy; self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// One row of a stored table, independent of the backend it came from.
public enum StoredRow: Equatable, Sendable {
    case task(TaskRecord)
    case log(LogEntry)
    case metadata(key: String, value: JSONValue)
    case collection(StoredCollection)
    case document(StoredDocument)
    /// A row of a table copied column for column (`StoredTable.plainColumns`), its values in that order.
    case plain(StoredTable, [JSONValue])

    public var table: StoredTable {
        switch self {
        case .plain(let table, _): return table
        case .task: return .tasks
        case .log: return .logs
        case .metadata: return .metadata
        case .collection: return .collections
        case .document: return .documents
        }
    }

    /// The primary key as one string: rows are copied and compared by it. A
    /// key of several columns is their JSON array (`StoredKey`).
    public var key: String {
        switch self {
        case .task(let t): return t.id
        case .log(let l): return l.id
        case .metadata(let key, _): return key
        case .collection(let c): return c.name
        case .document(let d): return StoredKey.join([d.collection, d.id])
        case .plain(let table, let values):
            return StoredKey.join(values.prefix(table.keyColumns.count).map { $0.stringValue ?? $0.intValue.map { String($0) } ?? "" })
        }
    }

    /// Every column as JSON (JSON columns as JSON, times as RFC 3339 text,
    /// bytes as base64): what `export --format jsonl` writes and what
    /// checksums are taken over.
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
        case .collection(let c):
            return ["name": .string(c.name), "dimension": c.dimension.map { .int(Int64($0)) } ?? .null,
                    "metric": .string(c.metric), "created_at": .string(c.createdAt.rfc3339)]
        case .document(let d):
            return ["collection": .string(d.collection), "id": .string(d.id), "document": .string(d.text),
                    "metadata": d.metadata.map { .object($0) } ?? .null,
                    "embedding": d.embedding.map { .string(Base64.encode($0)) } ?? .null,
                    "embedded_by": d.embeddedBy.map { .string($0) } ?? .null,
                    "created_at": .string(d.createdAt.rfc3339), "updated_at": .string(d.updatedAt.rfc3339)]
        case .plain(let table, let values):
            return JSONObject(zip(table.plainColumns ?? [], values).map { (key: $0.0.name, value: $0.1) })
        }
    }

    private static func time(_ t: Timestamp?) -> JSONValue { t.map { .string($0.rfc3339) } ?? .null }
}

/// A key of several columns as one string (copy marks hold one): their JSON array.
public enum StoredKey {
    public static func join(_ parts: [String]) -> String { JSONValue.array(parts.map { .string($0) }).jsonText }

    /// The parts of a joined key; nil when `key` is not one.
    public static func split(_ key: String, count: Int) -> [String]? {
        guard let parts = (try? JSONParser.parse(key))?.arrayValue?.compactMap(\.stringValue), parts.count == count else { return nil }
        return parts
    }
}
