import Foundation
import StorageProxyClient

/// A blocking RESP client for tests that ask Redis itself (thousands of
/// pipelined commands where `redis-cli` per call would be too slow).
final class RESPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var position = 0

    /// Connects to `redis://127.0.0.1:PORT` (the test Redis).
    init(url: String) throws {
        guard let port = UInt16(url.split(separator: ":").last ?? "") else { throw ClientError("no port in \(url)") }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw ClientError("cannot connect to \(url)") }
    }

    deinit { close(fd) }

    enum Reply: Equatable {
        case status(String), error(String), integer(Int), bulk([UInt8]?), array([Reply])
    }

    /// Sends every command at once, then reads one reply per command.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [Reply] {
        var out: [UInt8] = []
        for args in commands {
            out += Array("*\(args.count)\r\n".utf8)
            for a in args { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
        }
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw ClientError("write to Redis failed") }
            sent += n
        }
        return try commands.map { _ in try reply() }
    }

    private func byte() throws -> UInt8 {
        if position == buffer.count {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw ClientError("Redis closed the connection") }
            buffer = Array(chunk[..<n])
            position = 0
        }
        defer { position += 1 }
        return buffer[position]
    }

    private func line() throws -> String {
        var bytes: [UInt8] = []
        while true {
            let b = try byte()
            if b == 13 { _ = try byte(); return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
        }
    }

    private func reply() throws -> Reply {
        let kind = try byte()
        let text = try line()
        switch kind {
        case UInt8(ascii: "+"): return .status(text)
        case UInt8(ascii: "-"): return .error(text)
        case UInt8(ascii: ":"): return .integer(Int(text) ?? 0)
        case UInt8(ascii: "$"):
            let n = Int(text) ?? -1
            guard n >= 0 else { return .bulk(nil) }
            var bytes: [UInt8] = []
            for _ in 0..<n { bytes.append(try byte()) }
            _ = try byte(); _ = try byte()
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            return .array(try (0..<max(0, Int(text) ?? 0)).map { _ in try reply() })
        default: throw ClientError("unexpected RESP reply")
        }
    }
}
