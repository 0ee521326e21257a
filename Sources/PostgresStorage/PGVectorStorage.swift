import ProxyCore
import SQLStore
import StoragePorts

/// The vector store on PostgreSQL (`VectorStatements.postgresql`). A call of
/// several statements sends them all at once (pipelined) and reads their
/// answers in order in the last one's callback.
extension PostgresStorage: VectorStorage {
    public var vectors: VectorStorage { self }
    private var vsql: VectorStatements { .postgresql }

    public func createCollection(_ collection: VectorCollection, _ done: @escaping Completion<(VectorCollection, created: Bool)>) {
        withConnection(nil, done) { [vsql] connection, done in
            var inserted: Result<Bool, ProxyError> = .success(false)
            connection.query(vsql.insertCollection, vsql.insertCollectionValues(collection, now: .now())) { r in
                inserted = r.map { $0.affectedRows > 0 }
            }
            connection.query(vsql.selectCollection, [.text(collection.name)]) { r in
                done(Result { () throws(ProxyError) in
                    let created = try inserted.get()
                    guard let row = try r.get().rows.first else { throw .internalError("collection \(collection.name) vanished") }
                    return (vsql.collection(row), created)
                })
            }
        }
    }

    public func listCollections(_ done: @escaping Completion<[VectorCollection]>) {
        run(nil, vsql.listCollections, [], done) { [vsql] r in r.rows.map { vsql.collectionWithCount($0) } }
    }

    public func dropCollection(name: String, _ done: @escaping Completion<Bool>) {
        run(nil, vsql.dropCollection, [.text(name)], writes: true, done) { $0.affectedRows > 0 }
    }

    public func vectorCollection(name: String, _ done: @escaping Completion<VectorCollection?>) {
        run(nil, vsql.selectCollection, [.text(name)], done) { [vsql] r in r.rows.first.map { vsql.collection($0) } }
    }

    /// Bumps the collection's version first (its row lock orders concurrent
    /// writers), checks the documents against it, then writes them.
    public func putDocuments(_ documents: [VectorDocument], collection: String, in tx: TransactionID?, _ done: @escaping Completion<Void>) {
        let now = Timestamp.now()
        inUnit(tx, done) { [vsql] connection, done in
            if collection == VectorCollection.defaultName {
                connection.query(vsql.insertCollection, vsql.insertCollectionValues(VectorStatements.defaultCollection(), now: now)) { _ in }
            }
            Self.bump(connection, collection, for: documents, done) { c in
                do throws(ProxyError) { try c.check(documents) } catch { return done(.failure(error)) }
                var failure: ProxyError?
                for range in VectorStatements.upsertChunks(documents.count) {
                    connection.query(vsql.upsertDocuments(count: range.count),
                                     vsql.upsertValues(documents[range], collection: collection, version: c.version, now: now)) { r in
                        if case .failure(let e) = r, failure == nil { failure = e }
                    }
                }
                connection.query(vsql.clearRemovals, [.text(collection), VectorStatements.idList(documents.map(\.id))]) { r in
                    done(failure.map { .failure($0) } ?? r.map { _ in () })
                }
            }
        }
    }

    public func removeDocuments(ids: [String], collection: String, in tx: TransactionID?, removalsKept: Int64,
                                _ done: @escaping Completion<Int>) {
        inUnit(tx, done) { [vsql] connection, done in
            Self.bump(connection, collection, for: [], done) { c in
                connection.query(vsql.deleteDocuments, [.text(collection), VectorStatements.idList(ids)]) { deleted in
                    let removed: [String]
                    switch deleted {
                    case .failure(let e): return done(.failure(e))
                    case .success(let r): removed = r.rows.compactMap { $0.text(0) }
                    }
                    var statements: [(String, [SQLValue])] = []
                    if !removed.isEmpty {
                        statements.append((vsql.recordRemovals, [.text(collection), .int(c.version), VectorStatements.idList(removed)]))
                    }
                    if let floor = c.prunedRemovalsFloor(keeping: removalsKept) {
                        statements.append((vsql.raiseRemovalsFloor, [.int(floor), .text(collection)]))
                        statements.append((vsql.pruneRemovals, [.text(collection), .int(floor)]))
                    }
                    guard !statements.isEmpty else { return done(.success(0)) }
                    var failure: ProxyError?
                    for (i, (sql, values)) in statements.enumerated() {  // pipelined; answered in order
                        connection.query(sql, values) { r in
                            if case .failure(let e) = r, failure == nil { failure = e }
                            if i == statements.count - 1 { done(failure.map { .failure($0) } ?? .success(removed.count)) }
                        }
                    }
                }
            }
        }
    }

