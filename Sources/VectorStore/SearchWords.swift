import ProxyCore
import VectorSearch

/// A text query as the words a keyword search looks for: the words the
/// documents were cut into (`Words`), each once, in order. Quotes,
/// operators and punctuation only separate words: no query is read as syntax.
enum SearchWords {
    static func split(_ text: String, max: Int) throws(ProxyError) -> [String] {
        var words: [String] = []
        var seen = Set<String>()
        var tooMany = false
        Words.forEach(in: text) { bytes in
            let word = String(decoding: bytes, as: UTF8.self)
            guard !tooMany, seen.insert(word).inserted else { return }
            if words.count == max { tooMany = true } else { words.append(word) }
        }
        guard !tooMany else {
            throw ProxyError.invalidParams(field: "query", reason: "has more than \(max) different words (vector.max_query_words)")
        }
        return words
    }
}
