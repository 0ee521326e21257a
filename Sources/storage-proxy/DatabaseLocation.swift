import Foundation
import PostgresStorage
import SQLiteStorage
import ProxyCore
import StoragePorts
import ProxyConfig

/// A database named on the command line of `copy`, `export` and `checksum`:
/// a postgresql:// (or postgres://) URL, or a SQLite file (a path, or sqlite:PATH).
enum DatabaseLocation: CustomStringConvertible {
    case sqlite(path: String)
    case postgresql(url: String)

    init(_ text: String) {
        if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            self = .postgresql(url: text)
        } else {
            var path = text
            for prefix in ["sqlite://", "sqlite:"] where path.hasPrefix(prefix) {
                path.removeFirst(prefix.count)
                break
            }
            // Absolute, so that marks name the same file from any working directory.
            self = .sqlite(path: URL(fileURLWithPath: path).standardizedFileURL.path)
        }
    }

    /// How messages and copy marks name it: never with a password.
    var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgresql(let url):
            var c = ProxyConfig().postgresql
            c.url = url
            return "postgresql://" + PGConnectionString.describe(c)
        }
    }

    /// A database to read must exist and hold the schema; one to write is
    /// created (SQLite) and migrated as needed.
    func open(writable: Bool) throws -> TableStore {
        do {
            switch self {
            case .sqlite(let path):
                if !writable && !FileManager.default.fileExists(atPath: path) { throw RuntimeError("no database at \(path)") }
                return try SQLiteStorage.tableStore(path: path, writable: writable)
            case .postgresql(let url):
                return try PostgresStorage.tableStore(conninfo: url, writable: writable)
            }
        } catch let error as ProxyError {
            throw RuntimeError("\(self): \(error.message)")
        }
    }
}
