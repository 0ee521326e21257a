#if canImport(Glibc)
import Glibc
#endif

/// Cuts a byte stream into lines ending in `\n` (a `\r` before it is
/// dropped, and does not count toward the limit). Complete lines inside one
/// read are handed over without copying; only a partial tail is kept. A line
/// longer than `maxLineBytes` is reported once, as soon as it is known to be
/// too long, and the rest of it is skipped up to its newline: the connection
/// stays usable and memory stays bounded.
public struct LineFramer {
    public enum Event {
        case line(UnsafeBufferPointer<UInt8>)
        case tooLarge
    }

    public let maxLineBytes: Int
    private var partial: [UInt8] = []
    private var discarding = false

    public init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// A line has begun and not ended yet (the proxy times how long it takes).
    public var hasPartialLine: Bool { discarding || !partial.isEmpty }

    /// Whether `count` bytes, ending at `last`, exceed the limit once a final `\r` is set aside.
    private func exceeds(_ count: Int, last: UInt8?) -> Bool {
        count - (last == 0x0D ? 1 : 0) > maxLineBytes
    }

    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: (Event) -> Void) {
        let bytes = chunk.bindMemory(to: UInt8.self)
        var start = 0
        while start < bytes.count {
            let rest = bytes.count - start
            guard let nl = memchr(bytes.baseAddress! + start, 0x0A, rest) else {
                appendPartial(UnsafeBufferPointer(rebasing: bytes[start...]), emit)
                return
            }
            let end = bytes.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self))
            if discarding {
                discarding = false
            } else if partial.isEmpty {
                if exceeds(end - start, last: end > start ? bytes[end - 1] : nil) { emit(.tooLarge) } else { emitLine(UnsafeBufferPointer(rebasing: bytes[start..<end]), emit) }
            } else {
                if exceeds(partial.count + (end - start), last: end > start ? bytes[end - 1] : partial.last) {
                    emit(.tooLarge)
                } else {
                    partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
                    partial.withUnsafeBufferPointer { emitLine($0, emit) }
                }
                partial.removeAll(keepingCapacity: partial.capacity <= 64 * 1024)
            }
            start = end + 1
        }
    }

    /// At end of input: a last line without its newline still counts.
    public mutating func finish(_ emit: (Event) -> Void) {
        defer { partial = []; discarding = false }
        guard !discarding, !partial.isEmpty else { return }
        if exceeds(partial.count, last: nil) { return emit(.tooLarge) }
        partial.withUnsafeBufferPointer { emitLine($0, emit) }
    }

    private mutating func appendPartial(_ tail: UnsafeBufferPointer<UInt8>, _ emit: (Event) -> Void) {
        guard !discarding else { return }
        // One byte of slack: it may be the `\r` of a CRLF still to come.
        if partial.count + tail.count > maxLineBytes + 1 {
            emit(.tooLarge)
            partial = []
            discarding = true
            return
        }
        partial.append(contentsOf: tail)
    }

    private func emitLine(_ line: UnsafeBufferPointer<UInt8>, _ emit: (Event) -> Void) {
        var count = line.count
        if count > 0, line[count - 1] == 0x0D { count -= 1 }
        // Blank lines (only spaces/tabs) are ignored, as the contract says.
        var i = 0
        while i < count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        if i == count { return }
        emit(.line(UnsafeBufferPointer(start: line.baseAddress, count: count)))
    }
}
