import ProxyCore
import StoragePorts

/// The vector store's tables (`VectorStorage`) over any backend's executor,
/// written once: every write to a collection bumps its version first (on
/// PostgreSQL that locks its row, so versions commit in order), checks the
/// documents against it, then writes rows stamped with it.
public final class SQLVectorStorage: VectorStorage {
    /// The backend this belongs to (it owns this object).
    private unowned let runner: OperationRunner

    /// Opens a connection whose steps complete on the calling thread (SQLite's); nil: none.
    private let openBlocking: (() throws(ProxyError) -> UnitSteps)?

    public init(_ runner: OperationRunner, openBlocking: (() throws(ProxyError) -> UnitSteps)? = nil) {
        self.runner = runner
        self.openBlocking = openBlocking
    }

    public func makeBlockingReader() throws(ProxyError) -> VectorBlockingReader? {
        try openBlocking.map { open throws(ProxyError) in SQLVectorReader(try open()) }
    }

    public func createCollection(_ collection: VectorCollection, _ done: @escaping Completion<(VectorCollection, created: Bool)>) {
        let now = Timestamp.now()
        runner.run(Unit(.write) { steps, done in
            var created: Result<Bool, ProxyError> = .success(false)
            steps.run(VectorOperations.insert(collection, now: now)) { created = $0 }
            steps.run(VectorOperations.collection(collection.name)) { found in
                done(Result { () throws(ProxyError) in
                    guard let stored = try found.get() else { throw .internalError("collection \(collection.name) vanished") }
                    return (stored, try created.get())
                })
            }
        }, in: nil, done)
    }

    public func listCollections(_ done: @escaping Completion<[VectorCollection]>) {
        runner.run(.all { d in (VectorStatements[d].listCollections, []) } decode: { row, d in VectorStatements[d].collectionWithCount(row) },
                   in: nil, done)
    }

    public func dropCollection(name: String, _ done: @escaping Completion<Bool>) {
        runner.run(.changed(nil) { d in (VectorStatements[d].dropCollection, [.text(name)]) }, in: nil, done)
    }

    public func vectorCollection(name: String, _ done: @escaping Completion<VectorCollection?>) {
        runner.run(VectorOperations.collection(name), in: nil, done)
    }

    public func putDocuments(_ documents: [VectorDocument], collection: String, in tx: TransactionID?, _ done: @escaping Completion<Void>) {
        let now = Timestamp.now()
        runner.run(Unit(.write) { steps, done in
            if collection == VectorCollection.defaultName {
                steps.run(VectorOperations.insert(VectorStatements.defaultCollection(), now: now)) { _ in }
            }
            VectorOperations.bump(steps, collection, for: documents, done) { c in
                do throws(ProxyError) { try c.check(documents) } catch { return done(.failure(error)) }
                var writes = VectorStatements.upsertChunks(documents.count).map { range in
                    Operation<Void>.done(nil) { d in
                        (VectorStatements[d].upsertDocuments(count: range.count),
                         VectorStatements[d].upsertValues(documents[range], collection: collection, version: c.version, now: now))
                    }
                }
                writes.append(.done(nil) { d in (VectorStatements[d].clearRemovals, [.text(collection), VectorStatements.idList(documents.map(\.id))]) })
                steps.all(writes, then: (), done)
            }
        }, in: tx, done)
    }

    public func removeDocuments(ids: [String], collection: String, in tx: TransactionID?, removalsKept: Int64,
                                _ done: @escaping Completion<Int>) {
        runner.run(Unit(.write) { steps, done in
            VectorOperations.bump(steps, collection, for: [], done) { c in
                let delete = Operation<[String]>.all(.write(nil)) { d in
                    (VectorStatements[d].deleteDocuments, [.text(collection), VectorStatements.idList(ids)])
                } decode: { row, _ in row.text(0) ?? "" }
                steps.run(delete) { deleted in
                    guard case .success(let removed) = deleted else { return done(deleted.map(\.count)) }
                    var writes: [Operation<Void>] = []
                    if !removed.isEmpty {
                        writes.append(.done(nil) { d in
                            (VectorStatements[d].recordRemovals, [.text(collection), .int(c.version), VectorStatements.idList(removed)])
                        })
                    }
                    if let floor = c.prunedRemovalsFloor(keeping: removalsKept) {
                        writes.append(.done(nil) { d in (VectorStatements[d].raiseRemovalsFloor, [.int(floor), .text(collection)]) })
                        writes.append(.done(nil) { d in (VectorStatements[d].pruneRemovals, [.text(collection), .int(floor)]) })
                    }
                    steps.all(writes, then: removed.count, done)
                }
            }
        }, in: tx, done)
    }

