/// Reciprocal rank fusion (Cormack et al., 2009): a document's fused score
/// is Σ 1 / (60 + rank) over the rankings it appears in (rank from 1). It
/// needs no calibration between a cosine similarity and a full-text
/// relevance, which have nothing in common but their order.
enum RankFusion {
    static let k = 60.0

    struct Fused: Equatable {
        let id: String
        let score: Double
        /// 1-based ranks in each list, nil when absent from it.
        let keywordRank: Int?
        let vectorRank: Int?
    }

    /// The fused order, best first; ties by the better single rank, then id.
    static func fuse(keyword: [String], vector: [String], limit: Int) -> [Fused] {
        var keywordRank: [String: Int] = [:], vectorRank: [String: Int] = [:]
        var order: [String] = []
        for (i, id) in keyword.enumerated() where keywordRank[id] == nil {
            keywordRank[id] = i + 1
            order.append(id)
        }
        for (i, id) in vector.enumerated() where vectorRank[id] == nil {
            vectorRank[id] = i + 1
            if keywordRank[id] == nil { order.append(id) }
        }
        let fused = order.map { id in
            let kr = keywordRank[id], vr = vectorRank[id]
            let score = (kr.map { 1 / (k + Double($0)) } ?? 0) + (vr.map { 1 / (k + Double($0)) } ?? 0)
            return Fused(id: id, score: score, keywordRank: kr, vectorRank: vr)
        }
        return fused.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            let ab = min(a.keywordRank ?? .max, a.vectorRank ?? .max), bb = min(b.keywordRank ?? .max, b.vectorRank ?? .max)
            return ab != bb ? ab < bb : a.id < b.id
        }.prefix(limit).map { $0 }
    }
}
