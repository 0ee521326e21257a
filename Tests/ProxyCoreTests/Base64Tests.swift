import ProxyCore
import Testing

@Suite("Base64 (RFC 4648, padded)")
struct Base64Tests {
    @Test("every length round-trips, and decodes what a reference encoding gives")
    func roundTrip() {
        var state: UInt64 = 1
        for length in 0...40 {
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
            let text = Base64.encode(bytes)
            #expect(text.utf8.count == (length + 2) / 3 * 4)
            #expect(Base64.decode(text) == bytes, "\(length) bytes: \(text)")
        }
        #expect(Base64.decode("AACAPwAAwH8=") == [0, 0, 0x80, 0x3F, 0, 0, 0xC0, 0x7F])
        #expect(Base64.encode(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw==")
    }

    @Test("not padded base64 is nil", arguments: ["A", "AB", "ABC", "AB=C", "A===", "====", "AB\u{0}=", "ABCD=", "AB-_", "ABC*", "é123"])
    func refusals(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
