import ProxyCore

/// One result row, as each driver exposes it. The codec (`RowCodec`) reads
/// every stored record through these two, so records are decoded once for
/// both backends.
public protocol SQLRow {
    /// The column's text; nil for NULL.
    func text(_ column: Int) -> String?
    /// The column as an integer; nil for NULL.
    func int(_ column: Int) -> Int64?
    /// A JSON column; text that is not JSON (written by hand) comes back as a
    /// string. Drivers may parse their own bytes without making a String.
    func json(_ column: Int) -> JSONValue?
    /// A vector stored as float32 little-endian bytes (BLOB, BYTEA); nil for
    /// NULL or for bytes that are not whole floats.
    func float32s(_ column: Int) -> [Float]?
    /// A BLOB or BYTEA column's bytes as stored; nil for NULL.
    func bytes(_ column: Int) -> [UInt8]?
}

extension SQLRow {
    public func json(_ column: Int) -> JSONValue? {
        guard let text = text(column) else { return nil }
        return (try? JSONParser.parse(text, maxDepth: 512)) ?? .string(text)
    }

    /// From PostgreSQL's text form of BYTEA (`\\x` then two hex digits a byte).
    public func float32s(_ column: Int) -> [Float]? {
        bytes(column).flatMap { b in b.withUnsafeBytes { Float32Bytes.decode($0) } }
    }

    public func bytes(_ column: Int) -> [UInt8]? {
        text(column).flatMap { Float32Bytes.fromHex($0.utf8) }
    }
}

/// Vectors as stored: float32, little-endian, one after another.
public enum Float32Bytes {
    public static func encode(_ vector: [Float]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(vector.count * 4)
        for f in vector { withUnsafeBytes(of: f.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) -> [Float]? {
        guard bytes.count % 4 == 0 else { return nil }
        return (0..<bytes.count / 4).map { i in
            Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        }
    }

    /// PostgreSQL's BYTEA text form, `\\x` then two hex digits a byte.
    static func fromHex(_ text: String.UTF8View) -> [UInt8]? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count / 2)
        var it = text.makeIterator()
        guard it.next() == UInt8(ascii: "\\"), it.next() == UInt8(ascii: "x") else { return nil }
        while let high = it.next() {
            guard let low = it.next(), let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension SQLDialect {
    func bool(_ row: some SQLRow, _ column: Int) -> Bool {
        self == .sqlite ? row.int(column).map { $0 != 0 } ?? false : row.text(column) == "t"
    }

    /// A time column read with `readTime`.
    func time(_ row: some SQLRow, _ column: Int) -> Timestamp? {
        switch self {
        case .sqlite: return row.text(column).flatMap { Timestamp(rfc3339: $0) }
        case .postgresql: return row.int(column).map { Timestamp(microseconds: $0) }
        }
    }
}
