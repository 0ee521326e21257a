import SQLStore

/// One row of a result, for the shared row codec.
struct PGRow: SQLRow {
    let result: PGResult
    let index: Int

    func text(_ column: Int) -> String? { result.string(index, column) }
    func int(_ column: Int) -> Int64? { result.string(index, column).flatMap { Int64($0) } }
}

extension PGResult {
    /// The rows, for the shared row codec.
    var rows: [PGRow] { (0..<rowCount).map { PGRow(result: self, index: $0) } }
}
