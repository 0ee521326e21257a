/// "Did you mean …?" for a mistyped name (a method, a config key): the
/// closest known name by edit distance, when it is close enough to be a
/// typo. Iterative and bounded (names are cut to 64 characters), so a
/// client's long garbage costs at most 64 × 64 steps per candidate.
public enum Suggestion {
    public static func closest(to name: String, among known: [String]) -> String? {
        let typed = Array(name.lowercased().utf8.prefix(64))
        guard !typed.isEmpty else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in known {
            let d = distance(typed, Array(candidate.lowercased().utf8.prefix(64)))
            if d < (best?.distance ?? .max) { best = (candidate, d) }
        }
        guard let best, best.distance > 0, best.distance <= max(2, typed.count / 3) else { return nil }
        return best.name
    }

    /// Levenshtein distance with one row of memory.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var diagonal = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let above = row[j]
                row[j] = min(above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
