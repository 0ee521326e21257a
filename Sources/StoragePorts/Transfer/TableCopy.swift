import ProxyCore

/// Copies the stored tables from one database into another, a batch per
/// target transaction, and checks the result.
///
/// Every batch commits together with a `CopyMark`, so a copy that is killed
/// goes on from its last committed batch when run again: nothing is copied
/// twice and nothing is skipped. All reads of the source come from one
/// snapshot (per run), so the copy is consistent even if a proxy still writes
/// to the source; what was written after the snapshot is not copied.
public struct TableCopy {
    public let source: TableStore
    public let target: TableStore
    /// Names the source in the target's marks (a path or a URL without its password).
    public let sourceName: String
    public var batchSize: Int

    public init(from source: TableStore, to target: TableStore, sourceName: String, batchSize: Int = 1000) {
        self.source = source; self.target = target; self.sourceName = sourceName; self.batchSize = max(1, batchSize)
    }

    /// How a copy of one table went, in this run.
    public struct Outcome: Sendable {
        public var table: StoredTable
        /// Source rows already copied by an interrupted earlier run.
        public var resumedAfter = 0
        public var read = 0
        public var inserted = 0
        /// Read but not inserted: the target already had a row with that key (`--merge`).
        public var present: Int { read - inserted }
    }

    /// How a table compares after the copy.
    public struct Check: Sendable {
        public var table: StoredTable
        public var source: TableSummary
        public var target: TableSummary
        /// Only for merges: source rows the target holds identically, differently, or not at all.
        public var identical = 0, differing = 0, missing = 0
    }

    /// Row counts of the target's tables that are not empty.
    public func targetContents() throws(ProxyError) -> [(StoredTable, Int)] {
        var found: [(StoredTable, Int)] = []
        for table in StoredTable.allCases {
            let n = try target.count(table)
            if n > 0 { found.append((table, n)) }
        }
        return found
    }

    /// Where an earlier run of this copy stopped (empty when there was none).
    public func earlierMarks() throws(ProxyError) -> [CopyMark] { try target.marks(source: sourceName) }

    /// Copies every table, resuming after earlier marks; then compares source
    /// and target (in the same source snapshot). `merge` compares the source's
    /// rows by key instead of whole tables, since the target held others.
    public func run(merge: Bool, totals: ([StoredTable: Int]) -> Void = { _ in },
                    progress: (StoredTable, Int) -> Void = { _, _ in }) throws(ProxyError) -> ([Outcome], [Check]) {
        let marks = try earlierMarks()
        try source.beginSnapshot()
        defer { source.endSnapshot() }
        var counts: [StoredTable: Int] = [:]
        for table in StoredTable.allCases { counts[table] = try source.count(table) }
        totals(counts)
        var outcomes: [Outcome] = []
        for table in StoredTable.allCases {
            let mark = marks.first { $0.table == table }
            outcomes.append(try copy(table, after: mark, merge: merge, progress: progress))
        }
        var checks: [Check] = []
        for table in StoredTable.allCases {
            checks.append(merge ? try compareByKey(table) : try compareWhole(table))
        }
        return (outcomes, checks)
    }

    private func copy(_ table: StoredTable, after mark: CopyMark?, merge: Bool,
                      progress: (StoredTable, Int) -> Void) throws(ProxyError) -> Outcome {
        var outcome = Outcome(table: table, resumedAfter: mark?.rows ?? 0)
        var done = outcome.resumedAfter
        try source.scan(table, after: mark?.lastKey, batchSize: batchSize) { (batch) throws(ProxyError) in
            done += batch.count
            let mark = CopyMark(source: sourceName, table: table, lastKey: batch[batch.count - 1].key, rows: done, merge: merge)
            outcome.inserted += try target.insert(batch, mark: mark)
            outcome.read += batch.count
            progress(table, batch.count)
        }
        return outcome
    }

    private func compareWhole(_ table: StoredTable) throws(ProxyError) -> Check {
        Check(table: table, source: try TableSummary.of(table, in: source, batchSize: batchSize),
              target: try TableSummary.of(table, in: target, batchSize: batchSize))
    }

    private func compareByKey(_ table: StoredTable) throws(ProxyError) -> Check {
        var check = try compareWhole(table)
        try source.scan(table, batchSize: batchSize) { (batch) throws(ProxyError) in
            var stored: [String: UInt64] = [:]
            for row in try target.rows(table, keys: batch.map(\.key)) { stored[row.key] = TableSummary.hash(row) }
            for row in batch {
                if let hash = stored[row.key] {
                    if hash == TableSummary.hash(row) { check.identical += 1 } else { check.differing += 1 }
                } else {
                    check.missing += 1
                }
            }
        }
        return check
    }
}
