import ProxyCore
import StoragePorts

/// How a request orders against its neighbours on one connection: reads may
/// run side by side; a write waits for everything before it, and everything
/// after it waits for the write (read-your-writes, in order).
enum Ordering { case read, write }

/// One parameter of a method: validated before the handler runs, and
/// described in `rpc.discover` (and so `protocol/openrpc.json`). An integer's
/// range and default are written here once: the handler reads it with
/// `Params.int(name)`, and the schema publishes them.
struct ParamSpec {
    let name: String
    let schema: JSONValue
    let required: Bool
    let summary: String
    var range: ClosedRange<Int>? = nil
    var defaultInt: Int? = nil

    static func required(_ name: String, _ schema: JSONValue, _ summary: String) -> ParamSpec {
        ParamSpec(name: name, schema: schema, required: true, summary: summary)
    }
    static func optional(_ name: String, _ schema: JSONValue, _ summary: String) -> ParamSpec {
        ParamSpec(name: name, schema: schema, required: false, summary: summary)
    }
    /// An integer in `range`; `default` when absent (nil: required).
    static func integer(_ name: String, _ range: ClosedRange<Int>, default def: Int?, _ summary: String) -> ParamSpec {
        var schema: JSONObject = ["type": "integer", "minimum": .int(Int64(range.lowerBound)), "maximum": .int(Int64(range.upperBound))]
        if let def { schema["default"] = .int(Int64(def)) }
        return ParamSpec(name: name, schema: .object(schema), required: def == nil, summary: summary, range: range, defaultInt: def)
    }
}

/// One row of the method table: adding a method is adding a row, and the row
/// says everything about it: its name, what a limited scope needs to call it,
/// its parameters (checked before the handler, and published), its result,
/// how it orders against its neighbours, whether it may be sent again, and
/// what it runs (usually one `SQLStore.Operation`). A class: the dispatcher
/// looks one up per request and must not copy its arrays.
final class MethodSpec {
    let name: String
    /// What a limited scope (`server.tokens`, `server.unix_peers`) needs: `AccessGuard` reads it.
    let access: Access
    let summary: String
    private(set) var params: [ParamSpec]
    let result: JSONValue
    let ordering: Ordering
    /// A storage method: takes an optional transaction handle.
    let transactional: Bool
    /// Safe to send again when the connection was lost before its answer
    /// came: it changes nothing. Published as `x-retry-safe` in the OpenRPC
    /// document, from which the clients' lists are generated
    /// (`scripts/generate-client-methods`). Outside a transaction only.
    let retrySafe: Bool
    let run: (Call) throws -> Void
    /// Position in the table (per-method statistics).
    var index = 0

    /// Storage methods take an optional transaction handle.
    /// A read changes nothing, so it is retry-safe unless it says otherwise.
    init(_ name: String, _ access: Access, _ summary: String, params: [ParamSpec] = [], result: JSONValue, ordering: Ordering,
         transactional: Bool = false, retrySafe: Bool? = nil, run: @escaping (Call) throws -> Void) {
        self.name = name
        self.access = access
        self.summary = summary
        self.params = params
        if transactional {
            self.params.append(.optional("transaction", Schema.string, "Run inside this transaction (from begin_transaction)."))
        }
        self.result = result
        self.ordering = ordering
        self.transactional = transactional
        self.retrySafe = retrySafe ?? (ordering == .read)
        self.run = run
    }
}

/// JSON Schema fragments used by the table and `rpc.discover`.
enum Schema {
    static let string: JSONValue = ["type": "string"]
    static let boolean: JSONValue = ["type": "boolean"]
    static let integer: JSONValue = ["type": "integer"]
    static let number: JSONValue = ["type": "number"]
    static let object: JSONValue = ["type": "object"]
    static let any: JSONValue = [:]
    static let null: JSONValue = ["type": "null"]
    static let timestamp: JSONValue = ["type": "string", "format": "date-time"]
    static func nullable(_ s: JSONValue) -> JSONValue { ["oneOf": [s, null]] }
    static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }
    /// An embedding: numbers, or the base64 of little-endian float32s (`VectorParams.float32s`).
    static let vector: JSONValue = ["oneOf": [array(number), ["type": "string", "contentEncoding": "base64"]]]
    static let task: JSONValue = ["$ref": "#/components/schemas/Task"]
    static let log: JSONValue = ["$ref": "#/components/schemas/LogEntry"]
}

/// All methods by name.
struct MethodTable {
    private(set) var byName: [String: MethodSpec] = [:]
    private(set) var ordered: [MethodSpec] = []

    init(_ specs: [MethodSpec]) {
        for spec in specs {
            spec.index = ordered.count
            precondition(byName[spec.name] == nil, "method \(spec.name) defined twice")
            byName[spec.name] = spec
            ordered.append(spec)
        }
    }

    subscript(name: String) -> MethodSpec? { byName[name] }

    var names: [String] { ordered.map(\.name) }

    static let standard = MethodTable(StorageMethods.all + MetadataMethods.all + ClaimMethods.all + ScheduleMethods.all + EventMethods.all + VectorMethods.all + CheckpointMethods.all + StoreMethods.all + CacheMethods.all + ServerMethods.all)
}
