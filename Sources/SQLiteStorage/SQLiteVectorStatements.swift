import ProxyCore
import SQLStore
import StoragePorts

/// The vector store's operations on one SQLite connection (`VectorStatements.sqlite`).
extension SQLiteConnection {
    private var vsql: VectorStatements { .sqlite }

    func vectorCollection(name: String) throws(ProxyError) -> VectorCollection? {
        var found: VectorCollection?
        try query(vsql.selectCollection, [.text(name)]) { row in found = vsql.collection(row) }
        return found
    }

    func createCollection(_ c: VectorCollection, now: Timestamp) throws(ProxyError) -> (VectorCollection, created: Bool) {
        let created = try execute(vsql.insertCollection, vsql.insertCollectionValues(c, now: now)) > 0
        guard let stored = try vectorCollection(name: c.name) else { throw .internalError("collection \(c.name) vanished") }
        return (stored, created)
    }

    func listCollections() throws(ProxyError) -> [VectorCollection] {
        var out: [VectorCollection] = []
        try query(vsql.listCollections) { row in out.append(vsql.collectionWithCount(row)) }
        return out
    }

    /// Bumps the collection's version, setting its dimension from the first
    /// embedding among `documents` if it has none yet.
    private func bump(_ name: String, for documents: [VectorDocument]) throws(ProxyError) -> VectorCollection {
        var bumped: VectorCollection?
        try query(vsql.bumpVersion, vsql.bumpValues(name, for: documents)) { row in bumped = vsql.collection(row) }
        guard let bumped else { throw .unknownCollection(name) }
        return bumped
    }

    func putDocuments(_ documents: [VectorDocument], collection: String, now: Timestamp) throws(ProxyError) {
        if collection == VectorCollection.defaultName {
            try execute(vsql.insertCollection, vsql.insertCollectionValues(VectorStatements.defaultCollection(), now: now))
        }
        let c = try bump(collection, for: documents)
        try c.check(documents)
        for range in VectorStatements.upsertChunks(documents.count) {
            try execute(vsql.upsertDocuments(count: range.count),
                        vsql.upsertValues(documents[range], collection: collection, version: c.version, now: now))
        }
        try execute(vsql.clearRemovals, [.text(collection), VectorStatements.idList(documents.map(\.id))])
    }

    func removeDocuments(ids: [String], collection: String, removalsKept: Int64) throws(ProxyError) -> Int {
        let c = try bump(collection, for: [])
        var removed: [String] = []
        try query(vsql.deleteDocuments, [.text(collection), VectorStatements.idList(ids)]) { row in removed.append(row.text(0) ?? "") }
        if !removed.isEmpty {
            try execute(vsql.recordRemovals, [.text(collection), .int(c.version), VectorStatements.idList(removed)])
        }
        if let floor = c.prunedRemovalsFloor(keeping: removalsKept) {
            try execute(vsql.raiseRemovalsFloor, [.int(floor), .text(collection)])
            try execute(vsql.pruneRemovals, [.text(collection), .int(floor)])
        }
        return removed.count
    }

    /// Read in one transaction: one snapshot of the collection and the page.
    func vectorChanges(collection: String, after version: Int64?, from cursor: VectorChanges.Cursor?, limit: Int) throws(ProxyError) -> VectorChanges {
        try execute(vsql.beginSnapshot)
        defer { _ = try? execute("COMMIT") }
        guard let c = try vectorCollection(name: collection) else { return VectorChanges(collection: nil, removed: [], written: [], next: nil) }
        var removed: [String] = []
        if let version, cursor == nil {
            try query(vsql.removalsAfter, [.text(collection), .int(version)]) { row in removed.append(row.text(0) ?? "") }
        }
        var written: [VectorDocument] = []
        var last: (id: String, version: Int64)?
        try query(vsql.documentsAfter, vsql.pageValues(collection: collection, after: version, from: cursor, limit: limit)) { row in
            written.append(vsql.writtenDocument(row))
            last = (written[written.count - 1].id, row.int(3) ?? 0)
        }
        return VectorChanges(collection: c, removed: removed, written: written,
                             next: VectorStatements.nextCursor(last, count: written.count, limit: limit))
    }

