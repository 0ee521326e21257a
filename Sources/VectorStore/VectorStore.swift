import ProxyCore
import StoragePorts
import VectorSearch

/// The vector store (`vector.*`) over any backend's `VectorStorage`:
/// documents live in storage; each proxy keeps every searched collection's
/// embeddings in memory (`CollectionIndex`) and checks the collection's
/// version before each vector search, reading only what changed since —
/// so a document acknowledged through any proxy is found through every
/// other. Scans run on worker threads, never on the loop. Loop thread only.
public final class VectorStore {
    public struct Limits: Sendable {
        public var searchThreads = 2
        /// Bytes all in-memory matrices may take together.
        public var maxMemory = 2 << 30
        /// Versions whose removals storage keeps (`vector.removals_kept_versions`).
        public var removalsKept: Int64 = 10_000
        /// Embedded documents from which a search walks the graph (`vector.approximate_from_documents`).
        public var approximateFrom = 20_000
        public var graphShape = NeighbourGraph<JSONObject?>.Shape()
        /// A search's `ef` when it names none (`vector.hnsw_ef`).
        public var defaultEf = 128
        /// Where graphs are saved and read back at a restart (`vector.graph_directory`); nil: not kept.
        public var graphDirectory: String?
        public init() {}
    }

    let storage: VectorStorage
    let limits: Limits
    let workers: WorkerPool
    /// Builds graphs one at a time, beside the searches (`CollectionIndex.buildGraph`).
    private let builder: WorkerPool
    /// Set at close: a build under way stops at its next page.
    private let stopping = Locked(false)
    var indexes: [String: CollectionIndex] = [:]
    /// The vector workers' own storage readers (`OneThreadSearch`); nil where storage has none.
    lazy var readers: BlockingReaders? = BlockingReaders(storage)
    var oneThreadSearches = 0
    var approximate = 0
    private var searches = 0, refreshes = 0, fallbacks = 0, graphsBuilt = 0, graphsLoaded = 0
    /// Why a saved graph could not be read or written, the last time (`vector.graph_directory`).
    private var graphFileProblem: String?
    /// Makes the embeddings an add or a text search lacks (`vector.embedder`); nil: none configured.
    public let embedder: TextEmbedder?
    let pending: PendingEmbeddings?

    /// `after` schedules work on the loop (the background embedding pass).
    public init(storage: VectorStorage, completions: CompletionQueue, limits: Limits, embedder: TextEmbedder? = nil,
                 retrySeconds: Double = 30, after: @escaping (_ ms: UInt64, _ work: @escaping () -> Void) -> () -> Void = { _, _ in {} }) {
        self.storage = storage
        self.limits = limits
        self.embedder = embedder
        workers = WorkerPool(threads: limits.searchThreads, completions: completions, name: "vector store")
        builder = WorkerPool(threads: 1, completions: completions, name: "vector graph builder")
        pending = embedder.map { PendingEmbeddings(storage: storage, embedder: $0, retrySeconds: retrySeconds, after: after) }
        pending?.start()
    }

    public func close() {
        stopping.withLock { $0 = true }
        builder.close()
        workers.close()
        pending?.stop()
        embedder?.close()
    }

    /// Words for a keyword search (see `SearchWords`).
    public static func words(in text: String, max: Int) throws(ProxyError) -> [String] { try SearchWords.split(text, max: max) }

    // MARK: - Collections and documents

    public func createCollection(_ c: VectorCollection, _ done: @escaping Completion<(VectorCollection, created: Bool)>) {
        storage.createCollection(c) { result in
            if case .success(let (stored, false)) = result, stored.dimension != c.dimension || stored.metric != c.metric {
                let had = "dimension \(stored.dimension.map(String.init) ?? "none yet") and metric \(stored.metric.rawValue)"
                return done(.failure(.conflict("collection \(c.name) exists with \(had)",
                                               fields: ["collection": .string(c.name)])))
            }
            done(result)
        }
    }

    public func listCollections(_ done: @escaping Completion<[VectorCollection]>) { storage.listCollections(done) }

