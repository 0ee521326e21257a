import CLibPQ
import ProxyCore
import ProxyConfig

/// libpq's connection string from the seed's `storage.postgresql` keys, or
/// the URL when one is given. libpq itself (`PQconninfoParse`) is the
/// authority on what a connection string means: it checks one and takes it
/// apart for a description that is safe to log (no password).
public enum PGConnectionString {
    public static func make(_ c: ProxyConfig.PostgreSQL) -> String {
        if let url = c.url, !url.isEmpty { return url }
        var parts = ["host=\(quote(c.host))", "port=\(c.port)", "dbname=\(quote(c.database))", "user=\(quote(c.user))"]
        if let password = c.password, !password.isEmpty { parts.append("password=\(quote(password))") }
        if let mode = c.sslmode { parts.append("sslmode=\(quote(mode))") }
        if let root = c.sslrootcert { parts.append("sslrootcert=\(quote(root))") }
        return parts.joined(separator: " ")
    }

    /// A connection string libpq will not parse is a configuration error. Its
    /// reason is libpq's, cut before any quoted part of the string (which
    /// could be the password).
    public static func validate(_ c: ProxyConfig.PostgreSQL) throws(ConfigError) {
        let key = (c.url ?? "").isEmpty ? "storage.postgresql" : "storage.postgresql.url"
        switch parse(make(c)) {
        case .failure(let why):
            throw ConfigError("\(key): not a connection string libpq accepts (\(why))")
        case .success(let options):
            // libpq checks the port only when it connects; a typo is known now.
            if let ports = options["port"], ports.split(separator: ",", omittingEmptySubsequences: false).contains(where: { UInt16($0) == nil }) {
                throw ConfigError("\(key): the port must be a number from 0 to 65535")
            }
        }
    }

    /// `user@host:port/database`, never the password.
    public static func describe(_ c: ProxyConfig.PostgreSQL) -> String {
        guard case .success(let options) = parse(make(c)) else { return "postgresql (a connection string libpq does not accept)" }
        let user = options["user"].map { $0 + "@" } ?? ""
        let port = options["port"].map { ":" + $0 } ?? ""
        return user + (options["host"] ?? options["hostaddr"] ?? "localhost") + port + "/" + (options["dbname"] ?? options["user"] ?? "")
    }

    /// The options libpq reads from a connection string (set ones only).
    static func parse(_ conninfo: String) -> Result<[String: String], ParseFailure> {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            let message = error.map { String(cString: $0) } ?? "out of memory"
            PQfreemem(error)
            let safe = message.split(separator: "\"", maxSplits: 1).first.map(String.init) ?? message
            return .failure(ParseFailure(safe.trimmingCharacters(in: " :\n")))
        }
        defer { PQconninfoFree(options) }
        var found: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { found[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return .success(found)
    }

    struct ParseFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
