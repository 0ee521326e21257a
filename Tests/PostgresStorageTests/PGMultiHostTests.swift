import EventLoop
import Foundation
import PostgresStorage
import ProxyCore
import Testing

/// A loopback server that speaks just enough of PostgreSQL's start-up to let
/// every user in (it declines TLS), then plays one fault:
/// - `readOnly`: reports `default_transaction_read_only=on`, as a standby or an
///   old primary back as one would. libpq with `target_session_attrs=read-write`
///   then closes that socket and opens a new one to the next host, in the middle
///   of `PQconnectPoll`, after the application has been polling the first.
/// - `resetOnQuery`: a primary that resets the connection (RST) on the first query.
final class FakePostgres: @unchecked Sendable {
    enum Fault { case readOnly, resetOnQuery }
    let port: Int
    private let fault: Fault
    private let fd: Int32
    private let stopped = Locked(false)
    /// Start-ups answered (each a connection libpq then left).
    let answered = Locked(0)

    init(_ fault: Fault) throws {
        self.fault = fault
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else { close(fd); throw ProxyError.internalError("cannot listen on loopback") }
        (self.fd, port) = (fd, Int(UInt16(bigEndian: addr.sin_port)))
        let (stopped, answered, readOnly) = (stopped, answered, fault == .readOnly)
        Thread {
            while !stopped.withLock({ $0 }) {
                let c = accept(fd, nil, nil)
                guard c >= 0 else { if errno == EINTR { continue } else { return } }
                Thread {
                    if Self.serve(c, readOnly: readOnly) { answered.withLock { $0 += 1 } }
                    close(c)
                }.start()
            }
        }.start()
    }

    func stop() {
        stopped.withLock { $0 = true }
        shutdown(fd, Int32(SHUT_RDWR))  // wakes the accept
        close(fd)
    }

    /// One connection: TLS and GSS requests declined, the start-up answered, then the fault.
    private static func serve(_ c: Int32, readOnly: Bool) -> Bool {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            guard let head = read(c, 8), case let length = Int(be32(head, 0)), length >= 8, length < 10_000,
                  read(c, length - 8) != nil else { return false }
            switch be32(head, 4) {
            case 80_877_103, 80_877_104:  // SSLRequest, GSSENCRequest
                guard write(c, [UInt8(ascii: "N")]) else { return false }
            default:  // the StartupMessage
                var out = message("R", int32(0))  // AuthenticationOk
                let on = readOnly ? "on" : "off"
                out += message("S", Array("default_transaction_read_only\0\(on)\0".utf8))
                out += message("S", Array("in_hot_standby\0\(on)\0".utf8))
                out += message("S", Array("server_version\015.0\0".utf8))
                out += message("K", int32(4242) + int32(1))
                out += message("Z", [UInt8(ascii: "I")])
                guard write(c, out) else { return false }
                _ = read(c, 5)  // a query (or libpq's Terminate, or end of file)
                if !readOnly {  // reset: closing with a zero linger time sends RST
                    var hard = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
                }
                return true
            }
        }
    }

    private static func read(_ c: Int32, _ n: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = bytes.withUnsafeMutableBytes { Glibc.recv(c, $0.baseAddress! + got, n - got, 0) }
            guard r > 0 else { return nil }
            got += r
        }
        return bytes
    }

    private static func write(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(c, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    private static func be32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    private static func int32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    private static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        [type.asciiValue!] + int32(UInt32(body.count + 4)) + body
    }
}

/// A URL naming two hosts, libpq's way to follow a failover: the first as given,
/// the second the test PostgreSQL.
func multiHostURL(firstPort: Int, extra: String = "") throws -> String {
    let url = try testDatabaseURL()
    guard let at = url.range(of: "@127.0.0.1:") else { throw ProxyError.internalError("unexpected test URL \(url)") }
    return url.replacingCharacters(in: at, with: "@127.0.0.1:\(firstPort),127.0.0.1:") + "?target_session_attrs=read-write\(extra)"
}

