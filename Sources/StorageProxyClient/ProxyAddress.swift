/// Where a proxy listens: `unix:///path/to/proxy.sock`, `unix:relative.sock`,
/// a bare path, `tcp://host:port`, `host:port` (TCP), or
/// `tls://host:port[?ca=FILE&cert=FILE&key=FILE]` (TLS, the server checked
/// against `ca` or the system's authorities; `cert`/`key` for mutual TLS).
/// Any other scheme is refused rather than read as a file name.
public enum ProxyAddress: Equatable, Sendable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)
    case tls(host: String, port: Int, TLSFiles)

    /// PEM files of a TLS connection; nil: the default (system authorities, no client certificate).
    public struct TLSFiles: Equatable, Sendable {
        public var ca: String?
        public var cert: String?
        public var key: String?
        public init(ca: String? = nil, cert: String? = nil, key: String? = nil) { self.ca = ca; self.cert = cert; self.key = key }
    }

    public init?(_ text: String) {
        if text.hasPrefix("tls://") {
            let rest = text.dropFirst(6)
            let authority = rest.prefix { $0 != "?" }
            guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else { return nil }
            var host = String(authority[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            var files = TLSFiles()
            for pair in rest.dropFirst(authority.count + 1).split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, !kv[1].isEmpty else { return nil }
                switch kv[0] {
                case "ca": files.ca = kv[1]
                case "cert": files.cert = kv[1]
                case "key": files.key = kv[1]
                default: return nil
                }
            }
            self = .tls(host: host, port: port, files)
            return
        }
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
        case .tls(let host, let port, _): return "tls://\(host):\(port)"
        }
    }
}
