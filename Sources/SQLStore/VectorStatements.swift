import ProxyCore
import StoragePorts
import VectorSearch

/// The vector store's SQL, written once for both dialects (tables in
/// `Schema.vectorStore`). A list of ids travels as one JSON-array parameter.
public final class VectorStatements: Sendable {
    public let dialect: SQLDialect
    public static let sqlite = VectorStatements(.sqlite)
    public static let postgresql = VectorStatements(.postgresql)
    public static subscript(_ dialect: SQLDialect) -> VectorStatements { dialect == .sqlite ? sqlite : postgresql }

    /// The columns `collection(_:)` decodes.
    static let collectionColumns = "name, dimension, metric, incarnation, version, removals_floor"
    public let selectCollection = "SELECT \(collectionColumns) FROM vector_collections WHERE name = $1"
    public let listCollections = """
        SELECT c.name, c.dimension, c.metric, c.incarnation, c.version, c.removals_floor, \
        (SELECT count(*) FROM vector_documents d WHERE d.collection = c.name) FROM vector_collections c ORDER BY c.name
        """
    /// $1 name, $2 dimension, $3 metric, $4 incarnation, $5 now. Leaves an existing one alone.
    public let insertCollection: String
    public let dropCollection = "DELETE FROM vector_collections WHERE name = $1"
    /// $1 the dimension to set if it has none yet, $2 name. Locks the
    /// collection's row (PostgreSQL) until the write commits: every write
    /// takes it first, so versions commit in order and writers never deadlock.
    public let bumpVersion: String
    /// $1 collection, $2 JSON array of ids.
    public let deleteDocuments: String
    /// $1 collection, $2 version, $3 JSON array of ids.
    public let recordRemovals: String
    /// $1 collection, $2 JSON array of ids: a written id is no longer removed.
    public let clearRemovals: String
    /// $1 the new floor (`VectorCollection.prunedRemovalsFloor`), $2 collection:
    /// run in the removal's transaction, after `bumpVersion` locked the row.
    public let raiseRemovalsFloor = "UPDATE vector_collections SET removals_floor = $1 WHERE name = $2 AND removals_floor < $1"
    /// $1 collection, $2 the floor just raised: what no proxy will ask for again.
    public let pruneRemovals = "DELETE FROM vector_removals WHERE collection = $1 AND version <= $2"
    /// $1 collection, $2 version.
    public let removalsAfter = "SELECT id FROM vector_removals WHERE collection = $1 AND version > $2"
    /// $1 collection, $2 version, then the page: $3 and $4 the (version, id)
    /// it starts after, $5 its size. Columns: id, metadata, embedding, version, document.
    public let documentsAfter: String
    /// $1 collection, $2 JSON array of ids: id, document, metadata.
    public let documentsWithIDs: String
    /// $1 limit: documents waiting for an embedder (collection, id, document).
    public let unembedded = "SELECT collection, id, document FROM vector_documents WHERE embedding IS NULL AND embedded_by IS NULL "
        + "ORDER BY collection, id LIMIT $1"
    /// $1 embedding, $2 embedded_by, $3 version, $4 collection, $5 id, $6 the text it was made from.
    public let setEmbedding: String

    init(_ d: SQLDialect) {
        dialect = d
        let ids = { (n: Int) in d == .sqlite ? "SELECT value FROM json_each($\(n))" : "SELECT jsonb_array_elements_text($\(n)::jsonb)" }
        insertCollection = """
            INSERT INTO vector_collections (name, dimension, metric, incarnation, version, created_at) \
            VALUES ($1, \(d.parameter(2, as: "integer")), $3, $4, 0, \(d.parameter(5, as: d.timeType))) ON CONFLICT (name) DO NOTHING
            """
        bumpVersion = """
            UPDATE vector_collections SET version = version + 1, dimension = COALESCE(dimension, \(d.parameter(1, as: "integer"))) \
            WHERE name = $2 RETURNING \(Self.collectionColumns)
            """
        deleteDocuments = "DELETE FROM vector_documents WHERE collection = $1 AND id IN (\(ids(2))) RETURNING id"
        let rows = d == .sqlite ? "json_each($3)" : "jsonb_array_elements_text($3::jsonb) AS value"
        recordRemovals = """
            INSERT INTO vector_removals (collection, id, version) SELECT $1, value, \(d.parameter(2, as: "bigint")) FROM \(rows) WHERE true \
            ON CONFLICT (collection, id) DO UPDATE SET version = excluded.version
            """
        clearRemovals = "DELETE FROM vector_removals WHERE collection = $1 AND id IN (\(ids(2)))"
        documentsAfter = """
            SELECT id, \(d.readJSON("metadata")), embedding, version, document FROM vector_documents WHERE collection = $1 AND version > $2 \
            AND (version > $3 OR (version = $3 AND id > $4)) ORDER BY version, id LIMIT $5
            """
        documentsWithIDs = "SELECT id, document, \(d.readJSON("metadata")) FROM vector_documents WHERE collection = $1 AND id IN (\(ids(2)))"
        setEmbedding = "UPDATE vector_documents SET embedding = \(d.parameter(1, as: d == .sqlite ? "blob" : "bytea")), embedded_by = $2, "
            + "version = \(d.parameter(3, as: "bigint")) WHERE collection = $4 AND id = $5 AND embedding IS NULL AND document = $6"
    }

    // MARK: - Rows

