#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProxyCore

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
                let n = buf.withUnsafeBytes { ByteSearch.count(0x0A, in: UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
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
