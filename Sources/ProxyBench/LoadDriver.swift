#if canImport(Glibc)
import Glibc
#endif
import ProxyCore
import StorageProxyClient

/// Drives C connections to a Unix socket, each keeping W requests in flight,
/// from one thread with poll(2) (so the driver costs the same whatever it
/// talks to). Counts answers by newline and times each request.
public struct LoadDriver {
    public struct Figures {
        public var requests: Int
        public var seconds: Double
        public var p50us: Double
        public var p99us: Double
        public var errors: Int
        public var perSecond: Double { Double(requests) / seconds }
    }

    let socketPath: String
    let connections: Int
    let pipeline: Int
    let duration: Double

    public init(socketPath: String, connections: Int, pipeline: Int, duration: Double) {
        self.socketPath = socketPath; self.connections = connections; self.pipeline = pipeline; self.duration = duration
    }

    /// Sends the `lines` (cycled, each ending in "\n") and measures.
    public func run(lines: [[UInt8]]) throws -> Figures {
        var conns: [Conn] = []
        var fds: [pollfd] = []
        for i in 0..<connections {
            let fd = try Self.connectUnix(socketPath)
            conns.append(Conn(fd: fd, cursor: (i * 7919) % lines.count))
            fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        }
        defer { for c in conns { close(c.fd) } }
        var latencies: [UInt32] = []
        latencies.reserveCapacity(1 << 20)
        var completed = 0, errors = 0
        let start = MonotonicClock.nanoseconds()
        let end = start + UInt64(duration * 1e9)
        for c in conns { c.fill(lines: lines, pipeline: pipeline) }
        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        var now = start
        while now < end {
            let n = poll(&fds, nfds_t(fds.count), 100)
            now = MonotonicClock.nanoseconds()
            if n <= 0 { continue }
            for i in fds.indices where fds[i].revents != 0 {
                let c = conns[i]
                let got = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
                guard got > 0 else { throw ClientError("the server closed a connection during the benchmark") }
                buf.withUnsafeBytes { raw in
                    let base = raw.baseAddress!
                    var offset = 0
                    while offset < got, let nl = memchr(base + offset, 0x0A, got - offset) {
                        let sentAt = c.sentAt.removeFirst()
                        if now < end { latencies.append(UInt32(min(UInt64(UInt32.max), (now - sentAt) / 1000))); completed += 1 }
                        offset = base.distance(to: UnsafeRawPointer(nl)) + 1
                    }
                    errors += ByteSearch.occurrences(of: "\"error\":", in: UnsafeRawBufferPointer(start: base, count: got))  // failed answers
                }
                c.fill(lines: lines, pipeline: pipeline)
            }
        }
        let seconds = Double(now - start) / 1e9
        latencies.sort()
        func pct(_ q: Double) -> Double { latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]) }
        // Drain what is still in flight so the next run starts clean.
        for c in conns {
            while !c.sentAt.isEmpty {
                let got = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
                if got <= 0 { break }
                for byte in buf[0..<got] where byte == 0x0A { _ = c.sentAt.removeFirst() }
            }
        }
        return Figures(requests: completed, seconds: seconds, p50us: pct(0.5), p99us: pct(0.99), errors: errors)
    }

    final class Conn {
        let fd: Int32
        var cursor: Int
        var sentAt: Deque = Deque()
        init(fd: Int32, cursor: Int) { self.fd = fd; self.cursor = cursor }

        /// Tops the connection up to `pipeline` requests in flight, in one write.
        func fill(lines: [[UInt8]], pipeline: Int) {
            let missing = pipeline - sentAt.count
            guard missing > 0 else { return }
            var out: [UInt8] = []
            for _ in 0..<missing {
                out.append(contentsOf: lines[cursor])
                cursor = (cursor + 1) % lines.count
            }
            let now = MonotonicClock.nanoseconds()
            for _ in 0..<missing { sentAt.append(now) }
            var sent = 0
            while sent < out.count {
                let n = out.withUnsafeBytes { send(fd, $0.baseAddress! + sent, out.count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { if errno == EINTR { continue }; return }
                sent += n
            }
        }
    }

    /// A FIFO of send times.
    struct Deque {
        private var items: [UInt64] = []
        private var head = 0
        var count: Int { items.count - head }
        var isEmpty: Bool { count == 0 }
        mutating func append(_ v: UInt64) { items.append(v) }
        mutating func removeFirst() -> UInt64 {
            let v = items[head]
            head += 1
            if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
            return v
        }
    }

    static func connectUnix(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { close(fd); throw ClientError("cannot connect to \(path)") }
        return fd
    }
}
