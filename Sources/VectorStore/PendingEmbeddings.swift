import ProxyCore
import StoragePorts

/// The background pass: documents stored without an embedding while an
/// embedder is configured (it was down at the add, or they were added before
/// it was configured) get one later. A pass reads a batch, embeds the texts
/// collection by collection, and stores each vector only where the document
/// still has none and the same text; then it goes on at once while there
/// is more, or waits `retrySeconds` (also after a failure). A text the
/// embedder refuses on its own (HTTP 4xx) is marked refused, so it never
/// blocks the others. Loop thread only.
final class PendingEmbeddings {
    static let batch = 256

    private let storage: VectorStorage
    private let embedder: TextEmbedder
    private let retryMs: UInt64
    private let after: (_ ms: UInt64, _ work: @escaping () -> Void) -> () -> Void
    private var running = false, stopped = false, due = false
    /// Cancels the waiting pass: a stopping proxy does not wait `retrySeconds` for it.
    private var cancelWait: (() -> Void)?
    private(set) var embedded = 0

    init(storage: VectorStorage, embedder: TextEmbedder, retrySeconds: Double,
         after: @escaping (_ ms: UInt64, _ work: @escaping () -> Void) -> () -> Void) {
        self.storage = storage
        self.embedder = embedder
        retryMs = UInt64(max(0.01, retrySeconds) * 1000)
        self.after = after
    }

    func start() { later() }
    func stop() {
        stopped = true
        cancelWait?()
        cancelWait = nil
    }

    /// An add stored documents without embeddings: make sure a pass is coming.
    func wake() { if !running && !due { later() } }

    private func later() {
        due = true
        cancelWait = after(retryMs) { [weak self] in
            self?.due = false
            self?.cancelWait = nil
            self?.pass()
        }
    }

    private func pass() {
        guard !stopped, !running else { return }
        running = true
        storage.unembeddedDocuments(limit: Self.batch) { [self] read in
            guard case .success(let found) = read, !found.isEmpty else { return finish(more: false) }
            var groups: [(collection: String, docs: [VectorDocument])] = []
            for (collection, doc) in found {
                if groups.last?.collection == collection { groups[groups.count - 1].docs.append(doc) } else { groups.append((collection, [doc])) }
            }
            embedGroups(groups[...]) { [self] ok in finish(more: ok && found.count == Self.batch) }
        }
    }

    private func finish(more: Bool) {
        running = false
        if stopped { return }
        if more { pass() } else { later() }
    }

    private func embedGroups(_ groups: ArraySlice<(collection: String, docs: [VectorDocument])>, _ done: @escaping (Bool) -> Void) {
        guard let group = groups.first else { return done(true) }
        embedAndStore(group.docs, collection: group.collection) { [self] ok in
            guard ok else { return done(false) }
            embedGroups(groups.dropFirst(), done)
        }
    }

    /// Embeds the texts and stores the vectors; a refused batch is tried one
    /// text at a time, to find the texts refused on their own.
    private func embedAndStore(_ docs: [VectorDocument], collection: String, _ done: @escaping (Bool) -> Void) {
        embedder.embed(docs.map(\.text)) { [self] made in
            var out = docs
            switch made {
            case .success(let vectors):
                for i in out.indices { out[i].embedding = vectors[i]; out[i].embeddedBy = embedder.model }
            case .failure(let e) where Self.isRefusal(e):
                guard docs.count == 1 else { return oneByOne(docs[...], collection: collection, done) }
                out[0].embeddedBy = "refused by the embedder (\(embedder.model)): \(e.detail.prefix(200))"
            case .failure:
                return done(false)  // down or slow: the next pass tries again
            }
            storage.setEmbeddings(out, collection: collection) { [self] stored in
                if case .success(let n) = stored { embedded += n }
                done(true)
            }
        }
    }

    private func oneByOne(_ docs: ArraySlice<VectorDocument>, collection: String, _ done: @escaping (Bool) -> Void) {
        guard let doc = docs.first else { return done(true) }
        embedAndStore([doc], collection: collection) { [self] ok in
            guard ok else { return done(false) }
            oneByOne(docs.dropFirst(), collection: collection, done)
        }
    }

    /// The embedder answered, and said no to the request itself (HTTP 4xx):
    /// sending the same again would be refused again.
    static func isRefusal(_ e: ProxyError) -> Bool { e.detail.contains(": HTTP 4") }
}
