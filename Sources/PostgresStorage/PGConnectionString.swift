import ProxyCore
import ProxyConfig

/// libpq's connection string from the seed's `storage.postgresql` keys, or
/// the URL when one is given; and a description that is safe to log (no password).
public enum PGConnectionString {
    public static func make(_ c: ProxyConfig.PostgreSQL) -> String {
        if let url = c.url, !url.isEmpty { return url }
        var parts = ["host=\(quote(c.host))", "port=\(c.port)", "dbname=\(quote(c.database))", "user=\(quote(c.user))"]
        if let password = c.password, !password.isEmpty { parts.append("password=\(quote(password))") }
        return parts.joined(separator: " ")
    }

    /// `user@host:port/database`, never the password.
    public static func describe(_ c: ProxyConfig.PostgreSQL) -> String {
        guard let url = c.url, !url.isEmpty else { return "\(c.user)@\(c.host):\(c.port)/\(c.database)" }
        // postgresql://user:password@host/db?… → keep the user, drop what follows ':' before '@'.
        guard let scheme = url.range(of: "://") else { return "postgresql (URL)" }
        var rest = String(url[scheme.upperBound...])
        if let at = rest.firstIndex(of: "@") {
            let userinfo = rest[..<at]
            let user = userinfo.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            rest = user + rest[at...]
        }
        return rest.split(separator: "?").first.map(String.init) ?? rest
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
