import ProxyCore

/// A database seen as its stored tables, for moving data between backends
/// (`storage-proxy copy`, `export`, `checksum`). Blocking and single-threaded:
/// these are command-line jobs, never the serving path.
public protocol TableStore: AnyObject {
    /// Starts one read snapshot: every read until `endSnapshot` sees the
    /// database as it was here, even while a proxy keeps writing to it.
    func beginSnapshot() throws(ProxyError)
    func endSnapshot()

    /// How many rows the table holds.
    func count(_ table: StoredTable) throws(ProxyError) -> Int

    /// Up to `limit` rows whose key sorts after `key` (all from the start when
    /// nil), in the store's own key order, which is stable between calls.
    func rows(_ table: StoredTable, after key: String?, limit: Int) throws(ProxyError) -> [StoredRow]

    /// The rows with these keys (those that exist), in any order.
    func rows(_ table: StoredTable, keys: [String]) throws(ProxyError) -> [StoredRow]

    /// Inserts `rows` and records `mark` in one transaction, so a copy that is
    /// killed resumes exactly after its last committed batch. A row whose key
    /// is already present is left as it is; returns how many were inserted.
    func insert(_ rows: [StoredRow], mark: CopyMark) throws(ProxyError) -> Int

    /// What earlier, unfinished copies from `source` recorded.
    func marks(source: String) throws(ProxyError) -> [CopyMark]

    /// Forgets a copy's marks once it has been verified.
    func clearMarks(source: String) throws(ProxyError)
}

/// How far a copy from one source got in one table: the last key of the
/// last committed batch, the rows read from the source up to it, and
/// whether it merges (so a resume checks it the same way).
public struct CopyMark: Equatable, Sendable {
    public var source: String
    public var table: StoredTable
    public var lastKey: String
    public var rows: Int
    public var merge: Bool

    public init(source: String, table: StoredTable, lastKey: String, rows: Int, merge: Bool) {
        self.source = source; self.table = table; self.lastKey = lastKey; self.rows = rows; self.merge = merge
    }
}

extension TableStore {
    /// Reads a table in key order, a batch at a time, from after `key` (the start when nil).
    public func scan(_ table: StoredTable, after key: String? = nil, batchSize: Int,
                     _ body: ([StoredRow]) throws(ProxyError) -> Void) throws(ProxyError) {
        var last = key
        while true {
            let batch = try rows(table, after: last, limit: batchSize)
            guard let end = batch.last else { return }
            try body(batch)
            if batch.count < batchSize { return }
            last = end.key
        }
    }
}
