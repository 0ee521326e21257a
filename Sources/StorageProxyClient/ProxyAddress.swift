/// Where a proxy listens: `unix:///path/to/proxy.sock`, `unix:relative.sock`,
/// a bare path, or `tcp://host:port`.
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
        guard !text.isEmpty else { return nil }
        self = .unix(text)
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix://\(path)"
        case .tcp(let host, let port): return "tcp://\(host):\(port)"
        }
    }
}
