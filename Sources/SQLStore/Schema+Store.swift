extension Schema {
    /// LangGraph's long-term store (`store.*`, `BaseStore`): JSON documents by
    /// (namespace, key), shared across threads.
    ///
    /// - `store_items`: `prefix` is the namespace's labels joined by "."
    ///   (LangGraph refuses labels holding one, as its PostgreSQL store joins
    ///   them), so a namespace prefix is a key range; `expires_at` (epoch
    ///   microseconds, so either database adds a TTL in SQL) and
    ///   `ttl_minutes` when the item has a TTL (reads refresh it, a sweeper
    ///   deletes what expired).
    /// - `store_vectors`: an item's embeddings, one per indexed field (the
    ///   client's embedder made them), for `query` searches; they go with
    ///   their item.
    static func store(_ d: SQLDialect) -> String {
        let key = d == .sqlite ? "TEXT" : "TEXT COLLATE \"C\""
        return """
            CREATE TABLE IF NOT EXISTS store_items (
                prefix \(key) NOT NULL,
                key \(key) NOT NULL,
                value \(d.jsonType) NOT NULL,
                created_at \(d.timeType) NOT NULL,
                updated_at \(d.timeType) NOT NULL,
                expires_at BIGINT,
                ttl_minutes \(d == .sqlite ? "REAL" : "DOUBLE PRECISION"),
                PRIMARY KEY (prefix, key)
            );
            CREATE INDEX IF NOT EXISTS idx_store_items_expires ON store_items(expires_at) WHERE expires_at IS NOT NULL;
            CREATE TABLE IF NOT EXISTS store_vectors (
                prefix \(key) NOT NULL,
                key \(key) NOT NULL,
                field TEXT NOT NULL,
                embedding \(d == .sqlite ? "BLOB" : "BYTEA") NOT NULL,
                PRIMARY KEY (prefix, key, field),
                FOREIGN KEY (prefix, key) REFERENCES store_items(prefix, key) ON DELETE CASCADE
            );
            """
    }
}
