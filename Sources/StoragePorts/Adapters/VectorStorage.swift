import ProxyCore
import VectorSearch

/// A collection of documents (`vector.create_collection`).
public struct VectorCollection: Sendable, Equatable {
    public var name: String
    /// Nil until the first embedding is stored (the implicit `default`
    /// collection takes its dimension from it).
    public var dimension: Int?
    public var metric: VectorMetric
    /// Changes when the collection is dropped and made again.
    public var incarnation: String
    /// Bumped by every write (see `Schema.vectorStore`).
    public var version: Int64
    /// Removals are recorded for every version after this one; older ones were
    /// pruned, so a matrix older than this is loaded whole again.
    public var removalsFloor: Int64
    /// Documents stored (`list_collections` only).
    public var count: Int?

    public init(name: String, dimension: Int?, metric: VectorMetric, incarnation: String, version: Int64,
                removalsFloor: Int64 = 0, count: Int? = nil) {
        self.name = name; self.dimension = dimension; self.metric = metric
        self.incarnation = incarnation; self.version = version; self.removalsFloor = removalsFloor; self.count = count
    }

    /// The floor to raise `removalsFloor` to after a removal, keeping the
    /// removals of the last `kept` versions; nil while it would rise by less
    /// than a tenth of that (pruning then runs once per `kept / 10` versions).
    public func prunedRemovalsFloor(keeping kept: Int64) -> Int64? {
        let floor = version - max(1, kept)
        return floor >= removalsFloor + max(1, kept / 10) ? floor : nil
    }

    /// The collection every `collection` parameter defaults to; adding to it creates it.
    public static let defaultName = "default"

    /// Refuses embeddings this collection cannot store (checked where the
    /// collection's row is locked, so a dimension set by a concurrent first
    /// add is seen): `-32602` naming the field.
    public func check(_ documents: [VectorDocument]) throws(ProxyError) {
        for (i, doc) in documents.enumerated() {
            guard let e = doc.embedding else { continue }
            if let dimension, e.count != dimension {
                throw .invalidParams(field: "embeddings[\(i)]",
                                     reason: "has \(e.count) components; collection \(name) has dimension \(dimension)")
            }
            // The matrix's own checks (the dimension checked above, with the collection's name).
            if let problem = VectorMatrix<Void>.problem(e, dimension: e.count, metric: metric) {
                throw .invalidParams(field: "embeddings[\(i)]", reason: problem.reason)
            }
        }
    }
}

extension VectorMatrix.Problem {
    /// For `-32602` messages naming the field (the vector's, or a query's `embedding`).
    public var reason: String {
        switch self {
        case .dimension(let expected, let got): return "has \(got) components; the collection's dimension is \(expected)"
        case .notFinite(let index): return "component \(index) is not a finite number"
        case .zeroVector: return "is the zero vector, which has no direction (the collection's metric is cosine)"
        case .tooLong(let norm):
            return "has length (Euclidean norm) \(norm), past \(VectorMatrix<Void>.largestNorm): dot and l2 scores would overflow float32"
        }
    }
}

/// One document as stored: text, metadata, and its embedding when it has one.
public struct VectorDocument: Sendable {
    public var id: String
    public var text: String
    public var metadata: JSONObject?
    public var embedding: [Float]?
    /// The embedder's model when the proxy made the embedding; nil when the client sent it (or there is none).
    public var embeddedBy: String?

    public init(id: String, text: String, metadata: JSONObject?, embedding: [Float]?, embeddedBy: String? = nil) {
        self.id = id; self.text = text; self.metadata = metadata; self.embedding = embedding; self.embeddedBy = embeddedBy
    }
}

/// What changed in a collection after a version: what a proxy's in-memory
/// matrix applies (removals first, then the rows), one page at a time.
public struct VectorChanges: Sendable {
    /// Where a page of written rows ends: rows go in (version, id) order.
    public struct Cursor: Sendable, Equatable {
        public var version: Int64
        public var id: String
        public init(version: Int64, id: String) { self.version = version; self.id = id }
    }

    /// The collection as of the page read; nil when it no longer exists.
    public var collection: VectorCollection?
    /// Ids removed after the version (first page only).
    public var removed: [String]
    /// Written or replaced rows; `embedding` nil: not embedded.
    public var written: [VectorDocument]
    /// Where the next page starts; nil when this one was the last.
    public var next: Cursor?

