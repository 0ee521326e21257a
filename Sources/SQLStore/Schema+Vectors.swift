extension Schema {
    /// The vector store (`vector.*`): collections, their documents, and what
    /// each proxy needs to keep its in-memory matrices current.
    ///
    /// Every write to a collection bumps its `version` first (which also
    /// locks its row until the write commits, so versions commit in order)
    /// and stamps the rows it writes with it: a proxy holding a matrix at
    /// version v reads the documents and removals stamped after v. The
    /// `incarnation` changes when a collection is dropped and made again.
    /// Embeddings are float32 little-endian bytes; NULL when a document has
    /// none (yet): `embedded_by` names the embedder's model when the proxy
    /// made it, NULL when the client sent it.
    ///
    /// `vector_removals` keeps the ids removed after `removals_floor` (version 6):
    /// older ones are pruned, and a proxy whose matrix is older than the floor
    /// loads the collection whole instead of catching up.
    ///
    /// Keyword search was SQL until version 9: SQLite's FTS5 over the
    /// documents (an external-content table kept by triggers, keyed by an
    /// integer alias of the rowid), PostgreSQL's `tsvector` (a generated
    /// column, GIN). Version 9 drops both (`keywordIndexDropped`).
    static func vectorStore(_ d: SQLDialect) -> String {
        let sqlite = d == .sqlite
        return """
            CREATE TABLE IF NOT EXISTS vector_collections (
                name TEXT PRIMARY KEY,
                dimension INTEGER,
                metric TEXT NOT NULL,
                incarnation TEXT NOT NULL,
                version BIGINT NOT NULL DEFAULT 0,
                created_at \(d.timeType) NOT NULL
            );
            CREATE TABLE IF NOT EXISTS vector_documents (
                \(sqlite ? "rowid_key INTEGER PRIMARY KEY," : "")
                collection TEXT NOT NULL REFERENCES vector_collections(name) ON DELETE CASCADE,
                id TEXT NOT NULL,
                document TEXT NOT NULL,
                metadata \(d.jsonType),
                embedding \(sqlite ? "BLOB" : "BYTEA"),
                embedded_by TEXT,
                version BIGINT NOT NULL,
                created_at \(d.timeType) NOT NULL,
                updated_at \(d.timeType) NOT NULL,
                \(sqlite ? "UNIQUE (collection, id)" : """
                search tsvector GENERATED ALWAYS AS (to_tsvector('english', document)) STORED,
                    PRIMARY KEY (collection, id)
                """)
            );
            CREATE INDEX IF NOT EXISTS idx_vector_documents_version ON vector_documents(collection, version);
            CREATE INDEX IF NOT EXISTS idx_vector_documents_unembedded ON vector_documents(collection, id)
                WHERE embedding IS NULL AND embedded_by IS NULL;
            CREATE TABLE IF NOT EXISTS vector_removals (
                collection TEXT NOT NULL REFERENCES vector_collections(name) ON DELETE CASCADE,
                id TEXT NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (collection, id)
            );
            CREATE INDEX IF NOT EXISTS idx_vector_removals_version ON vector_removals(collection, version);
            \(sqlite ? sqliteKeywordIndex : "CREATE INDEX IF NOT EXISTS idx_vector_documents_search ON vector_documents USING GIN (search);")
            """
    }

    /// Version 9: keyword search ranks in each proxy's memory (`KeywordIndex`:
    /// one BM25 on both backends), so the databases' own full-text indexes
    /// only cost every write their upkeep. The documents are untouched.
    static func keywordIndexDropped(_ d: SQLDialect) -> String {
        d == .sqlite ? """
            DROP TRIGGER IF EXISTS vector_documents_fts_insert;
            DROP TRIGGER IF EXISTS vector_documents_fts_delete;
            DROP TRIGGER IF EXISTS vector_documents_fts_update;
            DROP TABLE IF EXISTS vector_documents_fts;
            """ : """
            DROP INDEX IF EXISTS idx_vector_documents_search;
            ALTER TABLE vector_documents DROP COLUMN IF EXISTS search;
            """
    }

    private static let sqliteKeywordIndex = """
        CREATE VIRTUAL TABLE IF NOT EXISTS vector_documents_fts USING fts5(
            document, content='vector_documents', content_rowid='rowid_key', tokenize='porter unicode61');
        CREATE TRIGGER IF NOT EXISTS vector_documents_fts_insert AFTER INSERT ON vector_documents BEGIN
            INSERT INTO vector_documents_fts(rowid, document) VALUES (new.rowid_key, new.document);
        END;
        CREATE TRIGGER IF NOT EXISTS vector_documents_fts_delete AFTER DELETE ON vector_documents BEGIN
            INSERT INTO vector_documents_fts(vector_documents_fts, rowid, document) VALUES ('delete', old.rowid_key, old.document);
        END;
        CREATE TRIGGER IF NOT EXISTS vector_documents_fts_update AFTER UPDATE OF document ON vector_documents BEGIN
            INSERT INTO vector_documents_fts(vector_documents_fts, rowid, document) VALUES ('delete', old.rowid_key, old.document);
            INSERT INTO vector_documents_fts(rowid, document) VALUES (new.rowid_key, new.document);
        END;
        """
}