    /// One REPEATABLE READ snapshot: the collection's version and the rows agree.
    public func vectorChanges(collection: String, after version: Int64?, from cursor: VectorChanges.Cursor?, limit: Int,
                              _ done: @escaping Completion<VectorChanges>) {
        withConnection(nil, done) { [vsql] connection, done in
            var state: Result<VectorCollection?, ProxyError> = .success(nil)
            var removed: Result<[String], ProxyError> = .success([])
            connection.query(vsql.beginSnapshot) { r in if case .failure(let e) = r { state = .failure(e) } }
            connection.query(vsql.selectCollection, [.text(collection)]) { r in
                if case .success = state { state = r.map { $0.rows.first.map { vsql.collection($0) } } }
            }
            let removalsFrom = cursor == nil ? version ?? Int64.max : Int64.max  // removals come with the first page
            connection.query(vsql.removalsAfter, [.text(collection), .int(removalsFrom)]) { r in
                removed = r.map { $0.rows.compactMap { $0.text(0) } }
            }
            connection.query(vsql.documentsAfter, vsql.pageValues(collection: collection, after: version, from: cursor, limit: limit)) { r in
                let changes = Result { () throws(ProxyError) in
                    let rows = try r.get().rows
                    let last = rows.last.map { (id: $0.text(0) ?? "", version: $0.int(3) ?? 0) }
                    return VectorChanges(collection: try state.get(), removed: try removed.get(), written: rows.map { vsql.writtenDocument($0) },
                                         next: VectorStatements.nextCursor(last, count: rows.count, limit: limit))
                }
                connection.query("COMMIT") { _ in done(changes) }
            }
        }
    }

    public func keywordSearch(collection: String, _ query: KeywordQuery, _ done: @escaping Completion<[KeywordHit]>) {
        guard !query.words.isEmpty else { return done(.success([])) }
        let statement = vsql.keywordSearch(collection: collection, query)
        run(nil, statement.sql, statement.values, done) { [vsql] r in
            r.rows.map { KeywordHit(document: vsql.document($0), score: Double($0.text(3) ?? "") ?? 0) }
        }
    }

    public func documents(ids: [String], collection: String, _ done: @escaping Completion<[VectorDocument]>) {
        run(nil, vsql.documentsWithIDs, [.text(collection), VectorStatements.idList(ids)], done) { [vsql] r in
            r.rows.map { vsql.document($0) }
        }
    }

    public func unembeddedDocuments(limit: Int, _ done: @escaping Completion<[(collection: String, document: VectorDocument)]>) {
        run(nil, vsql.unembedded, [.int(Int64(limit))], done) { r in
            r.rows.map { ($0.text(0) ?? "", VectorDocument(id: $0.text(1) ?? "", text: $0.text(2) ?? "", metadata: nil, embedding: nil)) }
        }
    }

    public func setEmbeddings(_ documents: [VectorDocument], collection: String, _ done: @escaping Completion<Int>) {
        inUnit(nil, done) { [vsql] connection, done in
            Self.bump(connection, collection, for: documents, done) { c in
                var stored = 0, failure: ProxyError?, left = documents.count
                guard left > 0 else { return done(.success(0)) }
                for doc in documents {
                    connection.query(vsql.setEmbedding, vsql.setEmbeddingValues(c.acceptingOrRefusing(doc), collection: collection, version: c.version)) { r in
                        switch r {
                        case .success(let result): stored += result.affectedRows
                        case .failure(let e): failure = failure ?? e
                        }
                        left -= 1
                        if left == 0 { done(failure.map { .failure($0) } ?? .success(stored)) }
                    }
                }
            }
        }
    }

    /// The first statement of every write to a collection: bumps its version
    /// (locking its row until the write commits, so versions commit in
    /// order), setting its dimension from `documents` if it has none; then
    /// `body` with it. An unknown collection fails `done`.
    private static func bump<T>(_ connection: PGConnection, _ collection: String, for documents: [VectorDocument],
                                _ done: @escaping Completion<T>, _ body: @escaping (VectorCollection) -> Void) {
        let vsql = VectorStatements.postgresql
        connection.query(vsql.bumpVersion, vsql.bumpValues(collection, for: documents)) { bumped in
            switch bumped {
            case .failure(let e): done(.failure(e))
            case .success(let r):
                guard let row = r.rows.first else { return done(.failure(.unknownCollection(collection))) }
                body(vsql.collection(row))
            }
        }
    }

    /// A write of several statements: on the client's transaction in a
    /// savepoint, or on a leased connection in a transaction of its own.
    private func inUnit<T>(_ tx: TransactionID?, _ done: @escaping Completion<T>,
                           _ body: @escaping (PGConnection, @escaping Completion<T>) -> Void) {
        withConnection(tx, done) { connection, done in
            PGUnit(connection: connection, inTransaction: tx != nil).run(body, done)
        }
    }
}
