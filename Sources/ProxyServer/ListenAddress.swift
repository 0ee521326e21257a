#if canImport(Glibc)
import Glibc
#endif

/// `HOST:PORT`, `[v6]:PORT` or a bare `PORT` (loopback).
struct ListenAddress: Equatable {
    var host: String
    var port: Int

    init?(_ text: String) {
        if let p = Int(text) { host = "127.0.0.1"; port = p }
        else if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            guard let p = Int(text[text.index(after: close)...].dropFirst()) else { return nil }
            port = p
        } else {
            guard let colon = text.lastIndex(of: ":"), let p = Int(text[text.index(after: colon)...]) else { return nil }
            host = String(text[..<colon])
            port = p
        }
        if host == "localhost" { host = "127.0.0.1" }
        guard (0...65535).contains(port), !host.isEmpty else { return nil }
    }

    var isLoopback: Bool { host.hasPrefix("127.") || host == "::1" }
}
