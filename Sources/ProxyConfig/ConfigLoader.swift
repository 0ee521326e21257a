import ProxyCore
import Yams

/// A configuration file that cannot be used: names the file, line and key.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads `config/storage.yaml`-style files into `ProxyConfig`.
public enum ConfigLoader {
    public static func load(yaml: String, file: String = "config", environment: [String: String]) throws(ConfigError) -> ProxyConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("\(file): not valid YAML: \(error)")
        }
        var config = ProxyConfig()
        guard let root else { return config }
        let reader = ConfigReader(file: file, environment: environment)
        try reader.read(root, into: &config)
        return config
    }

    /// `${VAR}`, `${VAR:-default}` (also when VAR is empty; `${VAR:-}` for an
    /// explicit empty value) and `${VAR:?message}` (VAR must be set and not
    /// empty). An unset `${VAR}` is an error, not an empty value: an empty
    /// database path or password must never be a silent default.
    public static func expand(_ text: String, environment: [String: String]) throws(ConfigError) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { out += rest[open.lowerBound...]; return out }
            let body = rest[open.upperBound..<close]
            if let sep = body.range(of: ":-") {
                let value = environment[String(body[..<sep.lowerBound])] ?? ""
                out += value.isEmpty ? String(body[sep.upperBound...]) : value
            } else if let sep = body.range(of: ":?") {
                let name = String(body[..<sep.lowerBound])
                guard let value = environment[name], !value.isEmpty else {
                    let message = body[sep.upperBound...]
                    throw ConfigError("${\(name)} is not set" + (message.isEmpty ? "" : ": \(message)"))
                }
                out += value
            } else {
                guard let value = environment[String(body)] else {
                    throw ConfigError("${\(body)} is not set (write ${\(body):-} for an empty default)")
                }
                out += value
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// The members of the keys read by readers of their own (lists, sub-sections),
/// for the suggestion when one is mistyped; every other key is in `ConfigKey.all`.
private let memberKeys: [String: [String]] = [
    "server.tls": ["cert", "key", "client_ca"],
    "server.tokens": ["name", "token", "agents", "access", "admin"],
    "server.unix_peers": ["name", "uid", "agents", "access", "admin"],
    "vector.embedder": ["url", "model", "api_key_env", "batch_size", "timeout_ms", "max_concurrent", "cache_entries", "retry_seconds"],
]

/// The keys a section holds directly (`server` → `listen`, …; `storage` → `type`, `sqlite`, …).
private let sectionMembers: [String: [String]] = {
    var out: [String: [String]] = [:]
    for key in ConfigKey.all {
        let parts = key.name.split(separator: ".").map(String.init)
        for depth in 1..<parts.count {
            let section = parts[..<depth].joined(separator: "."), member = parts[depth]
            if !(out[section] ?? []).contains(member) { out[section, default: []].append(member) }
        }
    }
    return out.merging(memberKeys) { a, b in a + b }
}()

/// Walks the YAML tree; each key is read as its `ConfigKey` says, unknown
/// keys are errors (a typo must not silently fall back to a default).
struct ConfigReader {
    let file: String
    let environment: [String: String]

    func fail(_ node: Node, _ key: String, _ why: String) -> ConfigError {
        let line = node.mark.map { ":\($0.line)" } ?? ""
        return ConfigError("\(file)\(line): \(key): \(why)")
    }

    /// An unknown key, with the closest known one of its section when it looks like a typo.
    func unknown(_ node: Node, _ key: String) -> ConfigError {
        let section = key.split(separator: ".").dropLast().joined(separator: ".")
        let name = String(key.split(separator: ".").last ?? "")
        let suggestion = Suggestion.closest(to: name, among: sectionMembers[section] ?? [])
        return fail(node, key, "unknown key" + (suggestion.map { " (did you mean \(section).\($0)?)" } ?? ""))
    }

    func mapping(_ node: Node, _ key: String) throws(ConfigError) -> [(String, Node)] {
        guard case .mapping(let m) = node else { throw fail(node, key, "expected a mapping") }
        var out: [(String, Node)] = []
        for (k, v) in m {
            guard case .scalar(let s) = k else { throw fail(k, key, "keys must be plain words") }
            out.append((s.string, v))
        }
        return out
    }

    func string(_ node: Node, _ key: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw fail(node, key, "expected a single value") }
        do {
            return try ConfigLoader.expand(s.string, environment: environment)
        } catch {
            throw fail(node, key, error.description)
        }
    }

    func nonEmptyString(_ node: Node, _ key: String) throws(ConfigError) -> String {
        let v = try string(node, key)
        if v.trimmingSpaces.isEmpty { throw fail(node, key, "must not be empty") }
        return v
    }

    func optionalString(_ node: Node, _ key: String) throws(ConfigError) -> String? {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return nil }
        let v = try string(node, key)
        return v.isEmpty ? nil : v
    }

    func int(_ node: Node, _ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try string(node, key)
        guard let v = Int(text.trimmingSpaces) else { throw fail(node, key, "expected an integer, got '\(text)'") }
        guard range.contains(v) else { throw fail(node, key, "must be from \(range.lowerBound) to \(range.upperBound), got \(v)") }
        return v
    }

    func double(_ node: Node, _ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let text = try string(node, key)
        guard let v = Double(text.trimmingSpaces), v.isFinite else { throw fail(node, key, "expected a number of seconds, got '\(text)'") }
        guard range.contains(v) else { throw fail(node, key, "must be from \(range.lowerBound) to \(range.upperBound) seconds, got \(text)") }
        return v
    }

    func bool(_ node: Node, _ key: String) throws(ConfigError) -> Bool {
        let text = try string(node, key).lowercased()
        switch text {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0", "": return false
        default: throw fail(node, key, "expected true or false, got '\(text)'")
        }
    }

    func choice<T: RawRepresentable>(_ node: Node, _ key: String) throws(ConfigError) -> T where T.RawValue == String {
        let text = try string(node, key)
        guard let v = T(rawValue: text.lowercased()) else { throw fail(node, key, "unknown value '\(text)'") }
        return v
    }

    func read(_ root: Node, into c: inout ProxyConfig) throws(ConfigError) {
        for (k, v) in try mapping(root, "(top)") {
            guard sectionMembers[k] != nil else { throw fail(v, k, "unknown key (expected storage, server or vector)") }
            try read(v, section: k, into: &c)
        }
    }

    /// A section's keys: each declared one read as declared, a sub-section walked in turn.
    func read(_ node: Node, section: String, into c: inout ProxyConfig) throws(ConfigError) {
        for (k, v) in try mapping(node, section) {
            let key = "\(section).\(k)"
            if let declared = ConfigKey.byName[key] {
                try declared.read(self, v, key, &c)
            } else if sectionMembers[key] != nil, memberKeys[key] == nil {
                try read(v, section: key, into: &c)
            } else {
                throw unknown(v, key)
            }
        }
    }

    func readEmbedder(_ node: Node, _ key: String) throws(ConfigError) -> ProxyConfig.Embedder? {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return nil }
        var e = ProxyConfig.Embedder()
        for (k, v) in try mapping(node, key) {
            let key2 = "\(key).\(k)"
            switch k {
            case "url":
                e.url = try nonEmptyString(v, key2)
                guard e.url.hasPrefix("http://") || e.url.hasPrefix("https://") else { throw fail(v, key2, "expected an http:// or https:// URL") }
            case "model": e.model = try nonEmptyString(v, key2)
            case "api_key_env":
                let name = try nonEmptyString(v, key2)
                guard let value = environment[name], !value.isEmpty else { throw fail(v, key2, "the environment variable \(name) is not set") }
                e.apiKey = value
            case "batch_size": e.batchSize = try int(v, key2, in: 1...2048)
            case "timeout_ms": e.timeoutMs = try int(v, key2, in: 1...600_000)
            case "max_concurrent": e.maxConcurrent = try int(v, key2, in: 1...256)
            case "cache_entries": e.cacheEntries = try int(v, key2, in: 0...10_000_000)
            case "retry_seconds": e.retrySeconds = try double(v, key2, in: 0.01...86_400)
            default: throw unknown(v, key2)
            }
        }
        guard !e.url.isEmpty, !e.model.isEmpty else { throw fail(node, key, "needs url and model") }
        return e
    }

    /// `tokens` (each with `token`) or `unix_peers` (each with `uid`): a list of scopes.
    func readGrants(_ node: Node, _ key: String, byToken: Bool) throws(ConfigError) -> [ProxyConfig.Grant] {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return [] }
        guard case .sequence(let items) = node else { throw fail(node, key, "expected a list") }
        var grants: [ProxyConfig.Grant] = []
        for (i, item) in items.enumerated() {
            let key1 = "\(key)[\(i)]"
            var g = ProxyConfig.Grant()
            for (k, v) in try mapping(item, key1) {
                let key2 = "\(key1).\(k)"
                switch k {
                case "name":
                    g.name = try nonEmptyString(v, key2)
                    guard g.name.count <= 64, g.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
                        throw fail(v, key2, "1 to 64 of A-Z a-z 0-9 _ . -")
                    }
                case "token" where byToken: g.token = try nonEmptyString(v, key2)
                case "uid" where !byToken: g.uid = UInt32(try int(v, key2, in: 0...Int(UInt32.max)))
                case "agents":
                    if case .scalar(let s) = v, s.string == "*" { g.agents = nil; continue }
                    guard case .sequence(let names) = v, names.count > 0 else { throw fail(v, key2, "expected a list of agent names, or \"*\"") }
                    var agents: [String] = []
                    for n in names { agents.append(try nonEmptyString(n, key2)) }
                    g.agents = agents
                case "access":
                    switch try string(v, key2) {
                    case "read-only": g.readOnly = true
                    case "read-write": g.readOnly = false
                    default: throw fail(v, key2, "expected read-only or read-write")
                    }
                case "admin": g.admin = try bool(v, key2)
                default: throw unknown(v, "\(key).\(k)")
                }
            }
            guard !g.name.isEmpty else { throw fail(item, key1, "needs a name") }
            if byToken && g.token == nil { throw fail(item, key1, "needs a token") }
            if !byToken && g.uid == nil { throw fail(item, key1, "needs a uid") }
            guard !grants.contains(where: { $0.name == g.name }) else { throw fail(item, key1, "the name \(g.name) is used twice") }
            guard !byToken || !grants.contains(where: { $0.token == g.token }) else { throw fail(item, key1, "the same token twice") }
            guard byToken || !grants.contains(where: { $0.uid == g.uid }) else { throw fail(item, key1, "the same uid twice") }
            grants.append(g)
        }
        return grants
    }

    func readTLS(_ node: Node, _ key: String) throws(ConfigError) -> ProxyConfig.TLS? {
        if case .scalar(let s) = node, s.style == .plain, ["", "~", "null"].contains(s.string) { return nil }
        var t = ProxyConfig.TLS()
        for (k, v) in try mapping(node, key) {
            let key2 = "\(key).\(k)"
            switch k {
            case "cert": t.cert = try nonEmptyString(v, key2)
            case "key": t.key = try nonEmptyString(v, key2)
            case "client_ca": t.clientCA = try optionalString(v, key2)
            default: throw unknown(v, key2)
            }
        }
        guard !t.cert.isEmpty, !t.key.isEmpty else { throw fail(node, key, "needs cert and key (PEM files)") }
        return t
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
