import Foundation
import ProxyCore
import StoragePorts
import Testing

/// `GlobPattern` against a real `redis-server`: thousands of generated
/// patterns, each run as `KEYS` over the same keys in Redis, must select
/// exactly the keys the proxy's in-process matcher selects. Keys and
/// patterns carry a literal prefix, as `cache.*` keys do in Redis.
@Suite("Glob against Redis")
struct GlobDifferentialTests {
    /// A small xorshift generator: the same cases every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
    }

    static let prefix: [UInt8] = Array("g:".utf8)

    func keys(_ rng: inout Seeded) -> [[UInt8]] {
        let alphabet: [UInt8] = Array("ab-]^\\[*?".utf8) + [0xC3, 0xA9, 0x7F]
        var out: Set<[UInt8]> = [[]]
        while out.count < 400 {
            out.insert((0..<Int.random(in: 1...7, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        }
        return Array(out)
    }

    func patterns(_ rng: inout Seeded, count: Int) -> [[UInt8]] {
        let alphabet: [UInt8] = Array("ab*?[]^-\\".utf8) + [0xC3, 0xA9]
        var out: [[UInt8]] = ["", "*", "[a-]", "[]-a]", "[", "[^", "\\", "a\\", "[\\", "[a-\u{E9}]*", "[z-a]", "**a**"].map { Array($0.utf8) }
        while out.count < count {
            out.append((0..<Int.random(in: 0...9, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        }
        return out
    }

    @Test func matchesRedisOnGeneratedPatterns() throws {
        var rng = Seeded(state: 0x9E37_79B9_7F4A_7C15)
        let redis = try RESPConnection(url: try TestRedis.url())
        let keys = keys(&rng)
        // A database of its own: KEYS sees only these keys.
        var setup: [[[UInt8]]] = [["SELECT", "7"].map { Array($0.utf8) }, [Array("FLUSHDB".utf8)]]
        for k in keys { setup.append([Array("SET".utf8), Self.prefix + k, Array("1".utf8)]) }
        for r in try redis.pipeline(setup) { if case .error(let e) = r { Issue.record("setup: \(e)") } }

        let patterns = patterns(&rng, count: 4000)
        let replies = try redis.pipeline(patterns.map { [Array("KEYS".utf8), Self.prefix + $0] })
        var mismatches = 0
        for (pattern, reply) in zip(patterns, replies) {
            guard case .array(let found) = reply else { Issue.record("KEYS answered \(reply)"); continue }
            let redisKeys = Set(found.compactMap { r -> [UInt8]? in if case .bulk(let b?) = r { return Array(b.dropFirst(2)) } else { return nil } })
            let glob = GlobPattern(bytes: Self.prefix + pattern)
            let ours = Set(keys.filter { k in (Self.prefix + k).withUnsafeBufferPointer { glob.matches(bytes: $0) } })
            if ours != redisKeys {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("pattern \(String(decoding: pattern, as: UTF8.self).debugDescription): Redis \(redisKeys.count) keys, ours \(ours.count)")
                }
            }
        }
        #expect(mismatches == 0)
        _ = try redis.pipeline([[Array("FLUSHDB".utf8)]])
    }

    /// Redis stops at 1,000 nested `*` groups: a longer pattern matches only
    /// when its 1,001st group is its end.
    @Test func followsRedisOnManyStars() throws {
        let redis = try RESPConnection(url: try TestRedis.url())
        let key = Self.prefix + [UInt8](repeating: UInt8(ascii: "a"), count: 1100)
        _ = try redis.pipeline([["SELECT", "8"].map { Array($0.utf8) }, [Array("FLUSHDB".utf8)], [Array("SET".utf8), key, [49]]])
        for stars in [999, 1000, 1001, 1002] {
            for end in ["", "*"] {
                let pattern = "g:" + String(repeating: "*a", count: stars) + end
                let reply = try redis.pipeline([[Array("KEYS".utf8), Array(pattern.utf8)]])[0]
                let redisMatched = reply != .array([])
                let ours = key.withUnsafeBufferPointer { GlobPattern(pattern).matches(bytes: $0) }
                #expect(ours == redisMatched, "\(stars) groups, ending '\(end)'")
            }
        }
        _ = try redis.pipeline([[Array("FLUSHDB".utf8)]])
    }
}
