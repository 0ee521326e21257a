#if canImport(Glibc)
import Glibc
#endif
import ProxyCore
import Synchronization

/// One event per line on standard error: plain (`time LEVEL message
/// key=value…`) or JSON (`{"time","level","event","message",…}`), as
/// `server.log_format` says. Level and format change live (SIGHUP). Callers
/// pass only what is safe to show: secrets never reach it. Any thread.
public final class Logger: Sendable {
    public enum Level: Int, Sendable, CaseIterable {
        case debug, info, warning, error
        var name: String { ["debug", "info", "warning", "error"][rawValue] }
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            default: return nil
            }
        }
    }
    public enum Format: String, Sendable { case plain, json }

    private let level: Atomic<Int>
    private let json: Atomic<Bool>

    public init(level: String = "info", format: Format = .plain) {
        self.level = Atomic((Level(name: level) ?? .info).rawValue)
        json = Atomic(format == .json)
    }

    public var minimum: Level { Level(rawValue: level.load(ordering: .relaxed))! }
    public var format: Format { json.load(ordering: .relaxed) ? .json : .plain }

    public func set(level name: String) { level.store((Level(name: name) ?? .info).rawValue, ordering: .relaxed) }
    public func set(format: Format) { json.store(format == .json, ordering: .relaxed) }

    /// Cheap enough to guard per-call detail with.
    public func enabled(_ l: Level) -> Bool { l.rawValue >= level.load(ordering: .relaxed) }

    /// `event`: a stable name for machines (`listening`, `auth_failed`, `slow_call`…);
    /// `fields`: what the event is about (request id, method, peer…).
    public func log(_ l: Level, _ event: String, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
        guard enabled(l) else { return }
        var line: [UInt8] = []
        let time = Timestamp.now().rfc3339
        if json.load(ordering: .relaxed) {
            line += Array(#"{"time":"#.utf8)
            JSONWriter.string(time, into: &line)
            line += Array(#","level":"#.utf8)
            JSONWriter.string(l.name, into: &line)
            line += Array(#","event":"#.utf8)
            JSONWriter.string(event, into: &line)
            line += Array(#","message":"#.utf8)
            JSONWriter.string(message, into: &line)
            for (k, v) in fields {
                line.append(UInt8(ascii: ","))
                JSONWriter.string(k, into: &line)
                line.append(UInt8(ascii: ":"))
                JSONWriter.string(v, into: &line)
            }
            line += Array("}\n".utf8)
        } else {
            var text = "\(time) \(l.name.uppercased()) \(message)"
            for (k, v) in fields { text += " \(k)=\(v.contains(" ") ? "\"\(v)\"" : v)" }
            line = Array((text + "\n").utf8)
        }
        line.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, stderr) }
    }

    public func debug(_ m: String, event: String = "debug", _ fields: KeyValuePairs<String, String> = [:]) { log(.debug, event, m, fields) }
    public func info(_ m: String, event: String = "info", _ fields: KeyValuePairs<String, String> = [:]) { log(.info, event, m, fields) }
    public func warning(_ m: String, event: String = "warning", _ fields: KeyValuePairs<String, String> = [:]) { log(.warning, event, m, fields) }
    public func error(_ m: String, event: String = "error", _ fields: KeyValuePairs<String, String> = [:]) { log(.error, event, m, fields) }
}

/// At most one line per `interval` seconds for one kind of event (a flood
/// of failures must not flood the log); counts what it held back. Loop thread only.
struct LogThrottle {
    let interval: Double
    private var last = -Double.infinity
    private var suppressed = 0

    init(interval: Double = 10) { self.interval = interval }

    /// nil: stay quiet; else how many were held back since the last line.
    mutating func admit() -> Int? {
        let now = MonotonicClock.coarseSeconds()
        guard now - last >= interval else { suppressed += 1; return nil }
        last = now
        defer { suppressed = 0 }
        return suppressed
    }
}
