import ProxyCore
import Yams

/// One configuration key, declared once: its name in the file, its type and
/// range (the loader checks them), its default (the model's, `ProxyConfig()`),
/// whether a running proxy applies a change on SIGHUP, and one line of doc.
/// The loader (`ConfigLoader`), the restart check (`keysNeedingRestart`),
/// `server.status` (`config`) and README's table (`storage-proxy config-keys`,
/// kept equal by a test) all read `ConfigKey.all`; the backends read the model.
public struct ConfigKey {
    /// As written in the file: `server.max_connections`.
    public let name: String
    /// What the value must be, in words (`1 to 64`, `seconds`, `true or false`).
    public let type: String
    /// SIGHUP applies a change to a running proxy; otherwise it waits for a restart (and the log says so).
    public let reloadable: Bool
    public let doc: String
    /// Never shown (passwords, tokens, URLs that may hold a password): status says only whether it is set.
    public let secret: Bool
    /// The default as README shows it.
    public let defaultText: String
    /// The value as `server.status` shows it (secrets: whether set).
    public let show: (ProxyConfig) -> JSONValue
    let differs: (ProxyConfig, ProxyConfig) -> Bool
    let read: (ConfigReader, Node, String, inout ProxyConfig) throws(ConfigError) -> Void

    /// The section it sits in: `server`, `storage.postgresql`, ….
    var section: String { String(name[..<(name.lastIndex(of: ".") ?? name.startIndex)]) }
}

// MARK: - The kinds of key

extension ConfigKey {
    /// How a number's default reads in README.
    enum Unit { case plain, bytes, seconds }

    private static func make<T: Equatable>(_ name: String, _ path: WritableKeyPath<ProxyConfig, T>, type: String, reload: Bool,
                                           secret: Bool = false, defaultText: String? = nil, _ doc: String,
                                           json: @escaping (T) -> JSONValue,
                                           read: @escaping (ConfigReader, Node, String) throws(ConfigError) -> T) -> ConfigKey {
        let initial = ProxyConfig()[keyPath: path]
        return ConfigKey(
            name: name, type: type, reloadable: reload, doc: doc, secret: secret,
            defaultText: defaultText ?? Self.text(json(initial)),
            show: { c in secret ? .bool(json(c[keyPath: path]) != .null) : json(c[keyPath: path]) },
            differs: { $0[keyPath: path] != $1[keyPath: path] },
            read: { reader, node, key, c throws(ConfigError) in c[keyPath: path] = try read(reader, node, key) })
    }

    static func int(_ name: String, _ path: WritableKeyPath<ProxyConfig, Int>, _ range: ClosedRange<Int>, unit: Unit = .plain,
                    reload: Bool = false, _ doc: String) -> ConfigKey {
        let initial = ProxyConfig()[keyPath: path]
        return make(name, path, type: "\(range.lowerBound) to \(range.upperBound)", reload: reload,
                    defaultText: unit == .bytes ? bytes(initial) : unit == .seconds ? "\(initial) s" : "\(initial)", doc,
                    json: { .int(Int64($0)) }, read: { r, n, k throws(ConfigError) in try r.int(n, k, in: range) })
    }

    static func seconds(_ name: String, _ path: WritableKeyPath<ProxyConfig, Double>, _ range: ClosedRange<Double>,
                        reload: Bool = false, _ doc: String) -> ConfigKey {
        let initial = ProxyConfig()[keyPath: path]
        return make(name, path, type: "seconds, \(number(range.lowerBound)) to \(number(range.upperBound))", reload: reload,
                    defaultText: "\(number(initial)) s", doc, json: { .double($0) },
                    read: { r, n, k throws(ConfigError) in try r.double(n, k, in: range) })
    }

    static func flag(_ name: String, _ path: WritableKeyPath<ProxyConfig, Bool>, reload: Bool = false, _ doc: String) -> ConfigKey {
        make(name, path, type: "true or false", reload: reload, doc, json: { .bool($0) },
             read: { r, n, k throws(ConfigError) in try r.bool(n, k) })
    }

    /// Text that must not be empty.
    static func text(_ name: String, _ path: WritableKeyPath<ProxyConfig, String>, reload: Bool = false, _ doc: String) -> ConfigKey {
        make(name, path, type: "text", reload: reload, doc, json: { .string($0) },
             read: { r, n, k throws(ConfigError) in try r.nonEmptyString(n, k) })
    }

    /// Text where empty (or `null`) switches the thing off.
    static func switchable(_ name: String, _ path: WritableKeyPath<ProxyConfig, String>, reload: Bool = false, _ doc: String) -> ConfigKey {
        make(name, path, type: "text; empty: off", reload: reload, defaultText: ProxyConfig()[keyPath: path].isEmpty ? "off" : nil, doc + " (empty: off)",
             json: { .string($0) }, read: { r, n, k throws(ConfigError) in try r.optionalString(n, k) ?? "" })
    }

    static func optionalText(_ name: String, _ path: WritableKeyPath<ProxyConfig, String?>, secret: Bool = false, reload: Bool = false,
                             defaultText: String = "–", _ doc: String) -> ConfigKey {
        make(name, path, type: "text", reload: reload, secret: secret, defaultText: defaultText, doc, json: { $0.map { .string($0) } ?? .null },
             read: { r, n, k throws(ConfigError) in try r.optionalString(n, k) })
    }

    /// One of `options`, compared in the case `normalize` gives.
    static func choice(_ name: String, _ path: WritableKeyPath<ProxyConfig, String>, _ options: [String], reload: Bool = false,
                       normalize: @escaping (String) -> String = { $0.lowercased() }, _ doc: String) -> ConfigKey {
        make(name, path, type: "one of " + options.joined(separator: ", "), reload: reload, doc, json: { .string($0) },
             read: { r, n, k throws(ConfigError) in
                 let value = normalize(try r.string(n, k))
                 guard options.contains(value) else { throw r.fail(n, k, "expected " + listed(options)) }
                 return value
             })
    }

    static func choice<T: RawRepresentable & Equatable>(_ name: String, _ path: WritableKeyPath<ProxyConfig, T>, _ options: [T],
                                                         _ doc: String) -> ConfigKey where T.RawValue == String {
        make(name, path, type: "one of " + options.map(\.rawValue).joined(separator: ", "), reload: false, doc, json: { .string($0.rawValue) },
             read: { r, n, k throws(ConfigError) in try r.choice(n, k) })
    }

    /// A key read by a reader of its own (a list, a sub-section): `show` says what status may tell of it.
    static func custom<T: Equatable>(_ name: String, _ path: WritableKeyPath<ProxyConfig, T>, type: String, reload: Bool = false,
                                     defaultText: String, _ doc: String, show: @escaping (T) -> JSONValue,
                                     read: @escaping (ConfigReader, Node, String) throws(ConfigError) -> T) -> ConfigKey {
        make(name, path, type: type, reload: reload, defaultText: defaultText, doc, json: show, read: read)
    }

    private static func text(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s.isEmpty ? "–" : "`\(s)`"
        case .bool(let b): return "`\(b)`"
        case .null: return "–"
        default: return v.jsonText
        }
    }

    private static func bytes(_ n: Int) -> String {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where n >= size && n % size == 0 { return "\(n / size) \(unit)" }
        return "\(n)"
    }

    private static func number(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }

    static func listed(_ options: [String]) -> String {
        options.count < 2 ? options.joined() : options.dropLast().joined(separator: ", ") + " or " + options.last!
    }
}
