import ProxyCore

/// One result of `vector.search`, best first.
public struct VectorHit: Sendable {
    public var id: String
    public var document: String
    public var metadata: JSONObject
    public var score: Double

    public init(id: String, document: String, metadata: JSONObject, score: Double) {
        self.id = id; self.document = document; self.metadata = metadata; self.score = score
    }
}

/// The seed's `VectorStoreAdapter` (`vector.*`). Declared now so backends
/// and clients share one shape; no implementation is served yet.
public protocol VectorStoreAdapter: AnyObject {
    func addDocuments(_ documents: [String], metadata: [JSONObject], embeddings: [[Double]]?, collection: String?,
                      _ done: @escaping Completion<[String]>)
    func search(query: String?, embedding: [Double]?, topK: Int, filter: JSONObject?, collection: String?,
                _ done: @escaping Completion<[VectorHit]>)
    func deleteDocuments(ids: [String], collection: String?, _ done: @escaping Completion<Int>)
}
