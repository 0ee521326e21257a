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
}

extension SQLRow {
    public func json(_ column: Int) -> JSONValue? {
        guard let text = text(column) else { return nil }
        return (try? JSONParser.parse(text, maxDepth: 512)) ?? .string(text)
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
