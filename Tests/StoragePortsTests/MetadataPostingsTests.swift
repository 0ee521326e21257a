import ProxyCore
import StoragePorts
import Testing

/// A filter's candidates by metadata value: which filters have them, that
/// they hold every passing document, and that they follow adds and removes.
@Suite("Metadata postings: a filter's candidates")
struct MetadataPostingsTests {
    static func meta(_ text: String) -> JSONObject { try! JSONParser.parse(text).objectValue! }

    static let docs: [(String, JSONObject)] = [
        ("a", meta(#"{"user": "u1", "year": 2024, "tags": ["x", "y"], "n": {"k": 1}}"#)),
        ("b", meta(#"{"user": "u2", "year": 2023.0, "tags": ["y"]}"#)),
        ("c", meta(#"{"user": "u1", "year": 2023, "tags": [], "a.b": 5}"#)),
        ("d", meta(#"{"year": null}"#)),
    ]

    static func postings() -> MetadataPostings {
        var p = MetadataPostings()
        for (id, m) in docs { p.add(id: id, m) }
        return p
    }

    @Test("equalities, $in and ranges give candidates; $and the smallest, $or the union; negations and $exists none", arguments: [
        (#"{"user": "u1"}"#, ["a", "c"] as [String]?),
        (#"{"user": {"$eq": "u2"}}"#, ["b"]),
        (#"{"year": 2023}"#, ["b", "c"]),  // numbers by value: 2023.0 is 2023
        (#"{"tags": "y"}"#, ["a", "b"]),  // a list's elements each
        (#"{"user": {"$in": ["u2", "nobody"]}}"#, ["b"]),
        (#"{"tags": "y", "user": "u2"}"#, ["b"]),  // the smaller of two
        (#"{"year": 2023, "user": "u2"}"#, ["b"]),
        (#"{"$and": [{"user": "u1"}, {"year": {"$gt": 2000}}]}"#, ["a", "c"]),  // an explicit $and too
        (#"{"user": "u1", "year": {"$gte": 2024}}"#, ["a"]),
        (#"{"year": null}"#, ["d"]),
        (#"{"user": "nobody"}"#, []),
        (#"{"a.b": 5}"#, ["c"]),  // a key with a dot in its name
        (#"{"n.k": 1}"#, ["a"]),  // a path into a nested object
        (#"{"n.k": {"$lte": 0}}"#, []),
        (#"{"$or": [{"user": "u1"}, {"user": "u2"}]}"#, ["a", "b", "c"]),
        (#"{"$or": [{"user": "u2"}, {"n.k": 1}]}"#, ["a", "b"]),
        (#"{"$or": [{"user": "u2"}, {"year": {"$ne": 1}}]}"#, nil),  // one operand may pass anything
        (#"{"user": {"$ne": "u1"}}"#, nil),
        (#"{"user": {"$nin": ["u1"]}}"#, nil),
        (#"{"$not": {"user": "u1"}}"#, nil),
        (#"{"user": {"$not": {"$eq": "u1"}}, "tags": "x"}"#, ["a"]),
        (#"{"year": {"$gt": 2000}}"#, ["a", "b", "c"]),  // null has no order
        (#"{"year": {"$lt": 2024}}"#, ["b", "c"]),
        (#"{"tags": {"$gte": "y"}}"#, ["a", "b"]),
        (#"{"user": {"$exists": true}}"#, nil),  // an object or an empty list holds no value here
        (#"{"user": {"$exists": false}}"#, nil),
        (#"{"year": {"$gte": 2023, "$lt": 2024}}"#, ["b", "c"]),
        (#"{"tags": {"$gte": "y", "$lte": "x"}}"#, ["a"]),  // a list: "y" meets one condition, "x" the other
    ])
    func candidates(filter: String, expected: [String]?) throws {
        let f = try MetadataFilterTests.parse(filter)
        let found = Self.postings().candidates(for: f)
        #expect(found.map { Set($0) } == expected.map { Set($0) })
        if let found {
            for (id, m) in Self.docs where f.accepts(m) { #expect(found.contains(id), "\(id) passes \(filter) but is no candidate") }
        }
    }

    @Test("no candidates past the limit: testing every document is then the cheaper way")
    func limit() throws {
        let p = Self.postings()
        let range = try MetadataFilterTests.parse(#"{"year": {"$gt": 2000}}"#)
        #expect(p.candidates(for: range, limit: 3)?.count == 3)
        #expect(p.candidates(for: range, limit: 2) == nil)
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"$or": [{"user": "u1"}, {"user": "u2"}]}"#), limit: 2) == nil)
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"user": "u2", "year": {"$gt": 2000}}"#), limit: 2) == ["b"])
        // Conditions on one field narrow together: neither bound alone passes at most 2.
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"year": {"$gte": 2023, "$lt": 2024}}"#), limit: 2) == ["b", "c"])
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"year": {"$gte": 2023}, "n.k": {"$exists": false}}"#), limit: 2) == nil)
    }

    @Test("removes and replaces follow; memory comes back to nothing")
    func maintenance() throws {
        var p = Self.postings()
        #expect(p.byteCount > 0)
        p.remove(id: "a", Self.docs[0].1)
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"user": "u1"}"#)) == ["c"])
        p.remove(id: "c", Self.docs[2].1)
        p.add(id: "c", Self.meta(#"{"user": "u3"}"#))
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"user": "u1"}"#)) == [])
        #expect(p.candidates(for: try MetadataFilterTests.parse(#"{"user": "u3"}"#)) == ["c"])
        p.remove(id: "c", Self.meta(#"{"user": "u3"}"#))
        p.remove(id: "b", Self.docs[1].1)
        p.remove(id: "d", Self.docs[3].1)
        #expect(p.byteCount == 0)
    }
}
