#if canImport(Glibc)
import Glibc
#endif

/// Counting in raw answer bytes without parsing them, so the benchmark's
/// drivers cost little next to what they measure. An occurrence split across
/// two reads is missed; good enough for a tally.
enum ByteSearch {
    /// How many times `byte` occurs (memchr).
    static func count(_ byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int {
        var n = 0, offset = 0
        while offset < bytes.count, let hit = memchr(bytes.baseAddress! + offset, Int32(byte), bytes.count - offset) {
            n += 1
            offset = bytes.baseAddress!.distance(to: UnsafeRawPointer(hit)) + 1
        }
        return n
    }

    /// Counts `needle`, calling `found` with the offset just after each occurrence.
    @discardableResult
    static func occurrences(of needle: StaticString, in bytes: UnsafeRawBufferPointer, _ found: (Int) -> Void = { _ in }) -> Int {
        let n = needle.utf8CodeUnitCount
        var count = 0, offset = 0
        let first = Int32(needle.utf8Start.pointee)
        while offset + n <= bytes.count, let hit = memchr(bytes.baseAddress! + offset, first, bytes.count - offset - n + 1) {
            let at = bytes.baseAddress!.distance(to: UnsafeRawPointer(hit))
            guard memcmp(hit, needle.utf8Start, n) == 0 else { offset = at + 1; continue }
            count += 1
            found(at + n)
            offset = at + n
        }
        return count
    }
}