    public init(collection: VectorCollection?, removed: [String], written: [VectorDocument], next: Cursor?) {
        self.collection = collection; self.removed = removed; self.written = written; self.next = next
    }
}

/// The vector store's storage (`vector.*`), implemented by every backend.
/// The in-memory matrices and the ranking live above it (`VectorStore`).
/// Collection management runs on its own (no transaction); document writes
/// take an optional transaction like every other write.
public protocol VectorStorage: AnyObject {
    /// Creates the collection; an existing one with the same dimension and
    /// metric is returned as it is (created: false); with others, `-32002`.
    func createCollection(_ collection: VectorCollection, _ done: @escaping Completion<(VectorCollection, created: Bool)>)
    /// Every collection with its document count, by name.
    func listCollections(_ done: @escaping Completion<[VectorCollection]>)
    /// True when it existed; its documents go with it.
    func dropCollection(name: String, _ done: @escaping Completion<Bool>)
    /// The collection's current state (a search's freshness check); nil when unknown.
    func vectorCollection(name: String, _ done: @escaping Completion<VectorCollection?>)
    /// Inserts or replaces by id, after `VectorCollection.check`. An unknown
    /// collection is `-32602` (`default` is created).
    func putDocuments(_ documents: [VectorDocument], collection: String, in tx: TransactionID?, _ done: @escaping Completion<Void>)
    /// How many of the ids were stored (and are now gone). The removals of the
    /// last `removalsKept` versions are kept for other proxies to catch up;
    /// older ones are pruned (`VectorCollection.prunedRemovalsFloor`).
    func removeDocuments(ids: [String], collection: String, in tx: TransactionID?, removalsKept: Int64,
                         _ done: @escaping Completion<Int>)
    /// The changes after `version` (everything when nil): up to `limit`
    /// written rows after `cursor` (from the start when nil), and with the
    /// first page the removals, read in one snapshot. Pages bound what a
    /// load holds at once; rows written between pages come in later pages
    /// or at the next check of the collection's version.
    func vectorChanges(collection: String, after version: Int64?, from cursor: VectorChanges.Cursor?, limit: Int,
                       _ done: @escaping Completion<VectorChanges>)
    /// The documents with these ids (text and metadata; no embeddings), in no order.
    func documents(ids: [String], collection: String, _ done: @escaping Completion<[VectorDocument]>)
    /// Up to `limit` documents with no embedding that no embedder has refused
    /// (id and text), with their collections: the background pass's work.
    func unembeddedDocuments(limit: Int, _ done: @escaping Completion<[(collection: String, document: VectorDocument)]>)
    /// Stores embeddings made later (`embeddedBy` set; a nil embedding marks
    /// a text the embedder refused), each only if the document still has none
    /// and the same text. Returns how many were stored.
    func setEmbeddings(_ documents: [VectorDocument], collection: String, _ done: @escaping Completion<Int>)
    /// A reader for one thread's blocking use (a vector worker's) where the
    /// backend's reads block a thread anyway (SQLite): a search then checks
    /// its collection's version and reads its hits on the thread that ranks
    /// them, one thread hand-off instead of three. Nil where reads are
    /// asynchronous (PostgreSQL, on the loop): the calls above serve.
    func makeBlockingReader() throws(ProxyError) -> VectorBlockingReader?
}

extension VectorStorage {
    public func makeBlockingReader() throws(ProxyError) -> VectorBlockingReader? { nil }
}

/// `vectorCollection` and `documents`, answered on the calling thread; each
/// read is a snapshot of its own. One thread at a time.
public protocol VectorBlockingReader: AnyObject {
    func collection(name: String) throws(ProxyError) -> VectorCollection?
    func documents(ids: [String], collection: String) throws(ProxyError) -> [VectorDocument]
}

extension ProxyError {
    public static func unknownCollection(_ name: String) -> ProxyError {
        .invalidParams(field: "collection", reason: "names no collection: \(name) (vector.create_collection makes one)")
    }
}

extension VectorCollection {
    /// A late embedding this collection cannot take (another dimension, a
    /// zero vector under cosine) is kept as refused, so no pass tries it again.
    public func acceptingOrRefusing(_ doc: VectorDocument) -> VectorDocument {
        do {
            try check([doc])
            return doc
        } catch {
            var refused = doc
            refused.embedding = nil
            refused.embeddedBy = "refused by collection \(name): \(doc.embedding?.count ?? 0) components, dimension \(dimension ?? 0)"
            return refused
        }
    }
}
