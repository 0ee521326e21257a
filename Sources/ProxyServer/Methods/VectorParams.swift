import ProxyConfig
import ProxyCore
import StoragePorts
import VectorStore

/// `vector.*` parameters, checked whole before anything is stored: every
/// failure is `-32602` naming the element (`embeddings[3][17]`).
enum VectorParams {
    static func documents(_ p: Params, limits: ProxyConfig.Vector) throws(ProxyError) -> [VectorDocument] {
        let texts = try array(p, "documents", limit: limits.maxDocumentsPerCall)
        let count = texts.count
        let metadata = try optionalArray(p, "metadata", count: count)
        let embeddings = try optionalArray(p, "embeddings", count: count)
        let ids = try optionalArray(p, "ids", count: count)
        var out: [VectorDocument] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            guard case .string(let text) = texts[i] else { throw ProxyError.invalidParams(field: "documents[\(i)]", reason: "must be a string") }
            var meta: JSONObject?
            switch metadata?[i] {
            case nil, .null?: meta = nil
            case .object(let o)?: meta = o
            case let other?: throw ProxyError.invalidParams(field: "metadata[\(i)]", reason: "must be an object or null, got \(other.typeName)")
            }
            var embedding: [Float]?
            if let e = embeddings?[i], e != .null {
                embedding = try vector(e, field: "embeddings[\(i)]", maxDimension: limits.maxDimension)
            }
            var id = Identifier.make()
            if let given = ids?[i] {
                guard case .string(let s) = given, Identifier.isValidClientID(s) else {
                    throw ProxyError.invalidParams(field: "ids[\(i)]", reason: "must be a string of 1 to 128 printable characters")
                }
                id = s
            }
            out.append(VectorDocument(id: id, text: text, metadata: meta, embedding: embedding))
        }
        return out
    }

    static func ids(_ p: Params, _ name: String, limit: Int) throws(ProxyError) -> [String] {
        var out: [String] = []
        for (i, v) in try array(p, name, limit: limit).enumerated() {
            guard case .string(let s) = v, Identifier.isValidClientID(s) else {
                throw ProxyError.invalidParams(field: "\(name)[\(i)]", reason: "must be a string of 1 to 128 printable characters")
            }
            out.append(s)
        }
        return out
    }

    static func search(_ p: Params, collection: String, limits: ProxyConfig.Vector) throws(ProxyError) -> VectorSearchRequest {
        let text = try p.optionalString("query")
        var embedding: [Float]?
        if let e = p.object["embedding"], e != .null { embedding = try vector(e, field: "embedding", maxDimension: limits.maxDimension) }
        var mode: VectorSearchRequest.Mode?
        if let name = try p.optionalString("mode") {
            guard let m = VectorSearchRequest.Mode(rawValue: name) else {
                throw ProxyError.invalidParams(field: "mode", reason: "must be one of keyword, vector, hybrid")
            }
            mode = m
        }
        if text == nil, mode != .vector {
            guard embedding != nil, mode == nil else {
                throw ProxyError.invalidParams(field: "query", reason: mode == nil ? "is required (or an embedding)" : "is required for a \(mode!.rawValue) search")
            }
        }
        // Whether an embedding is needed and missing is the store's to say: an embedder may make it from the text.
        return VectorSearchRequest(collection: collection, mode: mode, text: text,
                                   words: try text.map { t throws(ProxyError) in try VectorStore.words(in: t, max: limits.maxQueryWords) } ?? [],
                                   embedding: embedding, topK: try p.int("top_k", default: 5, in: 1...limits.maxTopK),
                                   filter: try filter(p, limits: limits), exact: try p.optionalBool("exact"),
                                   ef: try p.optionalInt("ef", in: 1...limits.maxEf))
    }

    /// A metadata filter (`MetadataFilter.parse`), within the configured bounds.
    static func filter(_ p: Params, limits: ProxyConfig.Vector) throws(ProxyError) -> MetadataFilter? {
        guard let given = try p.optionalObject("filter") else { return nil }
        return try MetadataFilter.parse(given, limits: .init(maxConditions: limits.maxFilterConditions, maxDepth: limits.maxFilterDepth,
                                                             maxValues: limits.maxFilterValues))
    }

    /// Finite numbers that fit a float32, at most `maxDimension` of them: a
    /// JSON array of numbers, or a string, the base64 of the components as
    /// little-endian float32 (`float32s(base64:)`).
    static func vector(_ value: JSONValue, field: String, maxDimension: Int) throws(ProxyError) -> [Float] {
        if case .string(let text) = value { return try float32s(base64: text, field: field, maxDimension: maxDimension) }
        guard case .array(let items) = value else {
            throw ProxyError.invalidParams(field: field, reason: "must be an array of numbers or a base64 string of float32s, got \(value.typeName)")
        }
        guard !items.isEmpty, items.count <= maxDimension else {
            throw ProxyError.invalidParams(field: field, reason: "must have 1 to \(maxDimension) components (vector.max_dimension)")
        }
        var out = [Float]()
        out.reserveCapacity(items.count)
        for (j, item) in items.enumerated() {
            guard let d = item.doubleValue else {
                throw ProxyError.invalidParams(field: "\(field)[\(j)]", reason: "must be a number, got \(item.typeName)")
            }
            guard d.isFinite, abs(d) <= Double(Float.greatestFiniteMagnitude) else {
                throw ProxyError.invalidParams(field: "\(field)[\(j)]", reason: "must be a finite number within float32's range")
            }
            out.append(Float(d))
        }
        return out
    }

    /// A vector sent as the bytes of a float32 array (little-endian, base64):
    /// a client that holds float32s anyway (numpy, Float32Array) sends a
    /// quarter of the text and nobody formats or parses 17-digit decimals —
    /// in Python that formatting alone took 0.4 ms of a 0.5 ms search call.
    static func float32s(base64 text: String, field: String, maxDimension: Int) throws(ProxyError) -> [Float] {
        // Too long to hold at most maxDimension floats: refused before anything is decoded.
        guard text.utf8.count <= (maxDimension * 4 + 2) / 3 * 4 else {
            throw ProxyError.invalidParams(field: field, reason: "must have 1 to \(maxDimension) components (vector.max_dimension)")
        }
        guard let bytes = Base64.decode(text) else {
            throw ProxyError.invalidParams(field: field, reason: "is a string but not base64 (RFC 4648, padded)")
        }
        guard bytes.count % 4 == 0 else {
            throw ProxyError.invalidParams(field: field, reason: "holds \(bytes.count) bytes: float32s are 4 bytes each")
        }
        guard !bytes.isEmpty, bytes.count / 4 <= maxDimension else {
            throw ProxyError.invalidParams(field: field, reason: "must have 1 to \(maxDimension) components (vector.max_dimension)")
        }
        var out = [Float]()
        out.reserveCapacity(bytes.count / 4)
        for j in 0..<bytes.count / 4 {
            let at = 4 * j
            let f = Float(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
            guard f.isFinite else { throw ProxyError.invalidParams(field: "\(field)[\(j)]", reason: "must be a finite number, got \(f)") }
            out.append(f)
        }
        return out
    }

    private static func array(_ p: Params, _ name: String, limit: Int) throws(ProxyError) -> [JSONValue] {
        guard case .array(let items)? = p.object[name] else {
            throw ProxyError.invalidParams(field: name, reason: "must be an array, got \(p.object[name]?.typeName ?? "nothing")")
        }
        guard !items.isEmpty, items.count <= limit else {
            throw ProxyError.invalidParams(field: name, reason: "must hold 1 to \(limit) items (vector.max_documents_per_call)")
        }
        return items
    }

    /// An array parallel to `documents`, or nil when absent.
    private static func optionalArray(_ p: Params, _ name: String, count: Int) throws(ProxyError) -> [JSONValue]? {
        guard let v = p.object[name], v != .null else { return nil }
        guard case .array(let items) = v else { throw ProxyError.invalidParams(field: name, reason: "must be an array, got \(v.typeName)") }
        guard items.count == count else {
            throw ProxyError.invalidParams(field: name, reason: "has \(items.count) items for \(count) documents")
        }
        return items
    }
}
