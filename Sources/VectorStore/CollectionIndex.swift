import ProxyCore
import StoragePorts
import VectorSearch

/// One collection's embedded documents in this proxy's memory: its matrix
/// (metadata riding along for filters), searched on worker threads under a
/// shared lock and updated under an exclusive one. `version` and the
/// refresh bookkeeping belong to the loop thread.
final class CollectionIndex: @unchecked Sendable {
    // @unchecked: `matrix` is behind its lock; the rest is loop-thread state, never read by workers.
    let name: String
    let incarnation: String
    let dimension: Int
    let metric: VectorMetric
    private let matrix: ReadWriteLocked<VectorMatrix<JSONObject?>>

    /// The collection version the matrix holds (-1: nothing loaded yet). Loop thread.
    var version: Int64 = -1
    /// Searches waiting for the refresh in flight (nil: none in flight). Loop thread.
    var waiting: [() -> Void]?
    /// The matrix's bytes, as of the last update. Loop thread.
    var bytes = 0

    init(_ c: VectorCollection, dimension: Int) {
        name = c.name
        incarnation = c.incarnation
        self.dimension = dimension
        metric = c.metric
        matrix = ReadWriteLocked(VectorMatrix(dimension: dimension, metric: c.metric, payload: JSONObject?.self,
                                              weigh: { $0?.heapBytes ?? 0 }))
    }

    /// About what these rows would add to the matrix (read before applying
    /// them, to stay within `vector.max_memory_bytes`): metadata and ids count.
    func bytesToAdd(_ documents: [VectorDocument]) -> Int {
        documents.reduce(0) { sum, doc in
            sum + (doc.embedding == nil ? 0
                   : VectorMatrix<JSONObject?>.rowBytes(dimension: dimension, id: doc.id, payloadHeapBytes: doc.metadata?.heapBytes ?? 0))
        }
    }

    /// Applies a collection's changes (worker thread) and returns the
    /// matrix's bytes. Rows a matrix cannot hold (written by hand, not
    /// through the proxy's checks) are left out.
    func apply(_ changes: VectorChanges) -> Int {
        matrix.writing { m in
            for id in changes.removed { m.remove(id: id) }
            for doc in changes.written {
                guard let e = doc.embedding else {
                    m.remove(id: doc.id)  // no embedding (any more): not a vector search's to find
                    continue
                }
                do {
                    try m.upsert(id: doc.id, e, payload: doc.metadata)
                } catch {
                    m.remove(id: doc.id)
                }
            }
            return m.byteCount
        }
    }

    /// The `k` nearest documents the filter accepts (worker thread).
    func search(_ query: [Float], k: Int, filter: MetadataFilter?) throws(ProxyError) -> [VectorMatrix<JSONObject?>.Hit] {
        do {
            return try matrix.reading { m throws(VectorMatrix<JSONObject?>.Problem) in
                try m.search(query, k: k, allowed: filter.map { f in { f.accepts($0) } })
            }
        } catch {
            throw ProxyError.invalidParams(field: "embedding", reason: error.reason)
        }
    }

}
