import ProxyCore

/// The OpenRPC description of the method table (`rpc.discover`, and the
/// committed `protocol/openrpc.json`, which a test keeps equal to it).
enum OpenRPC {
    static let version = "1.0.0"

    static func document(for table: MethodTable) -> JSONValue {
        let methods: [JSONValue] = table.ordered.map { spec in
            [
                "name": .string(spec.name),
                "summary": .string(spec.summary),
                "paramStructure": "by-name",
                "params": .array(spec.params.map { p in
                    ["name": .string(p.name), "required": .bool(p.required), "summary": .string(p.summary), "schema": p.schema]
                }),
                "result": ["name": "result", "schema": spec.result],
                // Safe to send again after a lost connection (see MethodSpec.retrySafe).
                "x-retry-safe": .bool(spec.retrySafe),
            ]
        }
        let errors: [JSONValue] = ProxyError.allCodes.map { ["code": .int(Int64($0.code)), "message": .string($0.title)] }
        return [
            "openrpc": "1.3.2",
            "info": ["title": "storage-proxy", "version": .string(version),
                     "description": "Line-delimited JSON-RPC 2.0 over a Unix socket or TCP. See protocol/PROTOCOL.md."],
            "methods": .array(methods),
            "components": [
                "schemas": ["Task": taskSchema, "LogEntry": logSchema, "VectorHit": vectorHitSchema,
                            "VectorCollection": vectorCollectionSchema, "CheckpointTuple": checkpointTupleSchema,
                            "StoreItem": storeItemSchema],
                "errors": .array(errors),
            ],
        ]
    }

    private static let taskSchema: JSONValue = [
        "type": "object",
        "required": ["agent_name", "task_prompt", "schedule_type", "schedule_value"],
        "additionalProperties": true,
        "properties": [
            "id": Schema.string, "agent_name": Schema.string, "task_prompt": Schema.string,
            "schedule_type": Schema.string, "schedule_value": Schema.string, "repeat": Schema.boolean,
            "repeat_interval": Schema.nullable(Schema.string), "enabled": Schema.boolean,
            "created_at": Schema.timestamp, "updated_at": Schema.timestamp,
            "last_run": Schema.nullable(Schema.timestamp), "next_run": Schema.nullable(Schema.timestamp),
            "status": Schema.string,
            "time_zone": Schema.nullable(Schema.string), "attempts": Schema.integer, "max_attempts": Schema.nullable(Schema.integer),
            "lease_owner": Schema.nullable(Schema.string), "lease_until": Schema.nullable(Schema.timestamp),
            "last_status": Schema.nullable(Schema.string), "last_result": Schema.any,
        ],
    ]

    private static let logSchema: JSONValue = [
        "type": "object",
        "properties": [
            "id": Schema.string, "task_id": Schema.string,
            "level": ["enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]],
            "message": Schema.string, "metadata": Schema.nullable(Schema.object), "created_at": Schema.timestamp,
        ],
    ]

    private static let vectorHitSchema: JSONValue = [
        "type": "object",
        "required": ["id", "document", "metadata", "score", "matched"],
        "properties": [
            "id": Schema.string, "document": Schema.string, "metadata": Schema.object, "score": Schema.number,
            "matched": Schema.array(["enum": ["keyword", "vector"]]),
            "vector_score": Schema.number, "keyword_score": Schema.number,
        ],
    ]

    private static let vectorCollectionSchema: JSONValue = [
        "type": "object",
        "required": ["name", "dimension", "metric"],
        "properties": [
            "name": Schema.string, "dimension": Schema.nullable(Schema.integer), "metric": ["enum": ["cosine", "dot", "l2"]],
            "count": Schema.integer, "created": Schema.boolean,
        ],
    ]

    private static let base64: JSONValue = ["type": "string", "contentEncoding": "base64"]

    private static let checkpointTupleSchema: JSONValue = [
        "type": "object",
        "required": ["thread_id", "checkpoint_ns", "checkpoint_id", "parent_checkpoint_id", "checkpoint", "metadata", "channel_values", "pending_writes"],
        "properties": [
            "thread_id": Schema.string, "checkpoint_ns": Schema.string, "checkpoint_id": Schema.string,
            "parent_checkpoint_id": Schema.nullable(Schema.string), "checkpoint": Schema.object, "metadata": Schema.object,
            "channel_values": ["type": "object", "additionalProperties": [
                "type": "object", "required": ["type", "data"], "properties": ["type": Schema.string, "data": base64]]],
            "pending_writes": Schema.array([
                "type": "object", "required": ["task_id", "channel", "type", "data", "task_path", "idx"],
                "properties": ["task_id": Schema.string, "channel": Schema.string, "type": Schema.string, "data": base64,
                               "task_path": Schema.string, "idx": Schema.integer]]),
        ],
    ]

    private static let storeItemSchema: JSONValue = [
        "type": "object",
        "required": ["namespace", "key", "value", "created_at", "updated_at"],
        "properties": [
            "namespace": Schema.array(Schema.string), "key": Schema.string, "value": Schema.object,
            "created_at": Schema.timestamp, "updated_at": Schema.timestamp, "score": Schema.number,
        ],
    ]
}
