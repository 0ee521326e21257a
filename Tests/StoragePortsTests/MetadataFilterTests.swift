import ProxyCore
import StoragePorts
import Testing

@Suite("Metadata filters")
struct MetadataFilterTests {
    static func parse(_ text: String, limits: MetadataFilter.Limits = .init()) throws -> MetadataFilter {
        try MetadataFilter.parse(try #require(try JSONParser.parse(text).objectValue), limits: limits)
    }

    static let doc = try! JSONParser.parse("""
        {"team": "ops", "year": 2024, "score": 0.5, "draft": false, "tags": ["urgent", "db"], "gone": null,
         "author": {"name": "ann", "age": 41}, "a.b": "literal", "big": 9007199254740993}
        """).objectValue!

    @Test("each operator, dotted paths, arrays, missing fields", arguments: [
        (#"{}"#, true),
        (#"{"team": "ops"}"#, true), (#"{"team": "dev"}"#, false), (#"{"year": 2024.0}"#, true),
        (#"{"team": {"$eq": "ops"}}"#, true), (#"{"team": {"$ne": "ops"}}"#, false), (#"{"nothing": {"$ne": 1}}"#, true),
        (#"{"year": {"$gt": 2023}}"#, true), (#"{"year": {"$gt": 2024}}"#, false), (#"{"year": {"$gte": 2024, "$lt": 2025}}"#, true),
        (#"{"year": {"$lte": 2023.5}}"#, false), (#"{"team": {"$gt": "ab"}}"#, true), (#"{"team": {"$lt": 5}}"#, false),
        (#"{"draft": {"$gt": 0}}"#, false), (#"{"draft": false}"#, true), (#"{"draft": 0}"#, false),
        (#"{"team": {"$in": ["dev", "ops"]}}"#, true), (#"{"team": {"$nin": ["dev", "ops"]}}"#, false), (#"{"nothing": {"$nin": [1]}}"#, true),
        (#"{"tags": "db"}"#, true), (#"{"tags": {"$in": ["x", "urgent"]}}"#, true), (#"{"tags": {"$ne": "db"}}"#, false),
        (#"{"tags": {"$nin": ["x"]}}"#, true),
        (#"{"gone": null}"#, true), (#"{"nothing": null}"#, false), (#"{"gone": {"$exists": true}}"#, true),
        (#"{"nothing": {"$exists": false}}"#, true), (#"{"team": {"$exists": false}}"#, false),
        (#"{"author.name": "ann"}"#, true), (#"{"author.age": {"$gt": 40}}"#, true), (#"{"author.nothing": {"$exists": true}}"#, false),
        (#"{"author": {"$exists": true}}"#, true), (#"{"a.b": "literal"}"#, true), (#"{"team.x": {"$exists": false}}"#, true),
        (#"{"big": 9007199254740993}"#, true), (#"{"big": 9007199254740992}"#, false),
        (#"{"$or": [{"team": "dev"}, {"year": 2024}]}"#, true), (#"{"$or": [{"team": "dev"}, {"year": 2023}]}"#, false),
        (#"{"$and": [{"team": "ops"}, {"year": 2024}]}"#, true), (#"{"$and": [{"team": "ops"}, {"year": 1}]}"#, false),
        (#"{"$not": {"team": "ops"}}"#, false), (#"{"year": {"$not": {"$gt": 2030}}}"#, true),
        (#"{"team": "ops", "$or": [{"draft": true}, {"$not": {"tags": "x"}}]}"#, true),
        (#"{"$or": [{"$and": [{"team": "dev"}]}, {"$not": {"$or": [{"year": 1}, {"year": 2}]}}]}"#, true),
    ])
    func operators(filter: String, expected: Bool) throws {
        #expect(try Self.parse(filter).accepts(Self.doc) == expected)
    }

    @Test("no metadata: only $ne, $nin, $exists false and their negations pass")
    func noMetadata() throws {
        #expect(try Self.parse(#"{"team": {"$ne": "ops"}}"#).accepts(nil))
        #expect(try !Self.parse(#"{"team": "ops"}"#).accepts(nil))
        #expect(try Self.parse(#"{"team": {"$exists": false}}"#).accepts(nil))
    }

    @Test("mistakes are -32602 naming where", arguments: [
        (#"{"$nor": []}"#, "filter.$nor"), (#"{"team": {"$like": "o%"}}"#, "filter.team.$like"),
        (#"{"team": ["a"]}"#, "filter.team"), (#"{"$or": []}"#, "filter.$or"), (#"{"$or": [1]}"#, "filter.$or[0]"),
        (#"{"$or": [{"x": {"$gt": true}}]}"#, "filter.$or[0].x.$gt"), (#"{"x": {"$in": [[1]]}}"#, "filter.x.$in[0]"),
        (#"{"x": {"$in": []}}"#, "filter.x.$in"), (#"{"x": {"$exists": 1}}"#, "filter.x.$exists"), (#"{"x": {}}"#, "filter.x"),
        (#"{"x": {"$eq": {"a": 1}}}"#, "filter.x.$eq"), (#"{"$not": [1]}"#, "filter.$not"), (#"{"": 1}"#, "filter."),
    ])
    func mistakes(filter: String, field: String) throws {
        #expect(throws: ProxyError.self) { try Self.parse(filter) }
        do {
            _ = try Self.parse(filter)
        } catch let error as ProxyError {
            guard case .invalidParams(let named, _) = error else { Issue.record("\(error)"); return }
            #expect(named == field)
        }
    }

    @Test("bounds: conditions counted across the tree, nesting depth, values per list")
    func bounds() throws {
        let limits = MetadataFilter.Limits(maxConditions: 3, maxDepth: 2, maxValues: 2)
        _ = try Self.parse(#"{"a": 1, "$or": [{"b": 2}, {"c": {"$in": [1, 2]}}]}"#, limits: limits)
        #expect(throws: ProxyError.self) { try Self.parse(#"{"a": 1, "$or": [{"b": 2}, {"c": 3}, {"d": 4}]}"#, limits: limits) }
        #expect(throws: ProxyError.self) { try Self.parse(#"{"$or": [{"$or": [{"$not": {"b": 2}}]}]}"#, limits: limits) }
        #expect(throws: ProxyError.self) { try Self.parse(#"{"c": {"$in": [1, 2, 3]}}"#, limits: limits) }
        // Deep nesting is refused by count, not by the call stack.
        let deep = String(repeating: #"{"$not": "#, count: 60) + #"{"a": 1}"# + String(repeating: "}", count: 60)
        #expect(throws: ProxyError.self) { try Self.parse(deep) }
        let fine = String(repeating: #"{"$not": "#, count: 8) + #"{"a": 1}"# + String(repeating: "}", count: 8)
        #expect(try Self.parse(fine, limits: .init(maxDepth: 8)).accepts(["a": 1]))
    }
}
