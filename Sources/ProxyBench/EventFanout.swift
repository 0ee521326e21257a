#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProxyCore
import StorageProxyClient

/// Live-event fan-out: `subscribers` connections subscribe to every task
/// change while one writer connection changes tasks (`update_task_status`)
/// at `rate` writes a second, pipelined. One thread reads every subscriber with poll(2) and
/// counts event lines; the delay of each event is its task's `updated_at`
/// (stamped by the proxy as the write ran, before its commit) to the moment
/// it is read, so it covers the commit, the hand-off and the fan-out.
public struct EventFanout {
    public struct Figures {
        public var writes: Int
        public var events: Int
        public var lagged: Int
        public var seconds: Double
        public var p50us: Double
        public var p99us: Double
        public var eventsPerSecond: Double { Double(events) / seconds }
        public var writesPerSecond: Double { Double(writes) / seconds }
    }

    let socketPath: String
    let subscribers: Int
    let rate: Double
    let duration: Double

    public init(socketPath: String, subscribers: Int, rate: Double, duration: Double) {
        self.socketPath = socketPath; self.subscribers = subscribers; self.rate = rate; self.duration = duration
    }

    public func run(writeLines: [[UInt8]]) throws -> Figures {
        var fds: [pollfd] = []
        defer { for p in fds { close(p.fd) } }
        for _ in 0..<subscribers {
            let fd = try LoadDriver.connectUnix(socketPath)
            fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            try Self.subscribe(fd)
        }
        // The writer runs on its own threads for `duration`; events are read until they stop coming.
        let written = Locked<(writes: Int, seconds: Double)?>(nil)
        let writer = try PacedWriter(socketPath: socketPath, rate: rate, duration: duration)
        let writing = Thread {
            let figures = writer.run(lines: writeLines)  // not under the lock: the reader checks it meanwhile
            written.withLock { $0 = figures }
        }
        writing.start()

        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        var delays: [UInt32] = []
        delays.reserveCapacity(1 << 22)
        var events = 0, lagged = 0
        let start = MonotonicClock.seconds()
        var lastEvent = start
        while true {
            let now = MonotonicClock.seconds()
            let writersDone = written.withLock { $0 != nil }
            if writersDone && now - lastEvent > 0.5 { break }  // drained
            if now - start > duration + 30 { break }
            guard poll(&fds, nfds_t(fds.count), 100) > 0 else { continue }
            let received = Timestamp.now().microseconds
            for i in fds.indices where fds[i].revents != 0 {
                let got = buf.withUnsafeMutableBytes { recv(fds[i].fd, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { throw ClientError("the proxy closed a subscriber's connection") }
                buf.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<got])
                    events += Self.count(0x0A, in: bytes)
                    lagged += Self.occurrences(of: "\"op\":\"lagged\"", in: bytes) { _ in }
                    _ = Self.occurrences(of: "\"updated_at\":\"", in: bytes) { after in
                        guard after + 27 <= bytes.count else { return }  // split across reads: not sampled
                        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[after..<after + 27]), as: UTF8.self)
                        if let stamp = Timestamp(rfc3339: text) {
                            delays.append(UInt32(clamping: max(0, received - stamp.microseconds)))
                        }
                    }
                }
                lastEvent = MonotonicClock.seconds()
            }
        }
        while written.withLock({ $0 == nil }) { usleep(10_000) }
        delays.sort()
        func pct(_ q: Double) -> Double { delays.isEmpty ? 0 : Double(delays[min(delays.count - 1, Int(Double(delays.count) * q))]) }
        let w = written.withLock { $0! }
        return Figures(writes: w.writes, events: events - lagged, lagged: lagged, seconds: w.seconds, p50us: pct(0.5), p99us: pct(0.99))
    }

    /// Subscribes to task changes and waits for the answer.
    private static func subscribe(_ fd: Int32) throws {
        let request = Array(#"{"id":1,"method":"subscribe","params":{"topics":["tasks"]}}"#.utf8) + [0x0A]
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw ClientError("cannot subscribe")
        }
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while byte != 0x0A {
            guard recv(fd, &byte, 1, 0) == 1 else { throw ClientError("no answer to subscribe") }
            answer.append(byte)
        }
        guard String(decoding: answer, as: UTF8.self).contains("\"subscription\"") else {
            throw ClientError("subscribe failed: \(String(decoding: answer, as: UTF8.self))")
        }
    }

    private static func count(_ byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int {
        var n = 0, offset = 0
        while offset < bytes.count, let hit = memchr(bytes.baseAddress! + offset, Int32(byte), bytes.count - offset) {
            n += 1
            offset = bytes.baseAddress!.distance(to: UnsafeRawPointer(hit)) + 1
        }
        return n
    }

    /// Counts `needle` in `bytes`, calling `found` with the offset just after each.
    private static func occurrences(of needle: StaticString, in bytes: UnsafeRawBufferPointer, _ found: (Int) -> Void) -> Int {
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

/// One connection sending `rate` lines a second (in a burst each half
/// millisecond), its answers counted by a thread of their own.
struct PacedWriter {
    let fd: Int32
    let rate: Double
    let duration: Double

    init(socketPath: String, rate: Double, duration: Double) throws {
        fd = try LoadDriver.connectUnix(socketPath)
        self.rate = rate
        self.duration = duration
    }

    /// Returns the writes answered and the seconds they took; closes the connection.
    func run(lines: [[UInt8]]) -> (writes: Int, seconds: Double) {
        let answered = Locked(0)
        let reader = Thread { [fd] in
            var buf = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let got = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if got <= 0 { return }
                let n = buf[0..<got].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                answered.withLock { $0 += n }
            }
        }
        reader.start()
        let start = MonotonicClock.seconds()
        var sent = 0, cursor = 0
        while true {
            let elapsed = MonotonicClock.seconds() - start
            if elapsed >= duration { break }
            let due = Int(rate * elapsed) - sent
            if due > 0 {
                var out: [UInt8] = []
                for _ in 0..<due {
                    out += lines[cursor]
                    cursor = (cursor + 1) % lines.count
                }
                var offset = 0
                while offset < out.count {
                    let n = out.withUnsafeBytes { send(fd, $0.baseAddress! + offset, out.count - offset, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    offset += n
                }
                sent += due
            }
            usleep(500)
        }
        let deadline = MonotonicClock.seconds() + 30
        while answered.withLock({ $0 }) < sent && MonotonicClock.seconds() < deadline { usleep(1_000) }
        let seconds = MonotonicClock.seconds() - start
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        return (answered.withLock { $0 }, seconds)
    }
}
