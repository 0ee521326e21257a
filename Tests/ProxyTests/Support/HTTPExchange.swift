import Foundation
import ProxyCore
import StorageProxyClient

/// One HTTP/1.1 request over a fresh loopback TCP connection (`Connection:
/// close`), read to the end: the status, the headers (names lower-cased) and
/// the body. Raw on purpose: the tests see exactly what the proxy wrote.
struct HTTPExchange {
    let status: Int
    let headers: [String: String]
    let body: String

    init(port: Int, _ method: String, _ path: String, body payload: String = "", headers extra: [String: String] = [:],
         timeoutSeconds: Int = 5) throws {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (k, v) in extra { request += "\(k): \(v)\r\n" }
        if method == "POST" || !payload.isEmpty { request += "Content-Length: \(payload.utf8.count)\r\n" }
        request += "\r\n" + payload
        let raw = try Self.roundTrip(port: port, Array(request.utf8), timeoutSeconds: timeoutSeconds)
        guard let split = raw.range(of: "\r\n\r\n") else { throw ClientError("no HTTP head in: \(raw.prefix(200))") }
        let head = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = head.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, let code = Int(statusLine[1]) else { throw ClientError("bad status line: \(head.first ?? "")") }
        status = code
        var h: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            h[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        headers = h
        let rest = String(raw[split.upperBound...])
        body = h["transfer-encoding"] == "chunked" ? Self.dechunk(rest) : rest
    }

    /// A chunked body (`size CRLF data CRLF` … `0 CRLF CRLF`) as one string.
    static func dechunk(_ text: String) -> String {
        var bytes = Array(text.utf8)[...]
        var result: [UInt8] = []
        while let lineEnd = bytes.firstIndex(of: 0x0D), let size = Int(String(decoding: bytes[..<lineEnd], as: UTF8.self), radix: 16), size > 0 {
            let start = lineEnd + 2
            guard start + size <= bytes.endIndex else { break }
            result += bytes[start..<start + size]
            bytes = bytes[min(start + size + 2, bytes.endIndex)...]
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Sends `bytes` and reads until the server closes (`timeoutSeconds` at most between two reads).
    static func roundTrip(port: Int, _ bytes: [UInt8], timeoutSeconds: Int = 5) throws -> String {
        let fd = try connectLoopback(port: port)
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer (413) before reading everything
            sent += n
        }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func connectLoopback(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw ClientError("cannot connect to 127.0.0.1:\(port)") }
        return fd
    }

    var json: JSONValue { get throws { try JSONParser.parse(body) } }
}

extension JSONValue {
    /// An object's member (nil for anything else), for reading answers in tests.
    subscript(key: String) -> JSONValue? { objectValue?[key] }
}
