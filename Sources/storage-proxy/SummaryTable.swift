import ProxyCore
import StoragePorts

/// Row counts and checksums of several databases, table by table, side by
/// side: what `copy` prints when it verifies and what `checksum` prints.
struct SummaryTable {
    var databases: [String]
    var rows: [(table: StoredTable, summaries: [TableSummary], note: String)] = []

    init(databases: [String]) { self.databases = databases }

    var text: String {
        var lines = databases.enumerated().map { "(\($0.offset + 1)) \($0.element)" }
        let width = StoredTable.allCases.map(\.rawValue.count).max() ?? 10
        var header = "table".padding(width)
        for i in databases.indices { header += "  " + "rows (\(i + 1))".padding(12, left: true) + "  " + "checksum (\(i + 1))".padding(16) }
        lines.append(header)
        for row in rows {
            var line = row.table.rawValue.padding(width)
            for s in row.summaries { line += "  " + String(s.rows).padding(12, left: true) + "  " + s.hex }
            lines.append(line + (row.note.isEmpty ? "" : "  " + row.note))
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int, left: Bool = false) -> String {
        let pad = String(repeating: " ", count: max(0, width - count))
        return left ? pad + self : self + pad
    }
}

extension Dictionary where Key == StoredTable, Value == Int {
    /// `120 tasks, 5000 logs, 3 metadata`
    var countsText: String {
        StoredTable.allCases.map { "\(self[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
    }
}
