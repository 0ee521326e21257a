import ProxyCore
import StoragePorts

/// `save_metadata`, `get_metadata`: any JSON value under a key. Reads are
/// cached as `meta:{key}` (own version) and listings in the `meta-lists`
/// group; every write retires its key and every listing.
public enum MetadataOperations {
    static let listings = "meta-lists"

    static func entry(_ key: String) -> CacheEntry { CacheEntry(key: "meta:" + CacheKeys.escape(key), ttl: 300) }
    static func wrote(_ key: String) -> CacheInvalidation { CacheInvalidation(keys: [entry(key).key], groups: [listings]) }

    public static func save(key: String, value: JSONValue) -> Operation<Void> {
        .done(.metadata(key), cache: .retiring(wrote(key))) { d in (Statements[d].saveMetadata, [.text(key), .text(value.jsonText)]) }
    }

    /// The value, or nil when the key is not stored.
    public static func get(key: String) -> Operation<JSONValue?> {
        .one(cache: .keep(entry(key))) { d in (Statements[d].getMetadata, [.text(key)]) } decode: { row, _ in row.json(0) ?? .null }
    }
}