    public func dropCollection(name: String, _ done: @escaping Completion<Bool>) {
        storage.dropCollection(name: name) { [self] result in
            if case .success = result {
                indexes[name] = nil
                if let directory = limits.graphDirectory { CollectionIndex.GraphFileUse.remove(directory: directory, collection: name) }
            }
            done(result)
        }
    }

    /// Stores the documents (a repeated id: the last one wins) and returns
    /// their ids in the order given. With an embedder, documents without an
    /// embedding get one first; if it fails, they are stored without and
    /// the background pass embeds them later (the add still succeeds).
    public func add(_ documents: [VectorDocument], collection: String, in tx: TransactionID?, _ done: @escaping Completion<[String]>) {
        var last: [String: Int] = [:]
        for (i, d) in documents.enumerated() { last[d.id] = i }
        var unique = documents.enumerated().filter { last[$0.element.id] == $0.offset }.map(\.element)
        let store = { [storage] (docs: [VectorDocument]) in
            storage.putDocuments(docs, collection: collection, in: tx) { result in
                done(result.map { documents.map(\.id) }.mapError { Self.blamingTheEmbedder($0, docs) })
            }
        }
        let lacking = unique.indices.filter { unique[$0].embedding == nil }
        guard let embedder, !lacking.isEmpty else { return store(unique) }
        embedder.embed(lacking.map { unique[$0].text }) { [pending] made in
            switch made {
            case .success(let vectors):
                for (i, v) in zip(lacking, vectors) {
                    unique[i].embedding = v
                    unique[i].embeddedBy = embedder.model
                }
            case .failure:
                pending?.wake()  // stored without: the pass will try again
            }
            store(unique)
        }
    }

    /// A vector the collection refused that the embedder made, not the
    /// client: the error names the collection, not an `embeddings[i]` the
    /// client never sent.
    private static func blamingTheEmbedder(_ e: ProxyError, _ docs: [VectorDocument]) -> ProxyError {
        guard case .invalidParams(let field, let reason) = e, field.hasPrefix("embeddings["),
              let i = Int(field.dropFirst("embeddings[".count).prefix { $0 != "]" }), docs.indices.contains(i),
              let model = docs[i].embeddedBy else { return e }
        return .invalidParams(field: "collection", reason: "cannot take the vectors of the embedder (\(model)): document \(i) \(reason)")
    }

    public func delete(ids: [String], collection: String, in tx: TransactionID?, _ done: @escaping Completion<Int>) {
        storage.removeDocuments(ids: Array(Set(ids)), collection: collection, in: tx, removalsKept: limits.removalsKept) { result in
            // The default collection exists implicitly: before its first add it is empty, not unknown.
            if case .failure(.invalidParams(field: "collection", _)) = result, collection == VectorCollection.defaultName {
                return done(.success(0))
            }
            done(result)
        }
    }

    // MARK: - Search

    /// Picks the mode from what is given: an embedding (or a text and an
    /// embedder) means vector, with a text too hybrid; a text alone keyword.
    /// When the embedder fails a search that did not ask for a mode ranks by
    /// keyword, each hit saying so (`fallback`); one that asked fails.
    public func search(_ request: VectorSearchRequest, _ done: @escaping Completion<[VectorSearchHit]>) {
        searches += 1
        var r = request
        if r.embedding != nil || r.mode == .keyword || embedder == nil || r.text == nil {
            if r.mode == nil { r.mode = r.embedding == nil ? .keyword : (r.text == nil ? .vector : .hybrid) }
            if r.mode != .keyword, r.embedding == nil {
                let why = embedder == nil ? "no embedder is configured" : "or a query for the embedder"
                return done(.failure(.invalidParams(field: "embedding", reason: "is required for a \(r.mode!.rawValue) search (\(why))")))
            }
            return ranked(r, done)
        }
        embedder!.embed([r.text!]) { [self] made in
            switch made {
            case .success(let vectors):
                r.embedding = vectors.first
                if r.mode == nil { r.mode = .hybrid }
                ranked(r, done)
            case .failure(let e):
                guard r.mode == nil else { return done(.failure(e)) }
                fallbacks += 1
                r.mode = .keyword
                ranked(r) { done($0.map { hits in hits.map { var h = $0; h.fallback = "keyword only: \(e.detail)"; return h } }) }
            }
        }
    }

