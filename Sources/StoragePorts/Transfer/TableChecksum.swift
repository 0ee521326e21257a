import ProxyCore

/// A table's row count and content checksum, comparable across backends.
///
/// Each row is written as canonical JSON (every column, object members
/// sorted by key, so PostgreSQL's `jsonb` member order does not matter) and
/// hashed to 64 bits; the table's checksum is the sum of its rows' hashes.
/// A sum does not depend on row order: SQLite and PostgreSQL order text keys
/// differently (byte order against the database's collation).
public struct TableSummary: Equatable, Sendable {
    public var rows = 0
    public var checksum: UInt64 = 0

    public init() {}

    public mutating func add(_ row: StoredRow) {
        rows += 1
        checksum &+= Self.hash(row)
    }

    /// The checksum as people compare it: 16 hex digits.
    public var hex: String {
        let digits = String(checksum, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public static func hash(_ row: StoredRow) -> UInt64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        JSONWriter.string(row.table.rawValue, into: &bytes)
        writeCanonical(.object(row.columns), into: &bytes)
        // FNV-1a over the bytes, then MurmurHash3's finalizer: FNV alone mixes
        // its last bytes poorly, and a sum of hashes needs every bit mixed.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h ^= h >> 33; h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33; h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// JSON with object members in key order (byte order), recursively.
    static func writeCanonical(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, m) in o.members.sorted(by: { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.string(m.key, into: &out)
                out.append(UInt8(ascii: ":"))
                writeCanonical(m.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeCanonical(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            value.writeJSON(into: &out)
        }
    }

    /// Reads a whole table through `store` (inside whatever snapshot it holds).
    public static func of(_ table: StoredTable, in store: TableStore, batchSize: Int = 1000) throws(ProxyError) -> TableSummary {
        var summary = TableSummary()
        try store.scan(table, batchSize: batchSize) { batch in for row in batch { summary.add(row) } }
        return summary
    }
}
