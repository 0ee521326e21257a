#if canImport(Glibc)
import Glibc  // log
#endif

/// One collection's texts as an inverted index in memory, ranked by BM25
/// (Okapi, as Lucene and tantivy: k1 1.2, b 0.75, idf ln(1 + (N − df + ½)/(df + ½)))
/// over every live document. Any query word may match (OR). Top-k by
/// MaxScore (Turtle & Flood): words whose best possible contribution cannot
/// lift a document into the top k any more stop producing candidates and are
/// only looked up (binary search) for documents the others found, so a
/// common word costs little once rarer ones have filled the top k.
///
/// Scores depend only on the set of live documents (N, lengths, document
/// frequencies; a document's words added in the query's order), never on the
/// order they arrived in, so every proxy holding the same collection version
/// answers the same, whatever it loaded when. Ties go to the smaller id.
///
/// Documents are numbered in arrival order; a removed one leaves a hole its
/// postings keep until holes outnumber the living (then the index is rebuilt
/// without them). Each document carries a `Payload` (metadata, for filters).
/// Not thread-safe: one owner at a time.
public struct KeywordIndex<Payload: Sendable>: Sendable {
    public static var k1: Double { 1.2 }
    public static var b: Double { 0.75 }

    public struct Hit: Equatable, Sendable {
        public let id: String
        /// BM25, higher is better (> 0).
        public let score: Double
        @usableFromInline init(id: String, score: Double) { self.id = id; self.score = score }
    }

    // Searched by `search`, specialized where it is called (a generic payload
    // copied through value witnesses per candidate cost more than the ranking).
    @usableFromInline var termOf: [String: Int] = [:]
    @usableFromInline var postings: [KeywordPostings] = []
    typealias Postings = KeywordPostings
    @usableFromInline var ids: [String] = []
    @usableFromInline var lengths: [UInt32] = []
    /// False for a hole.
    @usableFromInline var live: [Bool] = []
    /// Each document's distinct words (its postings to discount when it goes); empty for a hole.
    private var termsOf: [[Int32]] = []
    @usableFromInline var payloads: [Payload?] = []
    private var numberOf: [String: UInt32] = [:]
    @usableFromInline var totalLength = 0
    private var postingCount = 0
    private let weigh: @Sendable (Payload) -> Int
    private var heapBytes = 0

    public init(payload: Payload.Type, weigh: @escaping @Sendable (Payload) -> Int = { _ in 0 }) {
        self.weigh = weigh
    }

    /// Live documents.
    public var count: Int { numberOf.count }

    public func contains(_ id: String) -> Bool { numberOf[id] != nil }

    // MARK: - Memory

    /// Bytes held, about: postings (8 a posting), per document its slots,
    /// id, payload and id-map entry, per word its key and list headers.
    public var byteCount: Int {
        postingCount * 8 + ids.count * Self.documentSlotBytes + postings.count * Self.termBytes + heapBytes
    }

    static var documentSlotBytes: Int {
        MemoryLayout<String>.stride * 2 + 4 + 32 + MemoryLayout<Payload?>.stride + (MemoryLayout<String>.stride + 4) * 4 / 3
    }

    static var termBytes: Int { MemoryLayout<Postings>.stride + 64 + (MemoryLayout<String>.stride + 8) * 4 / 3 + 16 }

    /// About what a document adds, before it is stored (a loader's bound):
    /// a posting and a word slot per word (the text's length bounds them).
    public static func documentBytes(id: String, text: String, payloadHeapBytes: Int) -> Int {
        documentSlotBytes + heapBytes(of: id) + payloadHeapBytes + (text.utf8.count / 2 + 1) * 12
    }

    private static func heapBytes(of s: String) -> Int { s.utf8.count <= 15 ? 0 : (s.utf8.count + 1 + 40 + 15) / 16 * 16 }

    // MARK: - Writing

