#if canImport(Glibc)
import Glibc
#endif

/// A point in time with microsecond precision, as the contract carries it:
/// RFC 3339 strings, always written in UTC as `2026-11-25T09:00:00.000000Z`.
///
/// The canonical form is fixed width, so its text sorts in time order; the
/// SQLite backend stores and compares it as text.
public struct Timestamp: Comparable, Hashable, Sendable {
    public var microseconds: Int64  // since 1970-01-01T00:00:00Z

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    // MARK: - Formatting

    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the 27 bytes of the canonical form (hot: every task answer has four).
    public func write(into out: inout [UInt8]) {
        let (secs, micros) = microseconds.floorDivMod(1_000_000)
        let (days, secOfDay) = secs.floorDivMod(86_400)
        let (y, m, d) = Timestamp.civil(fromDays: days)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 27) { b in
            @inline(__always) func two(_ v: Int64, at i: Int) {
                b[i] = UInt8(truncatingIfNeeded: 48 + v / 10)
                b[i + 1] = UInt8(truncatingIfNeeded: 48 + v % 10)
            }
            let year = min(max(y, 0), 9999)
            two(year / 100, at: 0); two(year % 100, at: 2); b[4] = 45
            two(m, at: 5); b[7] = 45; two(d, at: 8); b[10] = 84
            two(secOfDay / 3600, at: 11); b[13] = 58
            two(secOfDay / 60 % 60, at: 14); b[16] = 58
            two(secOfDay % 60, at: 17); b[19] = 46
            two(micros / 10_000, at: 20); two(micros / 100 % 100, at: 22); two(micros % 100, at: 24)
            b[26] = 90
            out.append(contentsOf: UnsafeBufferPointer(b))
        }
    }

    // MARK: - Parsing

    /// Accepts `YYYY-MM-DD(T|t| )HH:MM:SS[.frac][Z|z|±HH:MM]`; no offset means UTC;
    /// more than six fractional digits are truncated.
    public init?(rfc3339 text: String) {
        var text = text
        guard let value = text.withUTF8({ Timestamp.parse($0) }) else { return nil }
        self = value
    }

    private static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        var i = 0
        func num(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for _ in 0..<n {
                let d = b[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                v = v * 10 + Int64(d)
                i += 1
            }
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let y = num(4), expect(UInt8(ascii: "-")), let mo = num(2), expect(UInt8(ascii: "-")), let d = num(2) else { return nil }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let h = num(2), expect(UInt8(ascii: ":")), let mi = num(2), expect(UInt8(ascii: ":")), let s = num(2) else { return nil }
        guard y >= 1, (1...12).contains(mo), d >= 1, d <= daysInMonth(y, mo), h < 24, mi < 60, s < 61 else { return nil }
        var micros: Int64 = 0
        if expect(UInt8(ascii: ".")) {
            var n = 0
            while i < b.count, b[i] &- UInt8(ascii: "0") < 10 {
                if n < 6 { micros = micros * 10 + Int64(b[i] - UInt8(ascii: "0")) }
                n += 1
                i += 1
            }
            guard n > 0 else { return nil }
            for _ in min(n, 6)..<6 { micros *= 10 }
        }
        var offset: Int64 = 0
        if i < b.count {
            switch b[i] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                i += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = num(2), expect(UInt8(ascii: ":")), let om = num(2), oh < 24, om < 60 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            default:
                return nil
            }
        }
        guard i == b.count else { return nil }
        let secs = days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + min(s, 59) - offset
        // An offset may carry a time past year 1 or 9999 in UTC: refused, never clamped on output.
        guard Self.representableSeconds.contains(secs) else { return nil }
        return Timestamp(microseconds: secs * 1_000_000 + micros)
    }

    /// Whether the wire format can say this instant (years 0001 to 9999).
    public var isRepresentable: Bool {
        let (seconds, _) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return Self.representableSeconds.contains(microseconds < 0 && microseconds % 1_000_000 != 0 ? seconds - 1 : seconds)
    }

    /// The last instant the wire format can say: 9999-12-31T23:59:59.999999Z.
    public static let latest = Timestamp(microseconds: representableSeconds.upperBound * 1_000_000 + 999_999)

    /// 0001-01-01T00:00:00Z through 9999-12-31T23:59:59Z: what the output format can say.
    static let representableSeconds = (days(fromCivil: 1, 1, 1) * 86_400)...(days(fromCivil: 9999, 12, 31) * 86_400 + 86_399)

    private static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian,
    // days since 1970-01-01; also the schedules' calendar).
    public static func days(fromCivil y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(fromDays z: Int64) -> (Int64, Int64, Int64) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Timestamp: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        write(into: &out)
        out.append(UInt8(ascii: "\""))
    }
}

extension Int64 {
    fileprivate func floorDivMod(_ d: Int64) -> (Int64, Int64) {
        let q = self / d, r = self % d
        return r < 0 ? (q - 1, r + d) : (q, r)
    }
}
