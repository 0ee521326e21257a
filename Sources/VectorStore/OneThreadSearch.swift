import ProxyCore
import StoragePorts
import Threading
import VectorSearch

/// A search by keyword or vector of a collection this proxy holds, on one
/// worker from start to end: the collection's version read there, then the
/// ranking, then the hits' documents. The usual way takes three thread
/// hand-offs (storage, worker, storage), each a wake-up on both sides; on a
/// 2-core VM two of them were about a third of a small search's time (a
/// 1-document collection's search, raw client: 2,210 → 3,100 q/s).
/// Taken only where storage's reads block a thread anyway (SQLite:
/// `VectorStorage.makeBlockingReader`) and the loop knows of no refresh in
/// flight; a version newer than the index's sends the search the usual way
/// (refresh, then rank), with the state read.
extension VectorStore {
    enum OneThreadOutcome {
        case answered([VectorSearchHit])
        /// The collection changed (or went) since the index was brought up to date.
        case stale(VectorCollection?)
        /// No reader could be opened.
        case unavailable
    }

    /// False: not taken (the caller goes the usual way).
    func searchOnOneThread(_ r: VectorSearchRequest, _ done: @escaping Completion<[VectorSearchHit]>) -> Bool {
        guard let mode = r.mode, mode != .hybrid, let idx = indexes[r.collection], idx.waiting == nil, idx.version >= 0,
              let readers else { return false }
        var plan = CollectionIndex.Plan.exact
        if mode == .vector {
            guard let query = r.embedding, query.count == idx.dimension, case .now(let chosen) = self.plan(r, idx) else { return false }
            plan = chosen
        }
        let known = idx.version
        workers.run({ () -> Result<OneThreadOutcome, ProxyError> in
            readers.with { reader in
                Result { () throws(ProxyError) -> OneThreadOutcome in
                    let now = try reader.collection(name: r.collection)
                    guard let c = now, idx.fits(c), c.version <= known, c.removalsFloor <= known else { return .stale(now) }
                    func documents(_ ids: [String]) throws(ProxyError) -> [String: VectorDocument] {
                        guard !ids.isEmpty else { return [:] }
                        return Dictionary(try reader.documents(ids: ids, collection: r.collection).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                    }
                    if mode == .keyword {
                        let ranked = idx.keywordMatches(r.words, k: r.topK, filter: r.filter)
                        return .answered(Self.keywordHits(ranked, try documents(ranked.map(\.id))))
                    }
                    let ranked = try idx.nearest(r.embedding!, k: r.topK, filter: r.filter, plan: plan, forced: r.exact == false)
                    return .answered(Self.vectorHits(ranked, try documents(ranked.map(\.id))))
                }
            } ?? .success(.unavailable)
        }) { [self] outcome in
            switch outcome {
            case .failure(let e): done(.failure(e))
            case .success(.answered(let hits)):
                oneThreadSearches += 1
                if case .graph = plan { approximate += 1 }
                done(.success(hits))
            case .success(.stale(let c)): ranked(r, in: .success(c), done)
            case .success(.unavailable): storage.vectorCollection(name: r.collection) { [self] in ranked(r, in: $0, done) }
            }
        }
        return true
    }
}

/// The vector workers' storage readers: one per worker at a time (so at most
/// `vector.search_threads`), opened on first need and kept.
final class BlockingReaders: @unchecked Sendable {
    // @unchecked: `storage` is only asked for new readers (its factory opens a connection, any thread).
    private let storage: VectorStorage
    private let idle: Locked<[VectorBlockingReader]>

    /// Nil where storage has no blocking readers (or the first cannot be opened).
    init?(_ storage: VectorStorage) {
        guard let first = try? storage.makeBlockingReader() else { return nil }
        self.storage = storage
        idle = Locked([first])
    }

    /// `body` with a reader of its own; nil when none could be opened.
    func with<T>(_ body: (VectorBlockingReader) -> T) -> T? {
        guard let reader = idle.withLock({ $0.popLast() }) ?? (try? storage.makeBlockingReader()) ?? nil else { return nil }
        defer { idle.withLock { $0.append(reader) } }
        return body(reader)
    }
}
