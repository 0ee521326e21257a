import Foundation
import Testing
@testable import VectorSearch

/// BM25 top-k with pruning against a reference that scores every document.
@Suite("KeywordIndex: BM25 top-k")
struct KeywordIndexTests {
    typealias Random = VectorMatrixTests.Random

    /// BM25 over every live document, its words added in the query's order; ties by id.
    static func reference(_ docs: [String: (text: String, tag: Int)], _ words: [String], k: Int,
                          allowed: (Int) -> Bool = { _ in true }) -> [KeywordIndex<Int>.Hit] {
        let cut = docs.mapValues { Words.split($0.text) }
        let n = Double(cut.count)
        let average = max(Double(cut.values.reduce(0) { $0 + $1.count }) / n, 1)
        let df = Dictionary(words.map { w in (w, Double(cut.values.filter { $0.contains(w) }.count)) }, uniquingKeysWith: { a, _ in a })
        var scored: [KeywordIndex<Int>.Hit] = []
        for (id, doc) in cut where allowed(docs[id]!.tag) {
            var score = 0.0, found = false
            for w in words where df[w]! > 0 {
                let f = Double(doc.filter { $0 == w }.count)
                guard f > 0 else { continue }
                found = true
                let idf = log(1 + (n - df[w]! + 0.5) / (df[w]! + 0.5))
                let k1 = KeywordIndex<Int>.k1, b = KeywordIndex<Int>.b
                score += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * Double(doc.count) / average))
            }
            if found { scored.append(.init(id: id, score: score)) }
        }
        return Array(scored.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.prefix(k))
    }

    /// A Zipf-like vocabulary: word i drawn about as often as 1/(i+1).
    static func text(_ random: inout Random, words: Int, vocabulary: Int) -> String {
        (0..<words).map { _ in
            let u = Double(random.next() >> 11) / Double(1 << 53)
            return "w\(Int(pow(Double(vocabulary), u)) - 1)"
        }.joined(separator: " ")
    }

    static func same(_ a: [KeywordIndex<Int>.Hit], _ b: [KeywordIndex<Int>.Hit]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.id == $1.id && abs($0.score - $1.score) <= 1e-9 * max(1, abs($1.score)) }
    }

    /// Each query is checked against scoring every document, slow under the
    /// sanitizers (ThreadSanitizer finished this test last, after ~7 minutes):
    /// there every round's changes still run, with a quarter of the queries.
    static let queriesPerRound = ProcessInfo.processInfo.environment["STORAGE_PROXY_SANITIZER"] == nil ? 40 : 10

    @Test("top-k equals scoring every document: adds, replaces, removes (past a rebuild), filters, every k")
    func againstReference() {
        var random = Random(state: 29)
        var index = KeywordIndex(payload: Int.self)
        var docs: [String: (text: String, tag: Int)] = [:]
        for round in 0..<6 {
            for _ in 0..<700 {
                let id = "d\(random.next() % 1500)"
                if random.next() % 4 == 0 {
                    index.remove(id: id)
                    docs[id] = nil
                } else {
                    let doc = (text: Self.text(&random, words: Int(random.next() % 25) + 1, vocabulary: 300), tag: Int(random.next() % 10))
                    index.upsert(id: id, text: doc.text, payload: doc.tag)
                    docs[id] = doc
                }
            }
            #expect(index.count == docs.count)
            for q in 0..<Self.queriesPerRound {
                let words = Array(Set((0..<(q % 4 + 1)).map { _ in "w\(Int(random.next() % 320))" }))
                for k in [1, 10, 100] {
                    #expect(Self.same(index.search(words, k: k), Self.reference(docs, words, k: k)), "round \(round), \(words), k \(k)")
                }
                let kept = Int(random.next() % 10)
                #expect(Self.same(index.search(words, k: 10, allowed: { $0 == kept }), Self.reference(docs, words, k: 10, allowed: { $0 == kept })))
            }
        }
    }

    @Test("the answer does not depend on the order documents arrived in (ties go to the smaller id)")
    func orderIndependent() {
        var random = Random(state: 7)
        let docs = (0..<400).map { i in ("id\(i)", i % 3 == 0 ? "alpha beta" : Self.text(&random, words: 8, vocabulary: 50)) }
        var forward = KeywordIndex(payload: Int.self), backward = KeywordIndex(payload: Int.self)
        for (id, text) in docs { forward.upsert(id: id, text: text, payload: 0) }
        for (id, text) in docs.reversed() { backward.upsert(id: id, text: text, payload: 0) }
        for words in [["alpha"], ["beta", "w3"], ["w1", "w2", "w40"]].map({ Words.split($0.joined(separator: " ")) }) {
            let a = forward.search(words, k: 20), b = backward.search(words, k: 20)
            #expect(a == b, "\(words)")
        }
        let tied = forward.search(Words.split("alpha"), k: 5).map(\.id)
        #expect(tied == ["id0", "id102", "id105", "id108", "id111"], "\(tied)")
    }

    @Test("words are letters and digits, lowercased, English ones stemmed; unknown words find nothing")
    func words() {
        #expect(Words.split("Deploy the PROXY, v2.0: naïve Straße ΣΊΣΥΦΟΣ deployed") == ["deploi", "the", "proxi", "v2", "0", "naïve", "straße", "σίσυφοσ", "deploi"])
        var index = KeywordIndex(payload: Int.self)
        index.upsert(id: "a", text: "Deploying the proxy", payload: 0)
        index.upsert(id: "b", text: "proxy proxies proxy", payload: 0)
        #expect(index.search(Words.split("nothing"), k: 5).isEmpty)
        #expect(index.search(Words.split("deployed nothing"), k: 5).map(\.id) == ["a"])
        #expect(index.search(Words.split("Proxy"), k: 5).map(\.id) == ["b", "a"])
        #expect(index.remove(id: "b") && !index.remove(id: "b"))
        #expect(index.search(Words.split("proxy"), k: 5).map(\.id) == ["a"])
    }

    @Test("Porter's stemmer: his paper's examples, and words it must leave alone", arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("cats", "cat"), ("agreed", "agre"), ("plastered", "plaster"),
        ("motoring", "motor"), ("sing", "sing"), ("hopping", "hop"), ("falling", "fall"), ("filing", "file"), ("happy", "happi"),
        ("relational", "relat"), ("conditional", "condit"), ("generalizations", "gener"), ("oscillators", "oscil"),
        ("deploys", "deploi"), ("deployed", "deploi"), ("adjustment", "adjust"), ("effective", "effect"), ("sky", "sky"), ("syzygy", "syzygi"),
        ("yyyyyyyy", "yyyyyyyi"), ("x2", "x2"), ("été", "été"), (String(repeating: "ing", count: 20), String(repeating: "ing", count: 20)),
    ])
    func porter(word: String, stem: String) {
        #expect(Words.split(word) == [stem])
    }
}