@Suite("PostgreSQL connections through a multi-host URL")
struct PGMultiHostTests {
    /// Opens `count` connections at once through `url` and runs a query on each.
    static func openMany(_ url: String, count: Int) -> (ok: Int, errors: [String]) {
        var ok = 0
        var errors: [String] = []
        onLoop { loop in
            for _ in 0..<count {
                PGConnection.connect(loop: loop, conninfo: url) { r in
                    switch r {
                    case .failure(let e): errors.append(e.message)
                    case .success(let c):
                        c.query("SELECT inet_server_port()") { q in
                            if (try? q.get().string(0, 0)) != nil { ok += 1 } else { errors.append("query failed") }
                            c.close()
                        }
                    }
                }
            }
        }
        return (ok, errors)
    }

    @Test("the first host refuses: every connection reaches the second")
    func firstHostRefuses() throws {
        let gone = try FakePostgres(.readOnly)  // a port nothing listens on any more
        gone.stop()
        let url = try multiHostURL(firstPort: gone.port)
        let (ok, errors) = Self.openMany(url, count: 40)
        #expect(errors == [])
        #expect(ok == 40)
    }

    @Test("the first host is read-only: libpq's new socket for the second is followed, nothing aborts")
    func firstHostIsReadOnly() throws {
        let standby = try FakePostgres(.readOnly)
        defer { standby.stop() }
        let url = try multiHostURL(firstPort: standby.port, extra: "&sslmode=prefer")
        let (ok, errors) = Self.openMany(url, count: 40)
        #expect(errors == [])
        #expect(ok == 40)
        #expect(standby.answered.withLock { $0 } == 40, "every connection went through the first host")
    }

    @Test("a pool whose connections churn through a read-only first host keeps serving")
    func poolChurnsThroughReadOnlyHost() throws {
        let standby = try FakePostgres(.readOnly)
        defer { standby.stop() }
        var settings = PGPool.Settings(conninfo: try multiHostURL(firstPort: standby.port))
        (settings.poolSize, settings.maxOverflow) = (2, 20)  // overflow connections close on release: every wave reconnects
        var ok = 0, failed: [String] = []
        onLoop { loop in
            let pool = PGPool(loop: loop, settings: settings)
            func wave(_ left: Int) {
                guard left > 0 else { return pool.close() }
                var answered = 0
                for _ in 0..<20 {
                    pool.acquire { r in
                        guard case .success(let c) = r else {
                            if case .failure(let e) = r { failed.append(e.message) }
                            answered += 1
                            if answered == 20 { wave(left - 1) }
                            return
                        }
                        c.query("SELECT 1") { q in
                            if (try? q.get()) != nil { ok += 1 } else { failed.append("query failed") }
                            pool.release(c)
                            answered += 1
                            if answered == 20 { wave(left - 1) }
                        }
                    }
                }
            }
            wave(5)
        }
        #expect(failed == [])
        #expect(ok == 100)
        #expect(standby.answered.withLock { $0 } >= 2 + 18 * 5, "connections were made again and again")
    }
}


@Suite("PostgreSQL connection failures, as reported")
struct PGConnectionFailureTests {
    @Test("a connection reset is reported as what libpq read, not as a bad file descriptor")
    func resetIsNamed() throws {
        let server = try FakePostgres(.resetOnQuery)
        defer { server.stop() }
        var connectError: ProxyError?
        var queryError: ProxyError?
        onLoop { loop in
            PGConnection.connect(loop: loop, conninfo: "postgresql://u@127.0.0.1:\(server.port)/db?sslmode=disable") { r in
                switch r {
                case .failure(let e): connectError = e
                case .success(let c):
                    c.query("SELECT 1") { q in
                        if case .failure(let e) = q { queryError = e }
                        c.close()
                    }
                }
            }
        }
        #expect(connectError == nil)
        let e = try #require(queryError)
        #expect(e.code == -32003)
        #expect(!e.message.contains("bad file descriptor"), "\(e.message)")
        #expect(e.message.contains("server closed the connection") || e.message.contains("reset"), "\(e.message)")
    }
}