    /// A row of `collectionColumns`.
    public func collection(_ row: some SQLRow) -> VectorCollection {
        VectorCollection(name: row.text(0) ?? "", dimension: row.int(1).map { Int($0) },
                         metric: row.text(2).flatMap(VectorMetric.init(rawValue:)) ?? .cosine,
                         incarnation: row.text(3) ?? "", version: row.int(4) ?? 0, removalsFloor: row.int(5) ?? 0)
    }

    /// A row of `listCollections`: the collection, then its count.
    public func collectionWithCount(_ row: some SQLRow) -> VectorCollection {
        var c = collection(row)
        c.count = row.int(6).map { Int($0) }
        return c
    }

    /// `bumpVersion`'s parameters: the dimension set by the first embedding
    /// among `documents`, for a collection that has none yet.
    public func bumpValues(_ collection: String, for documents: [VectorDocument]) -> [SQLValue] {
        [documents.lazy.compactMap(\.embedding).first.map { .int(Int64($0.count)) } ?? .null, .text(collection)]
    }

    public func insertCollectionValues(_ c: VectorCollection, now: Timestamp) -> [SQLValue] {
        [.text(c.name), c.dimension.map { .int(Int64($0)) } ?? .null, .text(c.metric.rawValue), .text(c.incarnation), dialect.value(now)]
    }

    /// The implicit collection `add_documents` makes when none is named.
    public static func defaultCollection() -> VectorCollection {
        VectorCollection(name: VectorCollection.defaultName, dimension: nil, metric: .cosine, incarnation: Identifier.make(), version: 0)
    }

    /// A row of `documentsAfter`.
    public func writtenDocument(_ row: some SQLRow) -> VectorDocument {
        VectorDocument(id: row.text(0) ?? "", text: row.text(4) ?? "", metadata: row.json(1)?.objectValue, embedding: row.float32s(2))
    }

    /// `documentsAfter`'s parameters.
    public func pageValues(collection: String, after version: Int64?, from cursor: VectorChanges.Cursor?, limit: Int) -> [SQLValue] {
        let start = cursor ?? VectorChanges.Cursor(version: version ?? -1, id: "")
        return [.text(collection), .int(version ?? -1), .int(start.version), .text(start.id), .int(Int64(limit))]
    }

    /// Where the page after rows read with `documentsAfter` starts (nil: it was not full).
    public static func nextCursor(_ last: (id: String, version: Int64)?, count: Int, limit: Int) -> VectorChanges.Cursor? {
        guard count == limit, let last else { return nil }
        return VectorChanges.Cursor(version: last.version, id: last.id)
    }

    /// A row of `documentsWithIDs`.
    public func document(_ row: some SQLRow) -> VectorDocument {
        VectorDocument(id: row.text(0) ?? "", text: row.text(1) ?? "", metadata: row.json(2)?.objectValue, embedding: nil)
    }

    public func setEmbeddingValues(_ doc: VectorDocument, collection: String, version: Int64) -> [SQLValue] {
        [doc.embedding.map { .blob(Float32Bytes.encode($0)) } ?? .null, dialect.value(doc.embeddedBy), .int(version),
         .text(collection), .text(doc.id), .text(doc.text)]
    }

    public static func idList(_ ids: [String]) -> SQLValue { .text(JSONValue.array(ids.map { .string($0) }).jsonText) }

    // MARK: - Writing documents

    /// Rows per upsert statement: 1,000, 100, 10 or 1 (5 parameters a row,
    /// under both databases' limits). Both backends keep each statement
    /// prepared, per text: a statement for every row count a client might
    /// send would grow those caches without bound, these four never do.
    static let upsertSizes = [1000, 100, 10, 1]

    /// The documents cut into runs of `upsertSizes` rows, largest first.
    public static func upsertChunks(_ count: Int) -> [Range<Int>] {
        var chunks: [Range<Int>] = [], start = 0
        for size in upsertSizes {
            while count - start >= size {
                chunks.append(start..<start + size)
                start += size
            }
        }
        return chunks
    }

    /// Inserts or replaces `count` documents: $1 collection, $2 version, $3
    /// now, then id, document, metadata, embedding, embedded_by per row.
    public func upsertDocuments(count: Int) -> String {
        let d = dialect
        let tuples = (0..<count).map { i in
            let p = 4 + i * 5
            // SQLite numbers `$n` by first appearance: $1 to $3 come first.
            return "($1, \(d.parameter(2, as: "bigint")), \(d.parameter(3, as: d.timeType)), \(d.parameter(3, as: d.timeType)), $\(p), $\(p + 1), "
                + "\(d.parameter(p + 2, as: d.jsonType)), \(d.parameter(p + 3, as: d == .sqlite ? "blob" : "bytea")), $\(p + 4))"
        }
        return "INSERT INTO vector_documents (collection, version, created_at, updated_at, id, document, metadata, embedding, embedded_by) VALUES "
            + tuples.joined(separator: ", ")
            + " ON CONFLICT (collection, id) DO UPDATE SET document = excluded.document, metadata = excluded.metadata, "
            + "embedding = excluded.embedding, embedded_by = excluded.embedded_by, version = excluded.version, updated_at = excluded.updated_at"
    }

    public func upsertValues(_ docs: ArraySlice<VectorDocument>, collection: String, version: Int64, now: Timestamp) -> [SQLValue] {
        var values: [SQLValue] = [.text(collection), .int(version), dialect.value(now)]
        values.reserveCapacity(3 + docs.count * 5)
        for doc in docs {
            values += [.text(doc.id), .text(doc.text), dialect.value(json: doc.metadata),
                       doc.embedding.map { .blob(Float32Bytes.encode($0)) } ?? .null, dialect.value(doc.embeddedBy)]
        }
        return values
    }
}
