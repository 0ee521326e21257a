/// How text becomes words, for documents and queries alike: runs of letters
/// and digits (Unicode), each letter lowercased on its own, everything else
/// separating words; a word of ASCII letters is then stemmed (`PorterStemmer`:
/// `deployed` finds `deploy`), as SQLite's `porter unicode61` tokenizer does.
/// No stop words: BM25 weighs common words down anyway. Written once here: a
/// query's words must be cut exactly as the documents' were, on every backend.
public enum Words {
    /// Calls `body` with each word in order (repeats included), as UTF-8 bytes
    /// in a buffer reused between calls. ASCII, most text, takes a fast path.
    public static func forEach(in text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var word: [UInt8] = []
        word.reserveCapacity(32)
        func flush() {
            guard !word.isEmpty else { return }
            PorterStemmer.stem(&word)
            word.withUnsafeBufferPointer(body)
            word.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x80 {
                switch UInt8(v) {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): word.append(UInt8(v))
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): word.append(UInt8(v) + 32)
                default: flush()
                }
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                word.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
            } else {
                flush()
            }
        }
        flush()
    }

    /// The words of `text` as strings, repeats included.
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        forEach(in: text) { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }
}
