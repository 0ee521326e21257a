import Synchronization

/// Server-made ids: UUIDv7 layout (48-bit Unix milliseconds, then a counter
/// and random bits), lower-case hex, so ids made later sort after earlier ones
/// even within one millisecond.
public enum Identifier {
    private static let state = Mutex<(lastMillis: UInt64, counter: UInt16)>((0, 0))

    public static func make() -> String {
        let millis = UInt64(Timestamp.now().microseconds / 1000)
        let (ms, counter) = state.withLock { s -> (UInt64, UInt16) in
            if millis > s.lastMillis {
                s.lastMillis = millis
                s.counter = UInt16.random(in: 0..<0x400)  // leave room to count up
            } else {
                s.counter &+= 1
                if s.counter > 0xFFF { s.lastMillis += 1; s.counter = 0 }  // borrow the next millisecond
            }
            return (s.lastMillis, s.counter)
        }
        let randA = 0x7000 | UInt64(counter & 0x0FFF)
        let randB = (UInt64.random(in: 0...UInt64.max) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let hi = ms << 16 | randA
        let hex = hex16(hi) + hex16(randB)
        let c = Array(hex.utf8)
        return String(decoding: c[0..<8], as: UTF8.self) + "-" + String(decoding: c[8..<12], as: UTF8.self) + "-"
            + String(decoding: c[12..<16], as: UTF8.self) + "-" + String(decoding: c[16..<20], as: UTF8.self) + "-"
            + String(decoding: c[20..<32], as: UTF8.self)
    }

    /// 16 random bytes as hex: unguessable handles (transactions).
    public static func randomToken() -> String {
        hex16(UInt64.random(in: 0...UInt64.max)) + hex16(UInt64.random(in: 0...UInt64.max))
    }

    private static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// A client-supplied id: 1–128 printable characters.
    /// ASCII is checked by value; only other characters look up their
    /// Unicode category (a table lookup that was a hot spot per request).
    public static func isValidClientID(_ id: String) -> Bool {
        var count = 0
        for scalar in id.unicodeScalars {
            count += 1
            guard count <= 128 else { return false }
            let v = scalar.value
            if v < 0x80 {
                guard v >= 0x20, v != 0x7F else { return false }
            } else if scalar.properties.generalCategory == .control {
                return false
            }
        }
        return count >= 1
    }
}
