/// Redis's glob (`KEYS`/`SCAN MATCH`), byte for byte: `*`, `?`, `[a-z]`,
/// `[^x]`, and `\` to escape.
public struct GlobPattern: Sendable {
    private let pattern: [UInt8]

    public init(_ pattern: String) { self.pattern = Array(pattern.utf8) }

    public func matches(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { k in pattern.withUnsafeBufferPointer { p in Self.match(p, 0, k, 0) } }
    }

    private static func match(_ p: UnsafeBufferPointer<UInt8>, _ pi: Int, _ s: UnsafeBufferPointer<UInt8>, _ si: Int) -> Bool {
        var pi = pi, si = si
        while pi < p.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                while pi + 1 < p.count, p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
                if pi + 1 == p.count { return true }
                for start in si...s.count where match(p, pi + 1, s, start) { return true }
                return false
            case UInt8(ascii: "?"):
                guard si < s.count else { return false }
                si += 1
            case UInt8(ascii: "["):
                guard si < s.count else { return false }
                pi += 1
                let negate = pi < p.count && p[pi] == UInt8(ascii: "^")
                if negate { pi += 1 }
                var matched = false
                while pi < p.count, p[pi] != UInt8(ascii: "]") {
                    if p[pi] == UInt8(ascii: "\\"), pi + 1 < p.count {
                        pi += 1
                        if p[pi] == s[si] { matched = true }
                    } else if pi + 2 < p.count, p[pi + 1] == UInt8(ascii: "-"), p[pi + 2] != UInt8(ascii: "]") {
                        let lo = min(p[pi], p[pi + 2]), hi = max(p[pi], p[pi + 2])
                        if s[si] >= lo && s[si] <= hi { matched = true }
                        pi += 2
                    } else if p[pi] == s[si] {
                        matched = true
                    }
                    pi += 1
                }
                if matched == negate { return false }
                si += 1
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                pi += 1
                guard si < s.count, p[pi] == s[si] else { return false }
                si += 1
            default:
                guard si < s.count, p[pi] == s[si] else { return false }
                si += 1
            }
            pi += 1
        }
        return si == s.count
    }
}
