import ProxyCore

/// A text query as the words a keyword search looks for: runs of letters
/// and digits, lowercased, each once, in order. Everything else (quotes,
/// operators, punctuation) separates words, so no query text is ever read
/// as full-text syntax by either backend.
enum SearchWords {
    static func split(_ text: String, max: Int) throws(ProxyError) -> [String] {
        var words: [String] = []
        var seen = Set<String>()
        var current = String.UnicodeScalarView()
        func flush() throws(ProxyError) {
            guard !current.isEmpty else { return }
            let word = String(current).lowercased()
            current = String.UnicodeScalarView()
            guard seen.insert(word).inserted else { return }
            guard words.count < max else {
                throw ProxyError.invalidParams(field: "query", reason: "has more than \(max) different words (vector.max_query_words)")
            }
            words.append(word)
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.append(scalar)
            } else {
                try flush()
            }
        }
        try flush()
        return words
    }
}
