import Glibc
import ProxyCore
import StoragePorts
import VectorSearch

/// One collection's documents in this proxy's memory: the embedded ones'
/// matrix (once the collection has a dimension), its HNSW graph once asked
/// for (`buildGraph`), and every text's inverted index, metadata riding
/// along in each for filters. Searched on worker threads under a shared
/// lock, updated under an exclusive one. `version` and the refresh and
/// graph bookkeeping belong to the loop thread.
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
        /// Kept current with the matrix once built.
        var graph: NeighbourGraph<JSONObject?>?
        /// The matrix's documents by metadata value: a selective filter's candidates.
        var postings = MetadataPostings()
        /// Ids written or removed since a graph build began reading the matrix (nil: no build under way).
        var touchedDuringBuild: Set<String>?
        func byteCount(searchThreads: Int) -> Int {
            (matrix?.byteCount ?? 0) + keywords.byteCount + postings.byteCount + (graph?.byteCount(searchThreads: searchThreads) ?? 0)
        }
    }

    /// Where the graph stands. Loop thread.
    enum GraphState {
        case none
        /// Searches that asked for the graph (`exact: false`) wait for it.
        case building(waiting: [() -> Void])
        case built
    }

    private let contents: ReadWriteLocked<Contents>

    /// The collection version the index holds (-1: nothing loaded yet). Loop thread.
    var version: Int64 = -1
    /// Searches waiting for the refresh in flight (nil: none in flight). Loop thread.
    var waiting: [() -> Void]?
    /// The index's bytes, as of the last update. Loop thread.
    var bytes = 0
    /// Embedded documents, as of the last update. Loop thread.
    var vectorCount = 0
    var graphState = GraphState.none
    /// Built or being built (its nodes count against the memory ceiling).
    var hasGraph: Bool {
        if case .none = graphState { return false }
        return true
    }
    /// Why the last build failed (what searches waiting for it are told). Loop thread.
    var graphFailure: ProxyError?
    /// The embedded documents when a build last failed (none is started by itself again until that changes). Loop thread.
    var graphFailedAt: Int?
    /// Threads that may search at once (the graph keeps a visited list for each).
    private let searchThreads: Int

    init(_ c: VectorCollection, searchThreads: Int) {
        self.searchThreads = searchThreads
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
    /// within `vector.max_memory_bytes`): vectors, words, ids and metadata,
    /// and with a graph (`graphShape`) each vector's copy and links there.
    func bytesToAdd(_ documents: [VectorDocument], graphShape: NeighbourGraph<JSONObject?>.Shape?) -> Int {
        documents.reduce(0) { sum, doc in
            let metadata = doc.metadata?.heapBytes ?? 0
            let words = KeywordIndex<JSONObject?>.documentBytes(id: doc.id, text: doc.text, payloadHeapBytes: metadata)
            guard let dimension, doc.embedding != nil else { return sum + words }
            let graph = graphShape.map { NeighbourGraph<JSONObject?>.nodeBytes(dimension: dimension, shape: $0, searchThreads: searchThreads) } ?? 0
            let postings = MetadataPostings.bytesToAdd(doc.metadata)
            return sum + words + graph + postings + VectorMatrix<JSONObject?>.rowBytes(dimension: dimension, id: doc.id, payloadHeapBytes: metadata)
        }
    }

    /// Applies a collection's changes (worker thread) and returns the index's
    /// bytes and embedded documents. Vectors a matrix cannot hold (written by
    /// hand, not through the proxy's checks) are left out; their texts are
    /// still found by keyword. A graph that cannot take a vector (memory) is
    /// dropped: the exact scan answers, and the next search builds anew.
    func apply(_ changes: VectorChanges) -> (bytes: Int, vectors: Int, graphDropped: Bool) {
        contents.writing { c in
            for id in changes.removed {
                if let old = c.matrix?.payload(of: id) { c.postings.remove(id: id, old) }
                c.matrix?.remove(id: id)
                c.keywords.remove(id: id)
                c.graph?.remove(id: id)
                c.touchedDuringBuild?.insert(id)
            }
            var graphFailed = false
            for doc in changes.written {
                c.keywords.upsert(id: doc.id, text: doc.text, payload: doc.metadata)
                c.touchedDuringBuild?.insert(doc.id)
                let before = c.graph == nil ? nil : c.matrix?.stored(doc.id)?.vector
                if let old = c.matrix?.payload(of: doc.id) { c.postings.remove(id: doc.id, old) }
                if let e = doc.embedding, (try? c.matrix?.upsert(id: doc.id, e, payload: doc.metadata)) != nil {
                    c.postings.add(id: doc.id, doc.metadata)
                    if let graph = c.graph, let stored = c.matrix?.stored(doc.id) {
                        if stored.vector == before {
                            graph.setPayload(id: doc.id, doc.metadata)  // only the metadata changed: no walk to redo
                        } else {
                            do { try graph.upsert(id: doc.id, stored: stored.vector, payload: doc.metadata) } catch { graphFailed = true }
                        }
                    }
                } else {
                    c.matrix?.remove(id: doc.id)  // no embedding (any more), or one it cannot hold: not a vector search's to find
                    c.graph?.remove(id: doc.id)
                }
            }
            if graphFailed { c.graph = nil }
            return (c.byteCount(searchThreads: searchThreads), c.matrix?.count ?? 0, graphFailed)
        }
    }

    /// Builds the graph of the matrix as it stands (a builder thread): the
    /// matrix is read a page at a time under the shared lock, so searches
    /// and updates go on meanwhile; what changed during the build is then
    /// applied to the graph under the exclusive lock, and the graph is
    /// checked against the matrix id by id (a row can move between pages).
    /// Returns the index's bytes; nil when cancelled.
    ///
    /// With a `file`, the graph saved there (`NeighbourGraph.save`) is read
    /// first and only what changed since is redone; a file that cannot serve
    /// (damaged, another shape) is named in `file.problem` and the graph
    /// built afresh. The graph is saved again when a good part of it
    /// (`resaveShare`) was redone.
    func buildGraph(shape: NeighbourGraph<JSONObject?>.Shape, file: GraphFileUse?, cancelled: () -> Bool) throws(ProxyError) -> Int? {
        guard let dimension else { return nil }
        contents.writing { $0.touchedDuringBuild = [] }
        var starting: NeighbourGraph<JSONObject?>?
        if let file, access(file.path, F_OK) == 0 {
            let count = contents.reading { $0.matrix?.count ?? 0 }
            do {
                starting = try NeighbourGraph.load(from: file.path, dimension: dimension, metric: metric, shape: shape, capacity: count + count / 8)
                file.loaded = true
            } catch {
                file.problem = "\(file.path): \(error.reason)"
            }
        }
        let built: NeighbourGraph<JSONObject?>?
        do {
            built = try NeighbourGraph.build(dimension: dimension, metric: metric, shape: shape, starting: starting, read: { from, limit in
                contents.reading { c in c.matrix?.rows(from: from, limit: limit) ?? ([], 0) }
            }, cancelled: cancelled)
        } catch {
            contents.writing { $0.touchedDuringBuild = nil }
            throw ProxyError.overloaded("the HNSW graph of collection \(name) could not be built: \(error.reason)")
        }
        let bytes = try contents.writing { c throws(ProxyError) -> Int? in
            let touched = c.touchedDuringBuild ?? []
            c.touchedDuringBuild = nil
            guard let graph = built, let matrix = c.matrix else { return nil }
            do throws(NeighbourGraph<JSONObject?>.Failure) {
                for id in touched {
                    if let stored = matrix.stored(id) { try graph.upsert(id: id, stored: stored.vector, payload: stored.payload) } else { graph.remove(id: id) }
                }
                for id in matrix.ids where !graph.contains(id) {
                    let stored = matrix.stored(id)!
                    try graph.upsert(id: id, stored: stored.vector, payload: stored.payload)
                }
                for id in Array(graph.allIDs) where !matrix.contains(id) { graph.remove(id: id) }
            } catch {
                throw ProxyError.overloaded("the HNSW graph of collection \(name) could not be built: \(error.reason)")
            }
            c.graph = graph
            return c.byteCount(searchThreads: searchThreads)
        }
        if let file, bytes != nil, let graph = built, graph.changedSinceSave > Int(Self.resaveShare * Double(graph.count)) {
            // Under the shared lock: searches go on, changes wait until it is written.
            mkdir(file.directory, 0o700)  // (already there: EEXIST)
            contents.reading { _ in
                do throws(NeighbourGraph<JSONObject?>.Failure) { try graph.save(to: file.path) } catch { file.problem = "\(file.path): \(error.reason)" }
            }
        }
        return bytes
    }

    /// A graph read from disk is saved again once more than this share of it was redone.
    static let resaveShare = 0.05

    /// Where a collection's graph is kept on disk, and what became of it (builder thread, then loop).
    final class GraphFileUse: @unchecked Sendable {
        let directory: String
        let path: String
        var loaded = false
        var problem: String?

        init(directory: String, collection: String) {
            self.directory = directory
            path = directory + "/" + Self.fileName(collection)
        }

        /// The collection name's plain characters (up to 40) and a hash of
        /// all of it: a name is any text, a file name is not.
        static func fileName(_ collection: String) -> String {
            let plain = collection.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }.prefix(40)
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
            for byte in collection.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            return String(String.UnicodeScalarView(plain)) + "-" + String(hash, radix: 16) + ".hnsw"
        }

        /// Removes the saved graph (the collection was dropped).
        static func remove(directory: String, collection: String) {
            let path = directory + "/" + fileName(collection)
            unlink(path)
            unlink(path + ".ids")
        }
    }

    /// How a vector search runs: the scan, or the graph walk with `ef`.
    enum Plan { case exact, graph(ef: Int) }

    /// Below this estimated share of documents passing a filter, the graph
    /// is left for the exact scan of the passing ones: the walk would cross
    /// ever more rejected nodes to collect `k` good ones, and the scan
    /// scores only those that pass (measured in BENCHMARKS.md, "Search").
    static let graphFilterShare = 0.03

    /// Up to this share of the collection, a filter's candidates from the
    /// postings are scanned instead of every row: a candidate costs a set
    /// insert, a row lookup and a scattered read, a few rows' worth of the
    /// sequential scan (at 100,000, a 10% filter's candidates: 151 q/s; the
    /// whole scan: 68; BENCHMARKS.md, `1801581`).
    static let candidateScanShare = 0.25

    /// The `k` nearest documents the filter accepts (worker thread). A
    /// filter the postings narrow (`MetadataPostings.candidates`) is tested on
    /// its candidates alone, exactly, whenever that is the cheaper way:
    /// instead of the scan when they are under `candidateScanShare` of the
    /// collection, instead of the graph under `graphFilterShare`.
    func nearest(_ query: [Float], k: Int, filter: MetadataFilter?, plan: Plan, forced: Bool) throws(ProxyError) -> [VectorMatrix<JSONObject?>.Hit] {
        do {
            return try contents.reading { c throws(VectorMatrix<JSONObject?>.Problem) in
                guard let matrix = c.matrix else { return [] }
                let allowed = filter.map { f in { (m: JSONObject?) in f.accepts(m) } }
                let walk: Bool
                if case .graph = plan, c.graph != nil { walk = true } else { walk = false }
                let limit = Int((walk ? Self.graphFilterShare : Self.candidateScanShare) * Double(matrix.count))
                if let filter, !(walk && forced), let candidates = c.postings.candidates(for: filter, limit: limit) {
                    return try matrix.search(query, k: k, among: candidates, allowed: allowed)
                }
                if case .graph(let ef) = plan, let graph = c.graph,
                   forced || filter.map({ Self.share(passing: $0, of: matrix) >= Self.graphFilterShare }) ?? true {
                    return try matrix.search(query, k: k, graph: graph, ef: max(ef, k), allowed: allowed)
                }
                return try matrix.search(query, k: k, allowed: allowed)
            }
        } catch {
            throw ProxyError.invalidParams(field: "embedding", reason: error.reason)
        }
    }

    /// The share of a sample of rows (256, spread evenly) the filter passes.
    private static func share(passing filter: MetadataFilter, of matrix: VectorMatrix<JSONObject?>) -> Double {
        let n = matrix.count, samples = min(n, 256)
        guard samples > 0 else { return 1 }
        var passed = 0
        for i in 0..<samples where filter.accepts(matrix.payload(row: i * n / samples)) { passed += 1 }
        return Double(passed) / Double(samples)
    }

    /// The `k` best keyword matches the filter accepts, best first (worker thread).
    func keywordMatches(_ words: [String], k: Int, filter: MetadataFilter?) -> [KeywordIndex<JSONObject?>.Hit] {
        contents.reading { c in c.keywords.search(words, k: k, allowed: filter.map { f in { f.accepts($0) } }) }
    }
}
