/// Where a proxy listens: `unix:///path/to/proxy.sock`, `unix:relative.sock`,
/// a bare path, `tcp://host:port`, or `host:port` (TCP). Any other scheme is
/// refused rather than read as a file name.
public enum ProxyAddress: Equatable, Sendable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)

    public init?(_ text: String) {
        if text.hasPrefix("unix://") { self = .unix(String(text.dropFirst(7))); return }
        if text.hasPrefix("unix:") { self = .unix(String(text.dropFirst(5))); return }
        if text.hasPrefix("tcp://") {
            let rest = text.dropFirst(6)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
            return
        }
        guard !text.isEmpty, !text.contains("://") else { return nil }
        // `host:port` (or `[v6]:port`) with no slash is TCP; anything else is a socket path.
        if !text.contains("/"), let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
           (1...65535).contains(port), colon != text.startIndex {
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .tcp(host: host, port: port)
            return
        }
        self = .unix(text)
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix://\(path)"
        case .tcp(let host, let port): return "tcp://\(host):\(port)"
        }
    }
}
