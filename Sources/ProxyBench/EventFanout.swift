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
                    events += ByteSearch.count(0x0A, in: bytes)
                    lagged += ByteSearch.occurrences(of: "\"op\":\"lagged\"", in: bytes)
                    ByteSearch.occurrences(of: "\"updated_at\":\"", in: bytes) { after in
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
}
