import ProxyCore
import StoragePorts
import VectorSearch

/// One collection's documents in this proxy's memory: the embedded ones'
/// matrix (once the collection has a dimension) and every text's inverted
/// index, metadata riding along in both for filters. Searched on worker
/// threads under a shared lock, updated under an exclusive one. `version`
/// and the refresh bookkeeping belong to the loop thread.
final class CollectionIndex: @unchecked Sendable {
    // @unchecked: `contents` is behind its lock; the rest is loop-thread state, never read by workers.
    let name: String
    let incarnation: String
    /// Nil while nothing in the collection is embedded (keyword search only).
    let dimension: Int?
    let metric: VectorMetric

    private struct Contents {
        var matrix: VectorMatrix<JSONObject?>?
        var keywords: KeywordIndex<JSONObject?>
        var byteCount: Int { (matrix?.byteCount ?? 0) + keywords.byteCount }
    }

    private let contents: ReadWriteLocked<Contents>

    /// The collection version the index holds (-1: nothing loaded yet). Loop thread.
    var version: Int64 = -1
    /// Searches waiting for the refresh in flight (nil: none in flight). Loop thread.
    var waiting: [() -> Void]?
    /// The index's bytes, as of the last update. Loop thread.
    var bytes = 0

    init(_ c: VectorCollection) {
        name = c.name
        incarnation = c.incarnation
        dimension = c.dimension
        metric = c.metric
        let weigh: @Sendable (JSONObject?) -> Int = { $0?.heapBytes ?? 0 }
        contents = ReadWriteLocked(Contents(
            matrix: c.dimension.map { VectorMatrix(dimension: $0, metric: c.metric, payload: JSONObject?.self, weigh: weigh) },
            keywords: KeywordIndex(payload: JSONObject?.self, weigh: weigh)))
    }

    /// Whether this index can hold the collection as it is now (another
    /// incarnation, or a dimension it was made without, needs a new one).
    func fits(_ c: VectorCollection) -> Bool { incarnation == c.incarnation && dimension == c.dimension }

    /// About what these rows would add (read before applying them, to stay
    /// within `vector.max_memory_bytes`): vectors, words, ids and metadata.
    func bytesToAdd(_ documents: [VectorDocument]) -> Int {
        documents.reduce(0) { sum, doc in
            let metadata = doc.metadata?.heapBytes ?? 0
            let words = KeywordIndex<JSONObject?>.documentBytes(id: doc.id, text: doc.text, payloadHeapBytes: metadata)
            guard let dimension, doc.embedding != nil else { return sum + words }
            return sum + words + VectorMatrix<JSONObject?>.rowBytes(dimension: dimension, id: doc.id, payloadHeapBytes: metadata)
        }
    }

    /// Applies a collection's changes (worker thread) and returns the index's
    /// bytes. Vectors a matrix cannot hold (written by hand, not through the
    /// proxy's checks) are left out; their texts are still found by keyword.
    func apply(_ changes: VectorChanges) -> Int {
        contents.writing { c in
            for id in changes.removed {
                c.matrix?.remove(id: id)
                c.keywords.remove(id: id)
            }
            for doc in changes.written {
                c.keywords.upsert(id: doc.id, text: doc.text, payload: doc.metadata)
                guard let e = doc.embedding else {
                    c.matrix?.remove(id: doc.id)  // no embedding (any more): not a vector search's to find
                    continue
                }
                do {
                    try c.matrix?.upsert(id: doc.id, e, payload: doc.metadata)
                } catch {
                    c.matrix?.remove(id: doc.id)
                }
            }
            return c.byteCount
        }
    }

    /// The `k` nearest documents the filter accepts (worker thread).
    func nearest(_ query: [Float], k: Int, filter: MetadataFilter?) throws(ProxyError) -> [VectorMatrix<JSONObject?>.Hit] {
        do {
            return try contents.reading { c throws(VectorMatrix<JSONObject?>.Problem) in
                try c.matrix?.search(query, k: k, allowed: filter.map { f in { f.accepts($0) } }) ?? []
            }
        } catch {
            throw ProxyError.invalidParams(field: "embedding", reason: error.reason)
        }
    }

    /// The `k` best keyword matches the filter accepts, best first (worker thread).
    func keywordMatches(_ words: [String], k: Int, filter: MetadataFilter?) -> [KeywordIndex<JSONObject?>.Hit] {
        contents.reading { c in c.keywords.search(words, k: k, allowed: filter.map { f in { f.accepts($0) } }) }
    }
}