    /// Adds the document, or replaces the one stored under `id`.
    public mutating func upsert(id: String, text: String, payload: Payload) {
        remove(id: id)
        var words: [Int32] = []
        Words.forEach(in: text) { bytes in
            let word = String(decoding: bytes, as: UTF8.self)
            if let t = termOf[word] {
                words.append(Int32(t))
            } else {
                termOf[word] = postings.count
                words.append(Int32(postings.count))
                postings.append(Postings())
                heapBytes += Self.heapBytes(of: word)
            }
        }
        words.sort()
        let number = UInt32(ids.count)
        let length = UInt32(words.count)
        var distinct: [Int32] = []
        var i = 0
        while i < words.count {
            var j = i + 1
            while j < words.count, words[j] == words[i] { j += 1 }
            let t = Int(words[i])
            postings[t].documents.append(number)
            postings[t].frequencies.append(UInt32(j - i))
            postings[t].live += 1
            postings[t].maxFrequency = max(postings[t].maxFrequency, UInt32(j - i))
            postings[t].minLength = min(postings[t].minLength, length)
            distinct.append(words[i])
            i = j
        }
        postingCount += distinct.count
        ids.append(id)
        lengths.append(length)
        live.append(true)
        termsOf.append(distinct)
        payloads.append(payload)
        numberOf[id] = number
        totalLength += Int(length)
        heapBytes += Self.heapBytes(of: id) + weigh(payload) + distinct.count * 4
    }

    /// True when it was stored.
    @discardableResult
    public mutating func remove(id: String) -> Bool {
        guard let number = numberOf.removeValue(forKey: id) else { return false }
        let n = Int(number)
        for t in termsOf[n] { postings[Int(t)].live -= 1 }
        totalLength -= Int(lengths[n])
        heapBytes -= Self.heapBytes(of: id) + (payloads[n].map(weigh) ?? 0) + termsOf[n].count * 4
        termsOf[n] = []
        payloads[n] = nil
        live[n] = false
        if ids.count - count > max(1024, count) { compact() }
        return true
    }

    /// Renumbers the living from 0, dropping holes, their postings and words no one holds.
    private mutating func compact() {
        var renumbered = [UInt32](repeating: .max, count: ids.count)
        var kept = KeywordIndex(payload: Payload.self, weigh: weigh)
        var termMap = [Int32](repeating: -1, count: postings.count)
        for (word, t) in termOf where postings[t].live > 0 {
            termMap[t] = Int32(kept.postings.count)
            kept.termOf[word] = kept.postings.count
            kept.postings.append(Postings())
            kept.heapBytes += Self.heapBytes(of: word)
        }
        for n in ids.indices where numberOf[ids[n]] == UInt32(n) {
            renumbered[n] = UInt32(kept.ids.count)
            kept.numberOf[ids[n]] = UInt32(kept.ids.count)
            kept.ids.append(ids[n])
            kept.lengths.append(lengths[n])
            kept.live.append(true)
            kept.termsOf.append(termsOf[n].map { termMap[Int($0)] })
            kept.payloads.append(payloads[n])
            kept.totalLength += Int(lengths[n])
            kept.heapBytes += Self.heapBytes(of: ids[n]) + (payloads[n].map(weigh) ?? 0) + termsOf[n].count * 4
        }
        for (t, list) in postings.enumerated() where termMap[t] >= 0 {
            var fresh = Postings()
            for (d, f) in zip(list.documents, list.frequencies) where renumbered[Int(d)] != .max {
                let new = renumbered[Int(d)]
                fresh.documents.append(new)
                fresh.frequencies.append(f)
                fresh.maxFrequency = max(fresh.maxFrequency, f)
                fresh.minLength = min(fresh.minLength, kept.lengths[Int(new)])
            }
            fresh.live = fresh.documents.count
            kept.postingCount += fresh.documents.count
            kept.postings[Int(termMap[t])] = fresh
        }
        self = kept
    }

    // MARK: - Searching