    private func ranked(_ r: VectorSearchRequest, _ done: @escaping Completion<[VectorSearchHit]>) {
        if searchOnOneThread(r, done) { return }
        storage.vectorCollection(name: r.collection) { [self] found in ranked(r, in: found, done) }
    }

    /// The search once the collection's state is read (nil: no such collection).
    func ranked(_ r: VectorSearchRequest, in found: Result<VectorCollection?, ProxyError>, _ done: @escaping Completion<[VectorSearchHit]>) {
        let c: VectorCollection
        switch found {
        case .failure(let e): return done(.failure(e))
        case .success(nil):
            // The default collection exists implicitly: before its first add it is empty, not unknown.
            done(r.collection == VectorCollection.defaultName ? .success([]) : .failure(.unknownCollection(r.collection)))
            return
        case .success(let known?): c = known
        }
        switch r.mode ?? .keyword {
        case .keyword:
            keywordMatches(c, r, k: r.topK) { [self] result in
                withDocuments(result, r.collection, ids: { $0.map(\.id) }, done, Self.keywordHits)
            }
        case .vector:
            nearest(c, r, k: r.topK) { [self] result in
                withDocuments(result, r.collection, ids: { $0.map(\.id) }, done, Self.vectorHits)
            }
        case .hybrid:
            hybrid(c, r, done)
        }
    }

    static func keywordHits(_ ranked: [KeywordIndex<JSONObject?>.Hit], _ byID: [String: VectorDocument]) -> [VectorSearchHit] {
        ranked.compactMap { h in byID[h.id].map { VectorSearchHit(document: $0, score: h.score, matched: ["keyword"]) } }
    }

    static func vectorHits(_ ranked: [VectorMatrix<JSONObject?>.Hit], _ byID: [String: VectorDocument]) -> [VectorSearchHit] {
        ranked.compactMap { h in byID[h.id].map { VectorSearchHit(document: $0, score: Double(h.score), matched: ["vector"]) } }
    }

    /// Each ranking's candidates (twice `top_k`, at least 20), fused.
    private func hybrid(_ c: VectorCollection, _ r: VectorSearchRequest, _ done: @escaping Completion<[VectorSearchHit]>) {
        let candidates = max(2 * r.topK, 20)
        var keyword: Result<[KeywordIndex<JSONObject?>.Hit], ProxyError>?, vector: Result<[VectorMatrix<JSONObject?>.Hit], ProxyError>?
        let both = { [self] in
            guard let keyword, let vector else { return }
            let fused = Result { () throws(ProxyError) -> ([RankFusion.Fused], keyword: [String: Double], vector: [String: Double]) in
                let k = try keyword.get(), v = try vector.get()
                return (RankFusion.fuse(keyword: k.map(\.id), vector: v.map(\.id), limit: r.topK),
                        Dictionary(k.map { ($0.id, $0.score) }, uniquingKeysWith: { a, _ in a }),
                        Dictionary(v.map { ($0.id, Double($0.score)) }, uniquingKeysWith: { a, _ in a }))
            }
            withDocuments(fused.map { ($0.0, $0.keyword, $0.vector) }, r.collection, ids: { $0.0.map(\.id) }, done) { ranked, byID in
                let (fused, keywordScore, vectorScore) = ranked
                return fused.compactMap { f -> VectorSearchHit? in
                    guard let doc = byID[f.id] else { return nil }  // removed meanwhile
                    return VectorSearchHit(document: doc, score: f.score,
                                           matched: (f.keywordRank != nil ? ["keyword"] : []) + (f.vectorRank != nil ? ["vector"] : []),
                                           vectorScore: vectorScore[f.id], keywordScore: keywordScore[f.id])
                }
            }
        }
        keywordMatches(c, r, k: candidates) { keyword = $0; both() }
        nearest(c, r, k: candidates) { vector = $0; both() }
    }

