/// The `k` best (highest-ranked) rows seen so far: a min-heap of size `k`
/// whose root is the worst kept, so a scan pays one comparison per row that
/// does not make it. Rows compare by rank, then by row number (a fixed order
/// for equal ranks).
struct TopK {
    struct Entry {
        var rank: Float
        var row: Int
    }

    let k: Int
    private(set) var entries: [Entry] = []

    init(_ k: Int) {
        self.k = k
        entries.reserveCapacity(k)
    }

    /// The rank a row must beat to get in (−∞ until `k` are kept).
    var threshold: Float { entries.count < k ? -.infinity : entries[0].rank }

    mutating func offer(rank: Float, row: Int) {
        if entries.count < k {
            entries.append(Entry(rank: rank, row: row))
            siftUp(entries.count - 1)
        } else if Self.worse(entries[0], Entry(rank: rank, row: row)) {
            entries[0] = Entry(rank: rank, row: row)
            siftDown(0)
        }
    }

    /// Best first.
    func sorted() -> [Entry] { entries.sorted { Self.worse($1, $0) } }

    /// `a` ranks below `b` (lower rank, or equal rank and a later row).
    private static func worse(_ a: Entry, _ b: Entry) -> Bool { a.rank < b.rank || (a.rank == b.rank && a.row > b.row) }

    private mutating func siftUp(_ i: Int) {
        var child = i
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.worse(entries[child], entries[parent]) else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ i: Int) {
        var parent = i
        while true {
            let left = 2 * parent + 1, right = left + 1
            var worst = parent
            if left < entries.count, Self.worse(entries[left], entries[worst]) { worst = left }
            if right < entries.count, Self.worse(entries[right], entries[worst]) { worst = right }
            guard worst != parent else { return }
            entries.swapAt(parent, worst)
            parent = worst
        }
    }
}
