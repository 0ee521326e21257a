import SQLStore
import Testing

@Suite("The schema, written once")
struct SchemaTests {
    @Test("both dialects have the same versions, in order, with the same names")
    func sameVersions() {
        let lite = Schema.migrations(.sqlite), pg = Schema.migrations(.postgresql)
        #expect(lite.map(\.version) == pg.map(\.version))
        #expect(lite.map(\.name) == pg.map(\.name))
        #expect(lite.map(\.version) == Array(1...lite.count))
    }

    @Test("each dialect gets its own column types and nothing of the other's")
    func nativeTypes() {
        let lite = Schema.migrations(.sqlite).map(\.sql).joined(), pg = Schema.migrations(.postgresql).map(\.sql).joined()
        for native in ["BOOLEAN", "TIMESTAMPTZ", "JSONB"] {
            #expect(pg.contains(native))
            #expect(!lite.contains(native))
        }
        #expect(lite.contains("repeat INTEGER NOT NULL DEFAULT 0") && pg.contains("repeat BOOLEAN NOT NULL DEFAULT false"))
    }
}