    /// A ranking's documents read (text and metadata, one read by id), then the hits made of both.
    /// One removed since the ranking was made is absent: `makeHits` leaves it out.
    private func withDocuments<Ranked>(_ ranked: Result<Ranked, ProxyError>, _ collection: String, ids: (Ranked) -> [String],
                                       _ done: @escaping Completion<[VectorSearchHit]>,
                                       _ makeHits: @escaping (Ranked, [String: VectorDocument]) -> [VectorSearchHit]) {
        switch ranked {
        case .failure(let e): done(.failure(e))
        case .success(let r):
            let wanted = ids(r)
            guard !wanted.isEmpty else { return done(.success([])) }
            storage.documents(ids: wanted, collection: collection) { found in
                done(found.map { docs in makeHits(r, Dictionary(docs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })) })
            }
        }
    }

    /// The best `k` keyword matches, on a worker, from an index at least as new as `c`.
    private func keywordMatches(_ c: VectorCollection, _ r: VectorSearchRequest, k: Int,
                                _ done: @escaping Completion<[KeywordIndex<JSONObject?>.Hit]>) {
        current(c) { [workers] found in
            switch found {
            case .failure(let e): done(.failure(e))
            case .success(let index): workers.run({ .success(index.keywordMatches(r.words, k: k, filter: r.filter)) }, done)
            }
        }
    }

    /// The exact `k` nearest, on a worker, from an index at least as new as `c`.
    private func nearest(_ c: VectorCollection, _ r: VectorSearchRequest, k: Int,
                         _ done: @escaping Completion<[VectorMatrix<JSONObject?>.Hit]>) {
        guard let query = r.embedding else { return done(.failure(.invalidParams(field: "embedding", reason: "is required for a vector search"))) }
        guard let dimension = c.dimension else { return done(.success([])) }  // nothing embedded yet
        guard query.count == dimension else {
            return done(.failure(.invalidParams(field: "embedding",
                                                reason: "has \(query.count) components; collection \(c.name) has dimension \(dimension)")))
        }
        current(c) { [self] found in
            switch found {
            case .failure(let e): done(.failure(e))
            case .success(let index):
                let search = { [workers] (plan: CollectionIndex.Plan) in
                    workers.run({ Result { () throws(ProxyError) in
                        try index.nearest(query, k: k, filter: r.filter, plan: plan, forced: r.exact == false)
                    } }, done)
                }
                switch plan(r, index) {
                case .now(let plan):
                    if case .graph = plan { approximate += 1 }
                    search(plan)
                case .afterGraph(let plan):
                    withGraph(index) { [self] built in
                        switch built {
                        case .failure(let e): done(.failure(e))
                        case .success: approximate += 1; search(plan)
                        }
                    }
                case .exactWhileGraphBuilds:
                    withGraph(index) { _ in }  // the scan answers until it is ready (a failed build is tried again once the collection changed)
                    search(.exact)
                }
            }
        }
    }

    /// How a vector search of `index` runs, from what the loop knows of it now.
    enum PlanChoice {
        case now(CollectionIndex.Plan)
        /// `exact: false`: the graph, built first if need be.
        case afterGraph(CollectionIndex.Plan)
        /// Big enough for a graph that is not there: the scan, and a build starts.
        case exactWhileGraphBuilds
    }

    func plan(_ r: VectorSearchRequest, _ index: CollectionIndex) -> PlanChoice {
        let graph = CollectionIndex.Plan.graph(ef: r.ef ?? limits.defaultEf)
        switch (r.exact, index.graphState) {
        case (true?, _): return .now(.exact)
        case (false?, .built): return .now(graph)
        case (false?, _): return .afterGraph(graph)
        case (nil, .built) where index.vectorCount >= limits.approximateFrom: return .now(graph)
        case (nil, .none) where index.vectorCount >= limits.approximateFrom && index.graphFailedAt != index.vectorCount:
            return .exactWhileGraphBuilds
        case (nil, _): return .now(.exact)
        }
    }

    // MARK: - Graphs

    /// Calls `then` once the index has its graph, building it if need be
    /// (one build at a time per proxy, on the builder thread).
    private func withGraph(_ idx: CollectionIndex, _ then: @escaping (Result<Void, ProxyError>) -> Void) {
        let waiter = { then(idx.graphFailure.map { .failure($0) } ?? .success(())) }
        switch idx.graphState {
        case .built: return then(.success(()))
        case .building(let waiting):
            idx.graphState = .building(waiting: waiting + [waiter])
            return
        case .none: break
        }
        let room = limits.maxMemory - indexes.values.reduce(0) { $0 + $1.bytes }
        let needed = idx.vectorCount * NeighbourGraph<JSONObject?>.nodeBytes(dimension: idx.dimension ?? 0, shape: limits.graphShape,
                                                                             searchThreads: limits.searchThreads)
        guard needed <= room else {
            idx.graphFailedAt = idx.vectorCount
            return then(.failure(.overloaded("the HNSW graph of collection \(idx.name) (about \(needed) bytes) would pass "
                                             + "vector.max_memory_bytes (\(limits.maxMemory) bytes)")))
        }
        idx.graphState = .building(waiting: [waiter])
        idx.graphFailure = nil
        let (shape, stopping) = (limits.graphShape, stopping)
        let file = limits.graphDirectory.map { CollectionIndex.GraphFileUse(directory: $0, collection: idx.name) }
        builder.run({ Result { () throws(ProxyError) -> Int? in
            try idx.buildGraph(shape: shape, file: file, cancelled: { stopping.withLock { $0 } })
        } }) { [self] result in
            if file?.loaded == true { graphsLoaded += 1 } else { graphsBuilt += 1 }
            if let problem = file?.problem { graphFileProblem = problem }
            guard case .building(let waiting) = idx.graphState else { return }
            switch result {
            case .success(let bytes?):
                idx.graphState = .built
                idx.bytes = bytes
            case .success(nil):
                idx.graphState = .none
                idx.graphFailure = .overloaded("the proxy is stopping")
            case .failure(let e):
                idx.graphState = .none
                idx.graphFailure = e
                idx.graphFailedAt = idx.vectorCount
            }
            for w in waiting { w() }
        }
    }

    // MARK: - Keeping indexes current

    /// This proxy's index of the collection, brought up to at least `c.version`.
    /// One refresh at a time per collection; searches arriving meanwhile wait
    /// for it and then check again (a write may have landed after it read).
    private func current(_ c: VectorCollection, _ done: @escaping Completion<CollectionIndex>) {
        var index = indexes[c.name]
        // Another collection under the name, a first dimension, or removals this index needs pruned: loaded whole.
        if index == nil || !index!.fits(c) || (index!.version >= 0 && index!.version < c.removalsFloor) {
            index = CollectionIndex(c, searchThreads: limits.searchThreads)
            indexes[c.name] = index
        }
        let idx = index!
        if idx.version >= c.version { return done(.success(idx)) }
        let again = { [self] in current(c, done) }
        if idx.waiting != nil { idx.waiting!.append(again); return }
        idx.waiting = []
        refreshes += 1
        loadPages(idx, after: idx.version < 0 ? nil : idx.version, from: nil, target: nil, rows: Self.firstPageRows, done)
    }

    /// Rows read and applied per page: a load never holds more than one page
    /// besides the matrix. The first page is small; the next ones are sized so
    /// a page weighs about `pageBytes` (vectors, ids and metadata), within
    /// 100 to 10,000 rows (10,000 × 384 floats: 15 MiB).
    static let firstPageRows = 1_000
    static let pageRowsRange = 100...10_000
    static let pageBytes = 8 << 20

    /// Reads the changes page by page, each applied on a worker. The matrix
    /// then stands at the collection version read with the first page: rows
    /// written later may be in it already, and the next check reads them (and
    /// any removal after that version) again, which changes nothing twice.
    private func loadPages(_ idx: CollectionIndex, after version: Int64?, from cursor: VectorChanges.Cursor?, target: Int64?,
                           rows: Int, _ done: @escaping Completion<CollectionIndex>) {
        storage.vectorChanges(collection: idx.name, after: version, from: cursor, limit: rows) { [self] read in
            let changes: VectorChanges
            switch read {
            case .failure(let e): return settle(idx, .failure(e), done)
            case .success(let ch): changes = ch
            }
            guard let now = changes.collection, now.incarnation == idx.incarnation else {
                if indexes[idx.name] === idx { indexes[idx.name] = nil }
                return settle(idx, .failure(.conflict("collection \(idx.name) was dropped during the search")), done)
            }
            if let version, cursor == nil, version < now.removalsFloor {
                // Pruned since the search looked (`current` checks the floor too): start afresh.
                if indexes[idx.name] === idx { indexes[idx.name] = nil }
                let waiting = idx.waiting ?? []
                idx.waiting = nil
                current(now, done)
                for w in waiting { w() }
                return
            }
            // Weighed on the worker (metadata is walked), against what the other indexes and this one hold now.
            let room = limits.maxMemory - indexes.values.reduce(0) { $0 + $1.bytes }
            let limit = limits.maxMemory
            let graphShape = idx.hasGraph || idx.vectorCount + changes.written.count >= limits.approximateFrom ? limits.graphShape : nil
            workers.run({ () -> Result<(applied: (bytes: Int, vectors: Int, graphDropped: Bool), page: Int), ProxyError> in
                let page = idx.bytesToAdd(changes.written, graphShape: graphShape)
                guard page <= room else {
                    return .failure(.overloaded("the in-memory vector indexes would pass vector.max_memory_bytes (\(limit) bytes), "
                                                + "counting vectors, ids and metadata"))
                }
                return .success((idx.apply(changes), page))
            }) { [self] applied in
                let nextRows: Int
                switch applied {
                case .failure(let e): return settle(idx, .failure(e), done)
                case .success(let (applied, page)):
                    idx.bytes = applied.bytes
                    idx.vectorCount = applied.vectors
                    if applied.graphDropped, case .built = idx.graphState { idx.graphState = .none }
                    let scaled = rows * Self.pageBytes / max(1, page)
                    nextRows = min(max(scaled, Self.pageRowsRange.lowerBound), Self.pageRowsRange.upperBound)
                }
                let reached = target ?? now.version
                guard let next = changes.next else {
                    idx.version = reached
                    return settle(idx, .success(idx), done)
                }
                loadPages(idx, after: version, from: next, target: reached, rows: nextRows, done)
            }
        }
    }

    /// Ends a refresh: its own search gets the outcome, the waiting ones look again.
    private func settle(_ idx: CollectionIndex, _ outcome: Result<CollectionIndex, ProxyError>, _ done: @escaping Completion<CollectionIndex>) {
        let waiting = idx.waiting ?? []
        idx.waiting = nil
        done(outcome)
        for w in waiting { w() }
    }

    /// For `server.status`.
    public var status: JSONValue {
        var o: JSONObject = ["collections_in_memory": .int(Int64(indexes.count)),
                             "memory_bytes": .int(Int64(indexes.values.reduce(0) { $0 + $1.bytes })),
                             "searches": .int(Int64(searches)), "refreshes": .int(Int64(refreshes)),
                             "approximate_searches": .int(Int64(approximate)), "graphs_built": .int(Int64(graphsBuilt)),
                             "graphs_loaded": .int(Int64(graphsLoaded)), "graph_file_problem": graphFileProblem.map { .string($0) } ?? .null,
                             "keyword_fallbacks": .int(Int64(fallbacks)), "one_thread_searches": .int(Int64(oneThreadSearches))]
        if let embedder, let pending {
            o["embedder"] = embedder.status
            o["embedded_later"] = .int(Int64(pending.embedded))
        }
        return .object(o)
    }
}