    func keywordSearch(collection: String, _ q: KeywordQuery) throws(ProxyError) -> [KeywordHit] {
        guard !q.words.isEmpty else { return [] }
        let statement = vsql.keywordSearch(collection: collection, q)
        var hits: [KeywordHit] = []
        try query(statement.sql, statement.values) { row in
            hits.append(KeywordHit(document: vsql.document(row), score: Double(row.text(3) ?? "") ?? 0))
        }
        return hits
    }

    func unembeddedDocuments(limit: Int) throws(ProxyError) -> [(collection: String, document: VectorDocument)] {
        var out: [(collection: String, document: VectorDocument)] = []
        try query(vsql.unembedded, [.int(Int64(limit))]) { row in
            out.append((row.text(0) ?? "", VectorDocument(id: row.text(1) ?? "", text: row.text(2) ?? "", metadata: nil, embedding: nil)))
        }
        return out
    }

    func setEmbeddings(_ documents: [VectorDocument], collection: String) throws(ProxyError) -> Int {
        let c = try bump(collection, for: documents)
        var stored = 0
        for doc in documents {
            stored += try execute(vsql.setEmbedding, vsql.setEmbeddingValues(c.acceptingOrRefusing(doc), collection: collection, version: c.version))
        }
        return stored
    }

    func documents(ids: [String], collection: String) throws(ProxyError) -> [VectorDocument] {
        var out: [VectorDocument] = []
        try query(vsql.documentsWithIDs, [.text(collection), VectorStatements.idList(ids)]) { row in out.append(vsql.document(row)) }
        return out
    }
}

extension SQLiteStorage: VectorStorage {
    public var vectors: VectorStorage { self }

    public func createCollection(_ collection: VectorCollection, _ done: @escaping Completion<(VectorCollection, created: Bool)>) {
        write(nil, done) { db throws(ProxyError) in try db.createCollection(collection, now: .now()) }
    }

    public func listCollections(_ done: @escaping Completion<[VectorCollection]>) {
        read(nil, done) { db throws(ProxyError) in try db.listCollections() }
    }

    public func dropCollection(name: String, _ done: @escaping Completion<Bool>) {
        write(nil, done) { db throws(ProxyError) in try db.execute(VectorStatements.sqlite.dropCollection, [.text(name)]) > 0 }
    }

    public func vectorCollection(name: String, _ done: @escaping Completion<VectorCollection?>) {
        read(nil, done) { db throws(ProxyError) in try db.vectorCollection(name: name) }
    }

    public func putDocuments(_ documents: [VectorDocument], collection: String, in tx: TransactionID?, _ done: @escaping Completion<Void>) {
        write(tx, done) { db throws(ProxyError) in try db.putDocuments(documents, collection: collection, now: .now()) }
    }

    public func removeDocuments(ids: [String], collection: String, in tx: TransactionID?, removalsKept: Int64,
                                _ done: @escaping Completion<Int>) {
        write(tx, done) { db throws(ProxyError) in try db.removeDocuments(ids: ids, collection: collection, removalsKept: removalsKept) }
    }

    public func vectorChanges(collection: String, after version: Int64?, from cursor: VectorChanges.Cursor?, limit: Int,
                              _ done: @escaping Completion<VectorChanges>) {
        read(nil, done) { db throws(ProxyError) in try db.vectorChanges(collection: collection, after: version, from: cursor, limit: limit) }
    }

    public func keywordSearch(collection: String, _ query: KeywordQuery, _ done: @escaping Completion<[KeywordHit]>) {
        read(nil, done) { db throws(ProxyError) in try db.keywordSearch(collection: collection, query) }
    }

    public func documents(ids: [String], collection: String, _ done: @escaping Completion<[VectorDocument]>) {
        read(nil, done) { db throws(ProxyError) in try db.documents(ids: ids, collection: collection) }
    }

    public func unembeddedDocuments(limit: Int, _ done: @escaping Completion<[(collection: String, document: VectorDocument)]>) {
        read(nil, done) { db throws(ProxyError) in try db.unembeddedDocuments(limit: limit) }
    }

    public func setEmbeddings(_ documents: [VectorDocument], collection: String, _ done: @escaping Completion<Int>) {
        write(nil, done) { db throws(ProxyError) in try db.setEmbeddings(documents, collection: collection) }
    }
}
