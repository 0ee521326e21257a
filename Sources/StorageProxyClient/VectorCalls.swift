import ProxyCore

/// A document for `vector.add_documents`.
public struct VectorDocumentInput: Sendable {
    public var id: String?
    public var text: String
    public var metadata: JSONObject?
    public var embedding: [Float]?

    public init(id: String? = nil, _ text: String, metadata: JSONObject? = nil, embedding: [Float]? = nil) {
        self.id = id; self.text = text; self.metadata = metadata; self.embedding = embedding
    }
}

/// One `vector.search` hit.
public struct VectorHit: Sendable, Equatable {
    public var id: String
    public var document: String
    public var metadata: JSONObject
    public var score: Double
    /// "keyword", "vector" or both.
    public var matched: [String]

    init(_ o: JSONObject) {
        id = o["id"]?.stringValue ?? ""
        document = o["document"]?.stringValue ?? ""
        metadata = o["metadata"]?.objectValue ?? [:]
        score = o["score"]?.doubleValue ?? 0
        matched = o["matched"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}

extension StorageCalls {
    /// Stores the documents (an id already stored is replaced); returns their ids, in order.
    @discardableResult
    public func addDocuments(_ documents: [VectorDocumentInput], collection: String? = nil) async throws -> [String] {
        var p: JSONObject = ["documents": .array(documents.map { .string($0.text) }),
                             "metadata": .array(documents.map { $0.metadata.map { .object($0) } ?? .null })]
        if documents.contains(where: { $0.id != nil }) {
            p["ids"] = .array(documents.map { .string($0.id ?? Identifier.make()) })
        }
        if documents.contains(where: { $0.embedding != nil }) {
            p["embeddings"] = .array(documents.map { d in d.embedding.map { .array($0.map { .double(Double($0)) }) } ?? .null })
        }
        if let collection { p["collection"] = .string(collection) }
        return try await storageCall("vector.add_documents", p).arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// How many of the ids were stored.
    @discardableResult
    public func deleteDocuments(_ ids: [String], collection: String? = nil) async throws -> Int {
        var p: JSONObject = ["ids": .array(ids.map { .string($0) })]
        if let collection { p["collection"] = .string(collection) }
        return Int(try await storageCall("vector.delete_documents", p).intValue ?? 0)
    }
}

extension ProxyClient {
    /// Best first: by keyword (`query`), by exact vector similarity (`embedding`), or both fused.
    /// `filter`: `[key: value]` or `[key: ["$in": [values]]]` on top-level metadata.
    public func search(_ query: String? = nil, embedding: [Float]? = nil, topK: Int = 5, filter: JSONObject? = nil,
                       mode: String? = nil, collection: String? = nil) async throws -> [VectorHit] {
        var p: JSONObject = ["top_k": .int(Int64(topK))]
        if let query { p["query"] = .string(query) }
        if let embedding { p["embedding"] = .array(embedding.map { .double(Double($0)) }) }
        if let filter { p["filter"] = .object(filter) }
        if let mode { p["mode"] = .string(mode) }
        if let collection { p["collection"] = .string(collection) }
        return try await call("vector.search", p).arrayValue?.compactMap(\.objectValue).map(VectorHit.init) ?? []
    }

    /// `metric`: cosine, dot or l2. Returns whether it was made (false: it existed with these settings).
    @discardableResult
    public func createCollection(_ name: String, dimension: Int, metric: String = "cosine") async throws -> Bool {
        try await call("vector.create_collection", ["name": .string(name), "dimension": .int(Int64(dimension)), "metric": .string(metric)])
            .objectValue?["created"]?.boolValue ?? false
    }

    public func listCollections() async throws -> [JSONObject] {
        try await call("vector.list_collections").arrayValue?.compactMap(\.objectValue) ?? []
    }

    @discardableResult
    public func dropCollection(_ name: String) async throws -> Bool {
        try await call("vector.drop_collection", ["name": .string(name)]).boolValue ?? false
    }
}
