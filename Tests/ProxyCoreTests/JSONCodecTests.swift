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
        #expect(JSONValue.double(-0.0).jsonText == "-0.0")  // the sign survives (a vector's -0 did not)
        #expect(try JSONParser.parse("-0.0").doubleValue?.sign == .minus)
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

    @Test("decimal numbers parse to exactly what strtod gives, fast path or not (200,000 random ones)")
    func numbersAgreeWithStrtod() throws {
        var random = Knuth64(seed: 0x1234_5678)
        func next() -> UInt64 { random.next() }
        let digits = Array("0123456789")
        for i in 0..<200_000 {
            // 1 to 21 significant digits, a point somewhere, sometimes an exponent: both sides of every fast-path bound.
            let count = Int(next() % 21) + 1
            var body = String((0..<count).map { _ in digits[Int(next() % 10)] })
            while body.count > 1 && body.first == "0" { body.removeFirst() }
            let point = Int(next() % UInt64(body.count + 1))
            var text = point == body.count ? body : String(body.prefix(point).isEmpty ? "0" : body.prefix(point)) + "." + body.dropFirst(point)
            if next() % 3 == 0 { text += "e" + (next() % 2 == 0 ? "-" : "") + String(next() % 30) }
            if i % 2 == 0 { text = "-" + text }
            let parsed = try JSONParser.parse(text)
            guard case .double(let d) = parsed else { continue }  // integers have their own test
            let expected = try #require(Double(text))
            #expect(d.bitPattern == expected.bitPattern, "\(text): \(d) != \(expected)")
            if d.bitPattern != expected.bitPattern { return }
        }
    }

    @Test("embeddings' numbers (a float32's shortest double form, 16-17 digits) and 19-digit ones over the whole exponent range parse as strtod does")
    func longMantissasAgreeWithStrtod() throws {
        var random = Knuth64(seed: 0x9E37_79B9)
        func next() -> UInt64 { random.next() }
        var texts = ["9007199254740993", "9007199254740993.0", "1e23", "8.98846567431158e307", "1.7976931348623157e308",
                     "1.7976931348623158e308", "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9406564584124654e-324",
                     "2.4703282292062328e-324", "7.2057594037927933e16", "9223372036854775807.5", "1e-348", "9.999999999999999e-349",
                     "0.30000000000000004", "123456789012345678e-30", "18446744073709551615e300"]
        for _ in 0..<100_000 {
            let single = Float(bitPattern: UInt32(truncatingIfNeeded: next()))
            if single.isFinite { texts.append(Double(single).description) }  // what Python's json writes for a float32 embedding
            let mantissa = next() &* 4099 % 10_000_000_000_000_000_000  // up to 19 digits
            texts.append("\(mantissa)e\(Int(next() % 701) - 350)")
        }
        for (i, text) in texts.enumerated() {
            let signed = i % 2 == 0 ? text : "-" + text
            guard let expected = Double(signed) else { continue }
            guard expected.isFinite else {
                #expect(throws: JSONParseError.self) { try JSONParser.parse(signed) }
                continue
            }
            let parsed = try JSONParser.parse(signed)
            guard case .double(let d) = parsed else { continue }
            #expect(d.bitPattern == expected.bitPattern, "\(signed): \(d) != \(expected)")
            if d.bitPattern != expected.bitPattern { return }
        }
    }
}

/// Knuth's 64-bit LCG, the top 53 bits: the same numbers on every run.
struct Knuth64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
}
