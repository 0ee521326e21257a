import SQLStore

/// PostgreSQL's text form of a one-dimensional array (`{"a","b",NULL}`):
/// how one parameter carries a column of many rows (`unnest($1::text[])`).
/// Every element is quoted; inside quotes only `\` and `"` need escaping.
/// Built as UTF-8 bytes: appending to a String scalar by scalar costs a
/// character-boundary check each (the proxy's top cost in the first profile).
enum PGArrayLiteral {
    static func text(_ values: some Sequence<SQLValue>) -> SQLValue {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(256)
        var first = true
        for value in values {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            guard let text = value.pgText else { out += "NULL".utf8; continue }
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return .text(String(decoding: out, as: UTF8.self))
    }
}
