import ProxyCore
import ProxyConfig

extension RedisSettings {
    /// From the config keys, or from a URL that overrides them:
    /// `redis://[:password@]host[:port][/db]` or `unix:///path/redis.sock[?db=N]`.
    /// A URL that cannot be used is a configuration error naming the key;
    /// it never repeats the password.
    public init(config c: ProxyConfig.Redis) throws(ConfigError) {
        self.init(target: .tcp(host: c.host, port: c.port))
        password = c.password
        db = c.db
        poolSize = max(1, c.poolSize)
        keyPrefix = c.keyPrefix
        guard let url = c.url, !url.isEmpty else { return }
        if url.hasPrefix("rediss://") {
            throw Self.badURL("TLS (rediss://) is not supported by this build's hiredis; use redis:// or unix://")
        }
        if url.hasPrefix("unix://") {
            let rest = url.dropFirst("unix://".count)
            let parts = rest.split(separator: "?", maxSplits: 1)
            target = .unix(String(parts.first ?? ""))
            if parts.count == 2 {
                for pair in parts[1].split(separator: "&") where pair.hasPrefix("db=") {
                    guard let n = Int(pair.dropFirst(3)) else { throw Self.badURL("db must be a number") }
                    db = n
                }
            }
            return
        }
        guard url.hasPrefix("redis://") else {
            throw Self.badURL("expected redis://host:port/db or unix:///path")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            let secret = auth.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? ""
            password = secret.removingPercentEncodingSimple
            rest = rest[rest.index(after: at)...]
        }
        let hostPort: Substring
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let n = Int(dbText) else { throw Self.badURL("the path must be a database number") }
                db = n
            }
            hostPort = rest[..<slash]
        } else {
            hostPort = rest
        }
        var host = String(hostPort), port = 6379
        if let colon = hostPort.lastIndex(of: ":") {
            guard let p = Int(hostPort[hostPort.index(after: colon)...]) else { throw Self.badURL("the port must be a number") }
            host = String(hostPort[..<colon])
            port = p
        }
        target = .tcp(host: host.isEmpty ? "localhost" : host, port: port)
    }

    private static func badURL(_ reason: String) -> ConfigError { ConfigError("cache.redis.url: \(reason)") }
}
