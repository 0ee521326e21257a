import CHNSW
import Glibc

/// A `NeighbourGraph` kept on disk, so a restarted proxy reads its graph
/// instead of building it again (at 1,000,000 documents of 384 floats: a few
/// seconds against eight minutes). Two files: hnswlib's own (`path`: vectors,
/// links, labels) and ours (`path.ids`: which document each label is, and the
/// size and hash of hnswlib's file, so a pair written by two different saves,
/// a torn write or a flipped bit is refused, never searched). Each is written
/// under a temporary name and renamed into place. A graph read back may be
/// older than the matrix: its owner replays what changed (see `NeighbourGraph.build`).
enum GraphFile {
    struct Problem: Error { let reason: String }

    static let magic = Array("SPGRAPH1".utf8)

    /// Writes `ids` (by label, nil for a free one) beside the graph file hnswlib wrote to `graphPath`.
    static func writeIDs(_ ids: [String?], graphPath: String, to path: String) throws(Problem) {
        let (size, hash) = try digest(of: graphPath)
        var out = magic
        append(UInt64(size), to: &out)
        append(hash, to: &out)
        append(UInt64(ids.count), to: &out)
        for id in ids {
            if let id {
                append(UInt32(id.utf8.count), to: &out)
                out.append(contentsOf: id.utf8)
            } else {
                append(UInt32.max, to: &out)
            }
        }
        append(hash64(out), to: &out)
        try write(out, to: path)
    }

    /// The ids by label, when `path` is whole and was written for the graph file at `graphPath` as it is.
    static func readIDs(from path: String, graphPath: String) throws(Problem) -> [String?] {
        let bytes = try read(path)
        guard bytes.count >= magic.count + 32, Array(bytes.prefix(magic.count)) == magic else { throw Problem(reason: "not a graph's ids file") }
        guard load(bytes, at: bytes.count - 8) == hash64(bytes[..<(bytes.count - 8)]) else { throw Problem(reason: "the ids file is damaged") }
        let (size, hash) = try digest(of: graphPath)
        guard load(bytes, at: 8) == UInt64(size), load(bytes, at: 16) == hash else {
            throw Problem(reason: "the graph file is not the one its ids were written for")
        }
        let count = Int(load(bytes, at: 24))
        var ids: [String?] = []
        ids.reserveCapacity(min(count, bytes.count / 4))
        var at = 32
        let end = bytes.count - 8
        for _ in 0..<count {
            guard at + 4 <= end else { throw Problem(reason: "the ids file is cut short") }
            let length = UInt32(truncatingIfNeeded: load(bytes, at: at, width: 4))
            at += 4
            if length == UInt32.max { ids.append(nil); continue }
            guard at + Int(length) <= end else { throw Problem(reason: "the ids file is cut short") }
            ids.append(String(decoding: bytes[at..<at + Int(length)], as: UTF8.self))
            at += Int(length)
        }
        guard at == end else { throw Problem(reason: "the ids file has bytes past its ids") }
        return ids
    }

    /// Size and a 64-bit hash of a file's bytes.
    static func digest(of path: String) throws(Problem) -> (size: Int, hash: UInt64) {
        var size = 0
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
        try eachMegabyte(of: path) { chunk in
            hash = hash64(chunk, seed: hash)
            size += chunk.count
        }
        return (size, hash)
    }

    /// A fast 64-bit hash (8 bytes at a time, multiply and rotate): for damage, not for adversaries.
    static func hash64<Bytes: Collection<UInt8>>(_ bytes: Bytes, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> UInt64 {
        var h = seed
        let mix = { (h: UInt64, word: UInt64) -> UInt64 in
            let x = (h ^ (word &* 0xC2B2_AE3D_27D4_EB4F))
            return ((x << 31) | (x >> 33)) &* 0x9E37_79B9_7F4A_7C15
        }
        let done: Bool? = bytes.withContiguousStorageIfAvailable { buffer in
            let raw = UnsafeRawBufferPointer(buffer)
            var i = 0
            while i + 8 <= raw.count {
                h = mix(h, raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i += 8
            }
            var tail: UInt64 = 0
            for j in i..<raw.count { tail |= UInt64(raw[j]) << (8 * UInt64(j - i)) }
            h = mix(h, tail ^ UInt64(raw.count))
            return true
        }
        if done == nil { return hash64(Array(bytes), seed: seed) }
        return h
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func load(_ bytes: [UInt8], at offset: Int, width: Int = 8) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws(Problem) {
        guard let file = fopen(path, "wb") else { throw Problem(reason: "cannot write \(path): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress!, 1, $0.count, file) }
        guard fclose(file) == 0, written == bytes.count else { throw Problem(reason: "cannot write \(path)") }
    }

    private static func read(_ path: String) throws(Problem) -> [UInt8] {
        var out: [UInt8] = []
        try eachMegabyte(of: path) { out.append(contentsOf: $0) }
        return out
    }

    /// The file's bytes a megabyte at a time.
    private static func eachMegabyte(of path: String, _ body: (ArraySlice<UInt8>) -> Void) throws(Problem) {
        guard let file = fopen(path, "rb") else { throw Problem(reason: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress!, 1, $0.count, file) }
            if n == 0 { break }
            body(buffer[..<n])
        }
        guard ferror(file) == 0 else { throw Problem(reason: "cannot read \(path)") }
    }
}
