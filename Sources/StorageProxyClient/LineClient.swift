#if canImport(Glibc)
import Glibc
#endif
import ProxyCore
import TLS

public struct ClientError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A blocking connection that sends lines and reads lines: the simplest
/// faithful client of the wire contract (scripts, the bench, the tests).
/// One thread at a time.
public final class LineClient {
    private var fd: Int32
    /// `tls://`: the session every byte passes through. Locked: a pipelined
    /// connection sends from callers while its reader thread reads.
    private var tls: Locked<TLSSession>?
    private var buffer: [UInt8] = []
    private var start = 0
    private var chunk = [UInt8](repeating: 0, count: 65536)

    /// `connectTimeout` bounds the connect itself (a host that drops packets
    /// would otherwise hold it for minutes); `timeoutSeconds` each read.
    public init(_ address: ProxyAddress, timeoutSeconds: Int = 30, connectTimeout: Double = 10) throws(ClientError) {
        // `fd` is set only once connected: a failed init must not reach `deinit`,
        // which would close the descriptor number a second time (by then it may
        // belong to another thread's socket).
        fd = try Self.connect(address, within: connectTimeout)
        if timeoutSeconds > 0 {
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        if case .tls(let host, let port, let files) = address {
            do {
                let context = try TLSContext(trusting: files.ca, certificate: files.cert, key: files.key)
                let session = try TLSSession(context, server: false, hostname: host)
                try handshake(session, within: max(connectTimeout, 1))
                tls = Locked(session)
            } catch {
                throw ClientError("TLS with tls://\(host):\(port) failed: \(error)")
            }
        }
    }

    /// The TLS handshake on the blocking socket, bounded in time.
    private func handshake(_ session: TLSSession, within seconds: Double) throws {
        let deadline = MonotonicClock.seconds() + seconds
        while true {
            let done = try session.handshake()
            try sendRaw(session.takeOutput())
            if done { return }
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline - MonotonicClock.seconds()
            guard left > 0, poll(&waiting, 1, Int32(left * 1000)) > 0 else { throw ClientError("no TLS answer within \(seconds) s") }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw ClientError(n == 0 ? "the server closed the connection (does it speak TLS here?)" : "recv: \(String(cString: strerror(errno)))") }
            _ = try chunk.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n])) { _ in } }
        }
    }

    /// A connected socket, or an error (having closed what it opened).
    private static func connect(_ address: ProxyAddress, within seconds: Double) throws(ClientError) -> Int32 {
        switch address {
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw ClientError("socket path too long: \(path)") }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ClientError("socket(): \(String(cString: strerror(errno)))") }
            let failure = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size), within: seconds)
                }
            }
            if let failure {
                Glibc.close(fd)
                throw ClientError("cannot connect to unix://\(path): \(failure)")
            }
            return fd
        case .tcp(let host, let port), .tls(let host, let port, _):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var info: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &info) == 0, let ai = info else {
                throw ClientError("cannot resolve \(host)")
            }
            defer { freeaddrinfo(info) }
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            guard fd >= 0 else { throw ClientError("socket(): \(String(cString: strerror(errno)))") }
            if let failure = connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen, within: seconds) {
                Glibc.close(fd)
                throw ClientError("cannot connect to \(address): \(failure)")
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        }
    }

    /// A non-blocking connect waited on with `poll`, so it ends within
    /// `seconds`; the socket is blocking again afterwards. Returns why it failed.
    private static func connect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ length: socklen_t, within seconds: Double) -> String? {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if Glibc.connect(fd, addr, length) == 0 { return nil }
        // EINPROGRESS: a TCP handshake under way. (A Unix socket never waits:
        // its EAGAIN means the listener's queue is full, and nothing is under way.)
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var waiting = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&waiting, 1, Int32(max(0, min(seconds, 86_400)) * 1000))
        if ready == 0 { return "no answer within \(seconds) s" }
        if ready < 0 { return String(cString: strerror(errno)) }
        var failure: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size)
        return failure == 0 ? nil : String(cString: strerror(failure))
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    /// Closes with a TCP reset (SO_LINGER 0) instead of an orderly FIN: a client that vanishes.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    /// Half-close: the server sees EOF after what was sent.
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Ends both directions without closing the descriptor: a thread blocked
    /// in `readLine` returns (EOF), and may then `close()`.
    public func shutdownBoth() { if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) } }

    public func send(_ bytes: [UInt8]) throws(ClientError) {
        guard let tls else { return try sendRaw(bytes) }
        let sealed = tls.withLock { session in
            Result { () throws -> [UInt8] in
                try bytes.withUnsafeBytes { try session.seal($0) }
                return session.takeOutput()
            }
        }
        switch sealed {
        case .success(let records): try sendRaw(records)
        case .failure(let error): throw ClientError("TLS: \(error)")
        }
    }

    private func sendRaw(_ bytes: [UInt8]) throws(ClientError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError("send: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    public func send(_ text: String) throws(ClientError) { try send(Array(text.utf8)) }

    /// The next line without its newline; nil at EOF.
    public func readLine() throws(ClientError) -> String? {
        var scanFrom = start
        while true {
            if let nl = buffer[scanFrom...].firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[start..<nl], as: UTF8.self)
                start = nl + 1
                if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
                return line
            }
            scanFrom = buffer.count
            if start > 65536 { buffer.removeFirst(start); scanFrom -= start; start = 0 }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return nil }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClientError(errno == EAGAIN ? "timed out waiting for the proxy" : "recv: \(String(cString: strerror(errno)))")
            }
            if let tls {
                let opened = tls.withLock { session in
                    Result { () throws -> Bool in
                        try chunk.withUnsafeBytes { raw in
                            try session.receive(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { buffer.append(contentsOf: $0) }
                        }
                    }
                }
                switch opened {
                case .success(true): continue
                case .success(false): return nil  // close_notify: the end
                case .failure(let error): throw ClientError("TLS: \(error)")
                }
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// Sends one request and returns the parsed response object.
    public func call(_ method: String, _ params: JSONValue? = nil, id: Int64 = 1) throws(ClientError) -> JSONObject {
        var request: JSONObject = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { request["params"] = params }
        try send(JSONValue.object(request).jsonText + "\n")
        guard let line = try readLine() else { throw ClientError("the proxy closed the connection") }
        guard case .object(let response)? = try? JSONParser.parse(line) else { throw ClientError("not a JSON-RPC response: \(line)") }
        return response
    }
}
