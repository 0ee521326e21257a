import ProxyCore
import SQLStore
import StoragePorts
import VectorSearch
import VectorStore

/// The seed's `VectorStoreAdapter` (`vector.*`), plus collections.
enum VectorMethods {
    static let collectionParam = ParamSpec.optional("collection", Schema.string, "The collection (default: \"default\", made on its first add).")
    static let hit: JSONValue = ["$ref": "#/components/schemas/VectorHit"]
    static let collectionSchema: JSONValue = ["$ref": "#/components/schemas/VectorCollection"]
    static let storedDocument: JSONValue = [
        "type": "object", "required": ["id", "document", "metadata", "embedding"],
        "properties": ["id": Schema.string, "document": Schema.string, "metadata": Schema.nullable(Schema.object),
                       "embedding": Schema.nullable(Schema.array(Schema.number))],
    ]

    static let all: [MethodSpec] = [
        MethodSpec("vector.create_collection", .write(.shared), "Make a collection. Returns it, with `created` false when it existed with the same settings (other settings: -32002).",
                   params: [.required("name", Schema.string, "1-128 printable characters."),
                            .required("dimension", Schema.integer, "Components per embedding (1 to vector.max_dimension)."),
                            .optional("metric", Schema.string, "cosine (default), dot or l2.")],
                   result: collectionSchema, ordering: .write, retrySafe: true) { call in
            let p = call.params
            let name = try collectionName(p, "name")
            let dimension = try p.int("dimension", default: 0, in: 1...call.services.vectorLimits.maxDimension)
            let metricName = try p.optionalString("metric") ?? VectorMetric.cosine.rawValue
            guard let metric = VectorMetric(rawValue: metricName) else {
                throw ProxyError.invalidParams(field: "metric", reason: "must be one of cosine, dot, l2")
            }
            let c = VectorCollection(name: name, dimension: dimension, metric: metric, incarnation: Identifier.make(), version: 0)
            call.services.vectors.createCollection(c) { r in
                call.reply(r.map { stored, created in
                    var o = json(stored).objectValue!
                    o["created"] = .bool(created)
                    return JSONValue.object(o)
                })
            }
        },
        MethodSpec("vector.list_collections", .read(.shared), "Every collection: name, dimension (null before its first embedding), metric, count.",
                   result: Schema.array(collectionSchema), ordering: .read) { call in
            call.services.vectors.listCollections { r in call.reply(r.map { JSONValue.array($0.map(json)) }) }
        },
        MethodSpec("vector.drop_collection", .admin(writes: true), "Delete a collection and its documents. true if it existed.",
                   params: [.required("name", Schema.string, "The collection.")],
                   result: Schema.boolean, ordering: .write, retrySafe: true) { call in
            call.services.vectors.dropCollection(name: try collectionName(call.params, "name")) { call.relay($0) }
        },
        MethodSpec("vector.add_documents", .write(.shared), "Store documents (an id already stored is replaced). Returns their ids, in order.",
                   params: [.required("documents", Schema.array(Schema.string), "The texts (1 to vector.max_documents_per_call)."),
                            .optional("metadata", Schema.array(Schema.nullable(Schema.object)), "One object (or null) per document."),
                            .optional("embeddings", Schema.array(Schema.nullable(Schema.vector)), "One vector (or null) per document."),
                            .optional("ids", Schema.array(Schema.string), "One id per document (default: made by the proxy)."),
                            collectionParam],
                   result: Schema.array(Schema.string), ordering: .write, transactional: true) { call in
            let documents = try VectorParams.documents(call.params, limits: call.services.vectorLimits)
            call.services.vectors.add(documents, collection: try collection(call.params), in: try call.transaction()) { r in
                call.reply(r.map { JSONValue.array($0.map { .string($0) }) })
            }
        },
        MethodSpec("vector.search", .read(.shared), "Documents ranked by keyword (`query`), by vector (`embedding`) or both fused (hybrid), best first.",
                   params: [.optional("query", Schema.string, "Text: keyword search (hybrid with an embedding)."),
                            .optional("embedding", Schema.vector, "A vector of the collection's dimension: exact nearest neighbours."),
                            .optional("mode", Schema.string, "keyword, vector or hybrid (default: from what is given)."),
                            .optional("top_k", Schema.integer, "1 to vector.max_top_k, default 5."),
                            .optional("filter", Schema.object, "Metadata conditions ($eq $ne $gt $gte $lt $lte $in $nin $exists, $and $or $not, dotted paths), applied before ranking."),
                            .optional("exact", Schema.boolean, "true: the exact scan; false: the HNSW graph (approximate); default: by size (vector.approximate_from_documents)."),
                            .optional("ef", Schema.integer, "Candidates an approximate search explores, 1 to vector.max_ef (default vector.hnsw_ef): more, better recall."),
                            collectionParam],
                   result: Schema.array(hit), ordering: .read) { call in
            let request = try VectorParams.search(call.params, collection: try collection(call.params), limits: call.services.vectorLimits)
            call.services.vectors.search(request) { r in call.reply(r.map { JSONValue.array($0.map(\.json)) }) }
        },
        MethodSpec("vector.get_documents", .read(.shared), "Documents by id, in the order asked: id, document, metadata, embedding; null for an id not stored.",
                   params: [.required("ids", Schema.array(Schema.string), "The ids (1 to vector.max_documents_per_call)."), collectionParam],
                   result: Schema.array(Schema.nullable(storedDocument)), ordering: .read, transactional: true) { call in
            let ids = try VectorParams.ids(call.params, "ids", limit: call.services.vectorLimits.maxDocumentsPerCall)
            try call.answer(VectorDocumentOperations.get(ids: ids, collection: try collection(call.params),
                                                         budget: AnswerBudget(limit: call.services.maxAnswerBytes)))
        },
        MethodSpec("vector.delete_documents", .write(.shared), "Delete documents by id. Returns how many existed.",
                   params: [.required("ids", Schema.array(Schema.string), "The ids (1 to vector.max_documents_per_call)."), collectionParam],
                   result: Schema.integer, ordering: .write, transactional: true) { call in
            let ids = try VectorParams.ids(call.params, "ids", limit: call.services.vectorLimits.maxDocumentsPerCall)
            call.services.vectors.delete(ids: ids, collection: try collection(call.params), in: try call.transaction()) { call.relay($0) }
        },
    ]

    static func json(_ c: VectorCollection) -> JSONValue {
        var o: JSONObject = ["name": .string(c.name), "dimension": c.dimension.map { .int(Int64($0)) } ?? .null,
                             "metric": .string(c.metric.rawValue)]
        if let count = c.count { o["count"] = .int(Int64(count)) }
        return .object(o)
    }

    static func collection(_ p: Params) throws(ProxyError) -> String {
        try p.optionalString("collection") == nil ? VectorCollection.defaultName : try collectionName(p, "collection")
    }

    static func collectionName(_ p: Params, _ field: String) throws(ProxyError) -> String {
        let name = try p.string(field)
        guard Identifier.isValidClientID(name) else { throw ProxyError.invalidParams(field: field, reason: "must be 1-128 printable characters") }
        return name
    }
}
