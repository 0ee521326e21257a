import ProxyCore

/// Redis's glob, as `SCAN … MATCH` applies it to a key space under a literal
/// prefix (which is how the proxy's `cache.*` keys live in Redis): `*`, `?`,
/// `[a-z]`, `[^x]`, `\` to escape, byte for byte, with Redis's own reading of
/// malformed classes (`[a-]`, an unterminated `[`, signed bytes in ranges)
/// and its guard against abusive patterns (a 1,001st `*` group that is not
/// the pattern's last never matches). A differential test holds it to a
/// real `redis-server`.
///
/// Why not Redis's recursive `stringmatchlen`: the pattern comes from a
/// client, and recursion per `*` overflows the stack on a long pattern.
/// Here the pattern is compiled once into fixed-length segments between
/// `*`s; a key is matched by anchoring the first and last segment and
/// finding each middle one leftmost-first (greedy is exact for globs), with
/// a bit-parallel scan (Shift-And): O(key length × ⌈segment/64⌉), no
/// recursion, no backtracking.
public struct GlobPattern: Sendable {
    /// Redis gives up past this many nested `*` groups.
    static let maxStarGroups = 1000

    private let head: Segment           // before the first `*` (anchored at the start)
    private let middles: [Segment]      // between `*`s (found leftmost-first)
    private let tail: Segment           // after the last `*` (anchored at the end)
    private let hasStar: Bool
    private let neverMatches: Bool

    public init(_ pattern: String) { self.init(bytes: Array(pattern.utf8)) }

    public init(bytes pattern: [UInt8]) {
        var segments: [[ByteSet]] = []
        var current: [ByteSet] = []
        var starGroups = 0
        var endsWithStar = false
        Self.tokens(pattern) { token in
            if let set = token {
                current.append(set)
                endsWithStar = false
            } else {
                segments.append(current)
                current = []
                starGroups += 1
                endsWithStar = true
            }
        }
        segments.append(current)
        hasStar = starGroups > 0
        // Only the middle segments are searched for: only they need the scan's masks.
        head = Segment(segments.first!, searchable: false)
        tail = Segment(segments.last!, searchable: false)
        middles = segments.count > 2 ? segments[1..<(segments.count - 1)].map { Segment($0, searchable: true) } : []
        // Redis recurses once per `*` group and answers "no match" past 1000
        // levels, unless that group is the pattern's last byte.
        neverMatches = starGroups > Self.maxStarGroups + 1 || (starGroups == Self.maxStarGroups + 1 && !endsWithStar)
    }

    public func matches(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { matches(bytes: $0) }
    }

    public func matches(bytes s: UnsafeBufferPointer<UInt8>) -> Bool {
        if neverMatches { return false }
        guard hasStar else { return head.count == s.count && head.matches(s, at: 0) }
        guard head.count + tail.count <= s.count, head.matches(s, at: 0), tail.matches(s, at: s.count - tail.count) else {
            return false
        }
        var position = head.count
        let end = s.count - tail.count
        for segment in middles {
            guard let found = segment.firstMatchEnd(in: s, from: position, to: end) else { return false }
            position = found
        }
        return true
    }

    // MARK: - Reading the pattern as Redis does

    /// Calls `emit` with each position's byte set, or nil for a group of `*`.
    private static func tokens(_ p: [UInt8], _ emit: (ByteSet?) -> Void) {
        let star = UInt8(ascii: "*"), backslash = UInt8(ascii: "\\")
        var i = 0
        while i < p.count {
            switch p[i] {
            case star:
                while i < p.count, p[i] == star { i += 1 }
                emit(nil)
                continue
            case UInt8(ascii: "?"):
                emit(.all)
            case UInt8(ascii: "["):
                i += 1
                let negate = i < p.count && p[i] == UInt8(ascii: "^")
                if negate { i += 1 }
                var set = ByteSet()
                while true {
                    if i < p.count, p[i] == backslash, p.count - i >= 2 {
                        i += 1
                        set.insert(p[i])
                    } else if i < p.count, p[i] == UInt8(ascii: "]") {
                        break
                    } else if i >= p.count {
                        i -= 1  // unterminated: the class ends with the pattern
                        break
                    } else if p.count - i >= 3, p[i + 1] == UInt8(ascii: "-") {
                        set.insertRange(p[i], p[i + 2])
                        i += 2
                    } else {
                        set.insert(p[i])
                    }
                    i += 1
                }
                emit(negate ? set.complement : set)
            case backslash:
                if p.count - i >= 2 { i += 1 }
                emit(ByteSet(p[i]))
            default:
                emit(ByteSet(p[i]))
            }
            i += 1
        }
    }
}

/// A set of bytes: what one position of the pattern accepts.
struct ByteSet: Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init() {}
    init(_ byte: UInt8) { insert(byte) }

    static var all: ByteSet { ByteSet().complement }

    func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    /// Redis compares range bounds as C `char`: signed on the platforms it
    /// runs on, so `[a-\xe9]` spans 0xE9…0xFF and 0x00…'a'.
    mutating func insertRange(_ a: UInt8, _ b: UInt8) {
        var lo = Int(Int8(bitPattern: a)), hi = Int(Int8(bitPattern: b))
        if lo > hi { swap(&lo, &hi) }
        for v in lo...hi { insert(UInt8(bitPattern: Int8(v))) }
    }

    var complement: ByteSet {
        var c = ByteSet()
        c.words = (~words.0, ~words.1, ~words.2, ~words.3)
        return c
    }
}

/// A run of single-byte positions between two `*`s.
struct Segment: Sendable {
    let sets: [ByteSet]
    /// Shift-And masks (searchable segments only): bit j of
    /// `masks[b * wordCount + j / 64]` is set when position j accepts byte b.
    private let masks: [UInt64]
    private let wordCount: Int

    init(_ sets: [ByteSet], searchable: Bool) {
        self.sets = sets
        wordCount = max(1, (sets.count + 63) / 64)
        guard searchable else { masks = []; return }
        var masks = [UInt64](repeating: 0, count: 256 * wordCount)
        for (j, set) in sets.enumerated() {
            for b in 0...255 where set.contains(UInt8(b)) { masks[b * wordCount + j / 64] |= UInt64(1) << UInt64(j % 64) }
        }
        self.masks = masks
    }

    var count: Int { sets.count }

    func matches(_ s: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        for (j, set) in sets.enumerated() where !set.contains(s[start + j]) { return false }
        return true
    }

    /// Where the leftmost occurrence inside `s[from..<to]` ends (exclusive).
    func firstMatchEnd(in s: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        let k = sets.count
        if k == 0 { return from }
        guard to - from >= k else { return nil }
        let lastWord = (k - 1) / 64, lastBit = UInt64(1) << UInt64((k - 1) % 64)
        if wordCount == 1 {
            var state: UInt64 = 0
            for i in from..<to {
                state = ((state << 1) | 1) & masks[Int(s[i])]
                if state & lastBit != 0 { return i + 1 }
            }
            return nil
        }
        var state = [UInt64](repeating: 0, count: wordCount)
        for i in from..<to {
            let base = Int(s[i]) * wordCount
            var carry: UInt64 = 1
            for w in 0..<wordCount {
                let shifted = (state[w] << 1) | carry
                carry = state[w] >> 63
                state[w] = shifted & masks[base + w]
            }
            if state[lastWord] & lastBit != 0 { return i + 1 }
        }
        return nil
    }
}
