import ProxyCore
import Testing

@Suite("JSON codec")
struct JSONCodecTests {
    func roundTrip(_ text: String) throws -> String { try JSONParser.parse(text).jsonText }

    @Test func parsesAndEncodesEveryType() throws {
        let text = #"{"a":null,"b":true,"c":false,"d":-12,"e":1.5,"f":"x\"y\\z\n\u0001","g":[1,[2,{}]],"h":{}}"#
        #expect(try roundTrip(text) == text)
    }

    @Test func keepsMemberOrderAndDuplicatesResolveToTheLast() throws {
        let v = try JSONParser.parse(#"{"z":1,"a":2,"z":3}"#)
        #expect(v.objectValue?.keys == ["z", "a", "z"])
        #expect(v.objectValue?["z"] == 3)
    }

    @Test func integersStayExact() throws {
        #expect(try JSONParser.parse("9007199254740991") == .int(9_007_199_254_740_991))
        #expect(try JSONParser.parse("-9007199254740991") == .int(-9_007_199_254_740_991))
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(try JSONParser.parse("18446744073709551616") == .double(18446744073709551616))
        #expect(JSONValue.double(100).jsonText == "100.0")
        #expect(JSONValue.double(0.1).jsonText == "0.1")
    }

    @Test func unicodeEscapesAndSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00""#) == .string("é😀"))
        #expect(try JSONParser.parse("\"é😀\"") == .string("é😀"))
        #expect(JSONValue.string("é😀\u{7}").jsonText == "\"é😀\\u0007\"")
    }

    @Test(arguments: [#""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#])
    func loneSurrogatesAreSyntaxErrors(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func invalidUTF8IsRejected() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\"}", "01", "1.", "-", "tru", "\"a", "[1 2]", "{\"a\":1,}", "nul", "\"\t\"", "1 2", "+1", ".5"])
    func malformedInputIsASyntaxError(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func nestingIsCapped() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.tooDeep(limit: 64)) { try JSONParser.parse(deep) }
        #expect(throws: JSONParseError.tooDeep(limit: 64)) { try JSONParser.parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func prettyPrinting() throws {
        let v: JSONValue = ["a": [1, 2], "b": [:]]
        #expect(v.prettyPrinted() == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}")
    }

    @Test func findsNULStrings() {
        let v: JSONValue = ["ok": "x", "deep": ["list": ["fine", "bad\u{0}"]]]
        #expect(v.pathOfNULString(prefix: "") == "deep.list[1]")
        #expect(JSONValue.object(["k": "v"]).pathOfNULString(prefix: "") == nil)
    }
}

@Suite("JSON equality")
struct JSONEqualityTests {
    @Test func objectsAreUnordered() throws {
        #expect(try JSONParser.parse(#"{"a":1,"b":[1,2]}"#) == JSONParser.parse(#"{"b":[1,2],"a":1}"#))
        #expect(try JSONParser.parse(#"{"a":1}"#) != JSONParser.parse(#"{"a":1,"b":2}"#))
        #expect(try JSONParser.parse(#"{"a":1}"#) != JSONParser.parse(#"{"a":2}"#))
        #expect(try JSONParser.parse("[1,2]") != JSONParser.parse("[2,1]"))  // arrays keep their order
    }
}