    /// One snapshot: the collection's version and the rows agree.
    public func vectorChanges(collection: String, after version: Int64?, from cursor: VectorChanges.Cursor?, limit: Int,
                              _ done: @escaping Completion<VectorChanges>) {
        runner.run(Unit(.snapshot) { steps, done in
            var state: Result<VectorCollection?, ProxyError> = .success(nil)
            var removed: Result<[String], ProxyError> = .success([])
            steps.run(VectorOperations.collection(collection)) { state = $0 }
            if let version, cursor == nil {  // removals come with the first page
                steps.run(.all { d in (VectorStatements[d].removalsAfter, [.text(collection), .int(version)]) } decode: { row, _ in
                    row.text(0) ?? ""
                }) { removed = $0 }
            }
            let page = Operation<[(doc: VectorDocument, version: Int64)]>.all { d in
                (VectorStatements[d].documentsAfter, VectorStatements[d].pageValues(collection: collection, after: version, from: cursor, limit: limit))
            } decode: { row, d in (VectorStatements[d].writtenDocument(row), row.int(3) ?? 0) }
            steps.run(page) { rows in
                done(Result { () throws(ProxyError) in
                    guard let c = try state.get() else { return VectorChanges(collection: nil, removed: [], written: [], next: nil) }
                    let rows = try rows.get()
                    let last = rows.last.map { (id: $0.doc.id, version: $0.version) }
                    return VectorChanges(collection: c, removed: try removed.get(), written: rows.map(\.doc),
                                         next: VectorStatements.nextCursor(last, count: rows.count, limit: limit))
                })
            }
        }, in: nil, done)
    }

    public func documents(ids: [String], collection: String, _ done: @escaping Completion<[VectorDocument]>) {
        runner.run(VectorOperations.documents(ids: ids, collection: collection), in: nil, done)
    }

    public func unembeddedDocuments(limit: Int, _ done: @escaping Completion<[(collection: String, document: VectorDocument)]>) {
        runner.run(.all { d in (VectorStatements[d].unembedded, [.int(Int64(limit))]) } decode: { row, _ in
            (row.text(0) ?? "", VectorDocument(id: row.text(1) ?? "", text: row.text(2) ?? "", metadata: nil, embedding: nil))
        }, in: nil, done)
    }

    public func setEmbeddings(_ documents: [VectorDocument], collection: String, _ done: @escaping Completion<Int>) {
        runner.run(Unit(.write) { steps, done in
            VectorOperations.bump(steps, collection, for: documents, done) { c in
                guard !documents.isEmpty else { return done(.success(0)) }
                var stored = 0, failure: ProxyError?
                for (i, doc) in documents.enumerated() {
                    let set = Operation<Int>.count(nil) { d in
                        (VectorStatements[d].setEmbedding, VectorStatements[d].setEmbeddingValues(c.acceptingOrRefusing(doc), collection: collection, version: c.version))
                    }
                    steps.run(set) { r in
                        switch r {
                        case .success(let n): stored += n
                        case .failure(let e): failure = failure ?? e
                        }
                        if i == documents.count - 1 { done(failure.map { .failure($0) } ?? .success(stored)) }
                    }
                }
            }
        }, in: nil, done)
    }
}

/// The statements the vector store's units are made of.
enum VectorOperations {
    static func collection(_ name: String) -> Operation<VectorCollection?> {
        .one { d in (VectorStatements[d].selectCollection, [.text(name)]) } decode: { row, d in VectorStatements[d].collection(row) }
    }

    static func documents(ids: [String], collection: String) -> Operation<[VectorDocument]> {
        .all { d in (VectorStatements[d].documentsWithIDs, [.text(collection), VectorStatements.idList(ids)]) } decode: { row, d in
            VectorStatements[d].document(row)
        }
    }

    /// True when it was not there yet.
    static func insert(_ c: VectorCollection, now: Timestamp) -> Operation<Bool> {
        .changed(nil) { d in (VectorStatements[d].insertCollection, VectorStatements[d].insertCollectionValues(c, now: now)) }
    }

    /// The first step of every write to a collection: bumps its version
    /// (setting its dimension from `documents` if it has none), then `body`
    /// with it. An unknown collection fails `done`.
    static func bump<T>(_ steps: UnitSteps, _ collection: String, for documents: [VectorDocument], _ done: @escaping Completion<T>,
                        _ body: @escaping (VectorCollection) -> Void) {
        let bump = Operation<VectorCollection?>.one(.write(nil)) { d in
            (VectorStatements[d].bumpVersion, VectorStatements[d].bumpValues(collection, for: documents))
        } decode: { row, d in VectorStatements[d].collection(row) }
        steps.run(bump) { bumped in
            switch bumped {
            case .failure(let e): done(.failure(e))
            case .success(nil): done(.failure(.unknownCollection(collection)))
            case .success(let c?): body(c)
            }
        }
    }
}

/// `VectorBlockingReader` over a connection whose steps complete before
/// `run` returns (SQLite's, owned by the thread that uses this).
final class SQLVectorReader: VectorBlockingReader {
    private let steps: UnitSteps

    init(_ steps: UnitSteps) { self.steps = steps }

    func collection(name: String) throws(ProxyError) -> VectorCollection? { try now(VectorOperations.collection(name)) }

    func documents(ids: [String], collection: String) throws(ProxyError) -> [VectorDocument] {
        try now(VectorOperations.documents(ids: ids, collection: collection))
    }

    private func now<T>(_ operation: Operation<T>) throws(ProxyError) -> T {
        var outcome: Result<T, ProxyError> = .failure(.internalError("a blocking read did not complete"))
        steps.run(operation) { outcome = $0 }
        return try outcome.get()
    }
}
