import ProxyCore
import Testing

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    @Test(arguments: [
        ("2026-11-25T09:00:00Z", "2026-11-25T09:00:00.000000Z"),
        ("2026-11-25T09:00:00.5Z", "2026-11-25T09:00:00.500000Z"),
        ("2026-11-25t09:00:00.1234567z", "2026-11-25T09:00:00.123456Z"),
        ("2026-11-25 09:00:00", "2026-11-25T09:00:00.000000Z"),
        ("2026-11-25T10:30:00+01:30", "2026-11-25T09:00:00.000000Z"),
        ("2026-11-25T01:00:00-08:00", "2026-11-25T09:00:00.000000Z"),
        ("2024-02-29T23:59:59.999999Z", "2024-02-29T23:59:59.999999Z"),
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000Z"),
        ("2000-01-01T00:00:00+14:00", "1999-12-31T10:00:00.000000Z"),
    ])
    func parsesAndFormatsInUTC(input: String, expected: String) throws {
        let t = try #require(Timestamp(rfc3339: input))
        #expect(t.rfc3339 == expected)
    }

    @Test(arguments: ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-25", "2026-11-25T9:00:00Z",
                      "2026-11-25T09:00:00.Z", "2026-11-25T09:00:00+0100", "1700000000", "", "2026-11-25T24:00:00Z", "2026-11-25T09:00:00Zjunk",
                      // outside 0001–9999 in UTC, or offsets that are not ±HH:MM under 24 h: refused, never shifted or clamped
                      "0000-06-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
                      "2026-11-25T09:00:00+24:00", "2026-11-25T09:00:00+01:60", "2026-11-25T09:00:00+1:00"])
    func rejectsNonTimestamps(input: String) {
        #expect(Timestamp(rfc3339: input) == nil)
    }

    @Test func theEdgesOfTheRangeAreKept() throws {
        #expect(try #require(Timestamp(rfc3339: "0001-01-01T00:00:00Z")).rfc3339 == "0001-01-01T00:00:00.000000Z")
        #expect(try #require(Timestamp(rfc3339: "9999-12-31T23:59:59.999999Z")).rfc3339 == "9999-12-31T23:59:59.999999Z")
        #expect(try #require(Timestamp(rfc3339: "0001-01-01T01:00:00+01:00")).rfc3339 == "0001-01-01T00:00:00.000000Z")
        let last = try #require(Timestamp(rfc3339: "9999-12-31T23:59:59.999999Z"))
        let first = try #require(Timestamp(rfc3339: "0001-01-01T00:00:00Z"))
        #expect(last.isRepresentable && first.isRepresentable)
        #expect(!Timestamp(microseconds: last.microseconds + 1).isRepresentable)
        #expect(!Timestamp(microseconds: first.microseconds - 1).isRepresentable)
    }

    @Test func epochAndOrdering() throws {
        #expect(Timestamp(microseconds: 0).rfc3339 == "1970-01-01T00:00:00.000000Z")
        let a = try #require(Timestamp(rfc3339: "2026-01-01T00:00:00Z"))
        let b = try #require(Timestamp(rfc3339: "2026-01-01T00:00:00.000001Z"))
        #expect(a < b && a.rfc3339 < b.rfc3339)
        #expect(b.microseconds - a.microseconds == 1)
    }
}
