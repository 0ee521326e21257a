#if canImport(Glibc)
import Glibc
#endif
import ProxyCore

/// Plain lines on standard error: `time LEVEL message`. Callers pass only
/// what is safe to show; configuration values that are secrets never reach it.
public struct Logger: Sendable {
    public enum Level: Int, Sendable { case debug, info, warning, error }
    public var minimum: Level

    public init(level: String) {
        switch level.lowercased() {
        case "debug": minimum = .debug
        case "warning", "warn": minimum = .warning
        case "error": minimum = .error
        default: minimum = .info
        }
    }

    public func log(_ level: Level, _ message: String) {
        guard level.rawValue >= minimum.rawValue else { return }
        let name = ["DEBUG", "INFO", "WARNING", "ERROR"][level.rawValue]
        let line = "\(Timestamp.now().rfc3339) \(name) \(message)\n"
        fputs(line, stderr)
    }

    public func info(_ m: String) { log(.info, m) }
    public func warning(_ m: String) { log(.warning, m) }
    public func error(_ m: String) { log(.error, m) }
}
