import ProxyCore
import StoragePorts

/// A `vector.search`, checked.
public struct VectorSearchRequest: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case keyword, vector, hybrid }

    public var collection: String
    /// Nil: chosen from what is given (`VectorStore.search`).
    public var mode: Mode?
    /// The query's text, and its words (keyword and hybrid).
    public var text: String?
    public var words: [String]
    /// The query vector (vector and hybrid); made by the embedder from `text` when there is one.
    public var embedding: [Float]?
    public var topK: Int
    public var filter: MetadataFilter?
    /// True: the exact scan; false: the graph; nil: by the collection's size (`vector.approximate_from_documents`).
    public var exact: Bool?
    /// Candidates the graph walk explores (nil: `vector.hnsw_ef`).
    public var ef: Int?

    public init(collection: String, mode: Mode?, text: String?, words: [String], embedding: [Float]?, topK: Int, filter: MetadataFilter?,
                exact: Bool? = nil, ef: Int? = nil) {
        self.collection = collection; self.mode = mode; self.text = text; self.words = words
        self.embedding = embedding; self.topK = topK; self.filter = filter; self.exact = exact; self.ef = ef
    }
}

/// One search result, best first. `score` is the ranking's own: cosine
/// similarity, inner product or Euclidean distance (vector), the backend's
/// full-text relevance (keyword), the fused reciprocal-rank score (hybrid).
public struct VectorSearchHit: Sendable {
    public var document: VectorDocument
    public var score: Double
    /// Which rankings found it: "keyword", "vector" or both.
    public var matched: [String]
    /// In hybrid answers, each ranking's own score where it found the document.
    public var vectorScore: Double?
    public var keywordScore: Double?
    /// Why a search that would have used vectors ranked by keyword only (the embedder failed).
    public var fallback: String?

    public var json: JSONValue {
        var o: JSONObject = ["id": .string(document.id), "document": .string(document.text),
                             "metadata": .object(document.metadata ?? [:]), "score": .double(score),
                             "matched": .array(matched.map { .string($0) })]
        if let vectorScore { o["vector_score"] = .double(vectorScore) }
        if let keywordScore { o["keyword_score"] = .double(keywordScore) }
        if let fallback { o["fallback"] = .string(fallback) }
        return .object(o)
    }
}
