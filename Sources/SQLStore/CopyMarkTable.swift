import ProxyCore

/// The table in the target that holds copy marks. Not part of the schema:
/// created by the first copy into a database and emptied when a copy verifies.
public enum CopyMarkTable {
    public static let name = "storage_proxy_copy_marks"
    public static let create = """
        CREATE TABLE IF NOT EXISTS \(name) (
            source TEXT NOT NULL,
            tbl TEXT NOT NULL,
            last_key TEXT NOT NULL,
            row_count BIGINT NOT NULL,
            merge_mode INTEGER NOT NULL,
            PRIMARY KEY (source, tbl)
        )
        """
}

extension CopyMarkTable {
    // `$n` parameters: SQLite numbers them as PostgreSQL does.
    public static let upsert = """
        INSERT INTO \(name) (source, tbl, last_key, row_count, merge_mode) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (source, tbl) DO UPDATE SET last_key = excluded.last_key, row_count = excluded.row_count
        """
    public static let select = "SELECT tbl, last_key, row_count, merge_mode FROM \(name) WHERE source = $1"
    public static let delete = "DELETE FROM \(name) WHERE source = $1"
}
