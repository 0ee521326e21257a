import ProxyCore

/// Buffers an export's bytes and hands them on in 64 KiB pieces, so a dump
/// of any size streams through a small buffer.
public struct ExportWriter {
    private var buffer: [UInt8] = []
    private let sink: ([UInt8]) -> Void

    public init(_ sink: @escaping ([UInt8]) -> Void) {
        self.sink = sink
        buffer.reserveCapacity(1 << 16)
    }

    public mutating func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// For writers that encode straight into bytes (JSON).
    public mutating func append(_ write: (inout [UInt8]) -> Void) {
        write(&buffer)
        if buffer.count >= 1 << 16 { flush() }
    }

    public mutating func flush() {
        guard !buffer.isEmpty else { return }
        sink(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// `export --format jsonl`: one line per row, `{"table":"tasks","row":{…}}`,
/// every column by name (JSON columns as JSON, times as RFC 3339), tables in
/// copy order (tasks before the logs that need them), rows in key order.
public enum JSONLinesExport {
    @discardableResult
    public static func write(_ store: TableStore, batchSize: Int = 1000, into out: inout ExportWriter) throws(ProxyError) -> [StoredTable: Int] {
        var counts: [StoredTable: Int] = [:]
        for table in StoredTable.allCases {
            try store.scan(table, batchSize: batchSize) { (batch) throws(ProxyError) in
                for row in batch {
                    out.append { bytes in
                        JSONWriter.raw("{\"table\":", into: &bytes)
                        JSONWriter.string(table.rawValue, into: &bytes)
                        JSONWriter.raw(",\"row\":", into: &bytes)
                        row.columns.writeJSON(into: &bytes)
                        JSONWriter.raw("}\n", into: &bytes)
                    }
                }
                counts[table, default: 0] += batch.count
            }
        }
        out.flush()
        return counts
    }
}