    /// The `k` best documents holding any of `words` (cut as `Words` cuts
    /// them; a word given twice counts once) that `allowed` accepts, best first.
    @inlinable
    public func search(_ words: [String], k: Int, allowed: ((Payload) -> Bool)? = nil) -> [Hit] {
        guard k > 0, count > 0 else { return [] }
        var lists: [(postings: KeywordPostings, position: Int)] = []
        var asked = Set<Int>()
        for (position, word) in words.enumerated() {
            guard let t = termOf[word], postings[t].live > 0, asked.insert(t).inserted else { continue }  // a word counts once
            lists.append((postings[t], position))
        }
        let ranking = MaxScore(lists: lists, positions: words.count, documents: count, totalLength: totalLength, lengths: lengths)
        let found: [KeywordTopK.Entry]
        if let allowed {
            found = ranking.top(k, ids: ids) { [live, payloads] d in live[d] && allowed(payloads[d]!) }
        } else {
            found = ranking.top(k, ids: ids) { [live] d in live[d] }
        }
        return found.map { Hit(id: ids[$0.document], score: $0.score) }
    }
}

/// One word's documents, ascending, with how often the word occurs in each.
@usableFromInline
struct KeywordPostings: Sendable {
    var documents: [UInt32] = []
    var frequencies: [UInt32] = []
    /// Live documents holding the word (its document frequency).
    @usableFromInline var live = 0
    /// Bounds over every posting, dead ones included (so still bounds): a best-score bound's inputs.
    var maxFrequency: UInt32 = 0
    var minLength: UInt32 = .max
}

/// One top-k search over an index's postings (`KeywordIndex.search`). Not
/// generic, so its loop runs on plain arrays: no per-step copies through a
/// generic payload's value witnesses.
@usableFromInline
struct MaxScore {
    /// One query word's place in a search.
    struct Term {
        /// Its postings (shared with the index, not copied).
        let documents: [UInt32]
        let frequencies: [UInt32]
        /// Its position in the query: contributions add up in this order.
        let position: Int
        let idf: Double
        /// The most it can add to a document's score.
        let bound: Double
    }

    private var terms: [Term] = []
    private let positions: Int
    private let averageLength: Double
    private let lengths: [UInt32]

    @usableFromInline
    init(lists: [(postings: KeywordPostings, position: Int)], positions: Int, documents: Int, totalLength: Int, lengths: [UInt32]) {
        let n = Double(documents)
        self.positions = positions
        self.lengths = lengths
        averageLength = max(Double(totalLength) / n, 1)
        for (p, position) in lists {
            let df = Double(p.live)
            let idf = log(1 + (n - df + 0.5) / (df + 0.5))
            terms.append(Term(documents: p.documents, frequencies: p.frequencies, position: position, idf: idf,
                              bound: Self.contribution(idf, p.maxFrequency, p.minLength, averageLength)))
        }
        terms.sort { $0.bound < $1.bound || ($0.bound == $1.bound && $0.position < $1.position) }
    }

    static func contribution(_ idf: Double, _ frequency: UInt32, _ length: UInt32, _ averageLength: Double) -> Double {
        let f = Double(frequency), k1 = KeywordIndex<Void>.k1, b = KeywordIndex<Void>.b
        return idf * f * (k1 + 1) / (f + k1 * (1 - b + b * Double(length) / averageLength))
    }

    /// The best `k` of the documents `accept` takes (document numbers), best first.
    @usableFromInline
    func top(_ k: Int, ids: [String], accept: (Int) -> Bool) -> [KeywordTopK.Entry] {
        guard !terms.isEmpty else { return [] }
        // reach[i]: the most terms 0...i can add together.
        var reach: [Double] = []
        var sum = 0.0
        for t in terms { sum += t.bound; reach.append(sum) }
        var cursors = [Int](repeating: 0, count: terms.count)
        var top = KeywordTopK(k)
        var firstEssential = 0
        var parts = [Double](repeating: 0, count: positions)
        while firstEssential < terms.count {
            // The next candidate: the smallest document an essential word holds.
            var next = UInt32.max
            for i in firstEssential..<terms.count where cursors[i] < terms[i].documents.count {
                next = min(next, terms[i].documents[cursors[i]])
            }
            guard next != .max else { break }
            let d = Int(next), length = lengths[d]
            var score = 0.0
            for j in parts.indices { parts[j] = 0 }
            for i in firstEssential..<terms.count {
                guard cursors[i] < terms[i].documents.count, terms[i].documents[cursors[i]] == next else { continue }
                let c = Self.contribution(terms[i].idf, terms[i].frequencies[cursors[i]], length, averageLength)
                parts[terms[i].position] = c
                score += c
                cursors[i] += 1
            }
            guard accept(d) else { continue }  // a hole, or filtered out
            let threshold = top.threshold
            var pruned = false
            var i = firstEssential - 1
            while i >= 0 {
                if score + reach[i] < threshold * Self.slack { pruned = true; break }
                cursors[i] = Self.seek(terms[i].documents, from: cursors[i], to: next)
                if cursors[i] < terms[i].documents.count, terms[i].documents[cursors[i]] == next {
                    let c = Self.contribution(terms[i].idf, terms[i].frequencies[cursors[i]], length, averageLength)
                    parts[terms[i].position] = c
                    score += c
                }
                i -= 1
            }
            guard !pruned, score >= threshold * Self.slack else { continue }
            // The score reported: the contributions added in the query's order, whatever path found them.
            var exact = 0.0
            for c in parts { exact += c }
            top.offer(exact, d, ids)
            let raised = top.threshold
            while firstEssential < terms.count, reach[firstEssential] < raised * Self.slack { firstEssential += 1 }
        }
        return top.sorted(ids)
    }

    /// Pruning compares sums added in different orders: a bound must fall
    /// clearly below the threshold (by more than rounding) to rule a document out.
    private static var slack: Double { 1 - 1e-9 }

    /// The first index at or after `from` whose document is ≥ `target` (galloping, then binary search).
    static func seek(_ documents: [UInt32], from: Int, to target: UInt32) -> Int {
        var low = from, step = 1
        var high = from
        while high < documents.count, documents[high] < target {
            low = high + 1
            high += step
            step *= 2
        }
        high = min(high, documents.count)
        while low < high {
            let mid = (low + high) / 2
            if documents[mid] < target { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// The `k` best documents so far: a min-heap whose root is the worst kept.
/// Equal scores rank by id (the smaller first), so the answer is the same
/// whichever order documents were numbered in.
@usableFromInline
struct KeywordTopK {
    @usableFromInline
    struct Entry {
        @usableFromInline var score: Double
        @usableFromInline var document: Int
    }

    let k: Int
    private var entries: [Entry] = []

    init(_ k: Int) {
        self.k = k
        entries.reserveCapacity(k)
    }

    /// What a document must reach to get in (0 until `k` are kept: every score is > 0).
    var threshold: Double { entries.count < k ? 0 : entries[0].score }

    mutating func offer(_ score: Double, _ document: Int, _ ids: [String]) {
        let e = Entry(score: score, document: document)
        if entries.count < k {
            entries.append(e)
            var child = entries.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.worse(entries[child], entries[parent], ids) else { break }
                entries.swapAt(child, parent)
                child = parent
            }
        } else if Self.worse(entries[0], e, ids) {
            entries[0] = e
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var worst = parent
                if left < entries.count, Self.worse(entries[left], entries[worst], ids) { worst = left }
                if right < entries.count, Self.worse(entries[right], entries[worst], ids) { worst = right }
                guard worst != parent else { break }
                entries.swapAt(parent, worst)
                parent = worst
            }
        }
    }

    /// Best first.
    func sorted(_ ids: [String]) -> [Entry] { entries.sorted { Self.worse($1, $0, ids) } }

    private static func worse(_ a: Entry, _ b: Entry, _ ids: [String]) -> Bool {
        a.score < b.score || (a.score == b.score && ids[a.document] > ids[b.document])
    }
}
