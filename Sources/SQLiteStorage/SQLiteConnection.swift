#if canImport(Glibc)
import Glibc
#endif
import CSQLite
import ProxyCore
import SQLStore
import StoragePorts

/// One sqlite3 connection, owned by exactly one thread at a time (opened
/// NOMUTEX; the worker that owns it is the only caller). Keeps its prepared
/// statements by SQL text.
final class SQLiteConnection: SQLExecutor {
    let handle: OpaquePointer
    /// Named in errors about the file itself (full disk, read-only folder, not a database).
    let path: String
    private var statements: [String: OpaquePointer] = [:]
    /// The extended result code of the last failure (SQLITE_BUSY_SNAPSHOT vs SQLITE_BUSY).
    private(set) var lastErrorCode: Int32 = 0
    /// The detail of every "busy" error: the storage adds who holds the lock.
    static let busyDetail = "the database is busy (another writer holds it)"
    /// Live events: whether writes record what they change (set before each
    /// batch or statement from `ChangeLog.isOn`), and what they recorded
    /// since the last commit (`ChangeLog.commit` takes it).
    var recordsChanges = false
    var changes: [Change] = []

    struct Options {
        var path: String
        var synchronous = "FULL"
        var busyTimeoutMs = 5000
        var readOnly = false
    }

    init(_ options: Options) throws(ProxyError) {
        var db: OpaquePointer?
        let flags = (options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(options.path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let why = Self.fileProblem(options.path) ?? db.map { Self.reason($0, String(cString: sqlite3_errmsg($0))) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw .backendUnavailable("cannot open the SQLite database \(options.path): \(why)", retryAfterMs: 1000)
        }
        handle = db
        path = options.path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, Int32(options.busyTimeoutMs))
        if !options.readOnly {
            try execute("PRAGMA journal_mode=WAL")
        }
        try execute("PRAGMA synchronous=\(options.synchronous)")  // a keyword checked by the config loader
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for stmt in statements.values { sqlite3_finalize(stmt) }
        sqlite3_close_v2(handle)
    }

    // MARK: - Statements

    var dialect: SQLDialect { .sqlite }

    private func prepared(_ sql: String) throws(ProxyError) -> OpaquePointer {
        if let stmt = statements[sql] { return stmt }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql: sql) }
        try checkParameterOrder(stmt, sql)
        statements[sql] = stmt
        return stmt
    }

    /// Values are bound by position. SQLite numbers a `$n` parameter by its
    /// first appearance, not by `n`: a statement whose `$n` appear out of
    /// order would bind values to the wrong columns, so it is refused.
    private func checkParameterOrder(_ stmt: OpaquePointer, _ sql: String) throws(ProxyError) {
        let count = sqlite3_bind_parameter_count(stmt)
        guard count > 0 else { return }
        for i in 1...count {
            guard let name = sqlite3_bind_parameter_name(stmt, i) else { continue }  // a plain `?`
            if String(cString: name) != "$\(i)" {
                sqlite3_finalize(stmt)
                throw .internalError("parameter \(String(cString: name)) is number \(i) in: \(sql.prefix(120))")
            }
        }
    }

    private func bind(_ stmt: OpaquePointer, _ values: [SQLValue]) {
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            switch v {
            case .null: sqlite3_bind_null(stmt, idx)
            case .int(let n): sqlite3_bind_int64(stmt, idx, n)
            case .text(let s): sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT)
            case .blob(let b): b.withUnsafeBytes { _ = sqlite3_bind_blob(stmt, idx, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
        }
    }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue] = []) throws(ProxyError) -> Int {
        let stmt = try prepared(sql)
        defer { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
        bind(stmt, values)
        var rc = sqlite3_step(stmt)
        while rc == SQLITE_ROW { rc = sqlite3_step(stmt) }
        guard rc == SQLITE_DONE else { throw error(rc, sql: sql) }
        return Int(sqlite3_changes(handle))
    }

    /// `SQLExecutor`: a query's rows, for the table store and the migrations.
    func forEachRow(_ sql: String, _ values: [SQLValue], _ body: (any SQLRow) throws(ProxyError) -> Void) throws(ProxyError) {
        try query(sql, values) { row throws(ProxyError) in try body(row) }
    }

    /// Runs a query, handing each row to `row`.
    func query(_ sql: String, _ values: [SQLValue] = [], row: (Row) throws(ProxyError) -> Void) throws(ProxyError) {
        let stmt = try prepared(sql)
        defer { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
        bind(stmt, values)
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc, sql: sql) }
            try row(Row(stmt: stmt))
        }
    }

    /// Runs several `;`-separated statements (migrations), not cached.
    func executeScript(_ sql: String) throws(ProxyError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    // MARK: - Errors

    /// What keeps the database file (or the WAL files beside it) from being
    /// opened for writing, in the operator's terms; nil if nothing visible.
    private static func fileProblem(_ path: String) -> String? {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dir = folder.isEmpty ? "/" : folder
        if access(dir, F_OK) != 0 { return "the folder \(dir) does not exist" }
        if access(dir, W_OK) != 0 { return "the folder \(dir) is not writable (\(String(cString: strerror(errno))))" }
        if access(path, F_OK) == 0, access(path, R_OK | W_OK) != 0 {
            return "the file is not readable and writable (\(String(cString: strerror(errno))))"
        }
        return nil
    }

    /// SQLite's message plus the operating system's reason when there is one
    /// ("unable to open database file: Read-only file system").
    private static func reason(_ db: OpaquePointer, _ message: String) -> String {
        let os = sqlite3_system_errno(db)
        return os == 0 ? message : "\(message): \(String(cString: strerror(os)))"
    }

    /// Maps SQLite's extended result codes onto the contract's errors.
    func error(_ rc: Int32, sql: String) -> ProxyError {
        lastErrorCode = rc
        let message = String(cString: sqlite3_errmsg(handle))
        switch rc & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return .backendUnavailable(Self.busyDetail, retryAfterMs: 100)
        case SQLITE_CONSTRAINT:
            let foreignKey = SQLITE_CONSTRAINT | (3 << 8)  // SQLITE_CONSTRAINT_FOREIGNKEY, a macro Swift cannot import
            if rc == foreignKey { return .notFound("a referenced row does not exist") }
            return .conflict(message, native: native(rc))
        case SQLITE_CANTOPEN, SQLITE_READONLY:
            return .backendUnavailable("SQLite \(path): \(Self.fileProblem(path) ?? Self.reason(handle, message))", retryAfterMs: 1000)
        case SQLITE_FULL, SQLITE_IOERR:
            return .backendUnavailable("SQLite \(path): \(Self.reason(handle, message))", retryAfterMs: 1000)
        case SQLITE_NOTADB:
            return .backendUnavailable("SQLite \(path): \(message) (is the path right?)", retryAfterMs: 1000)
        case SQLITE_CORRUPT:
            return .backendUnavailable("SQLite \(path): \(message)", retryAfterMs: 1000)
        case SQLITE_NOMEM:
            return .backendUnavailable("SQLite: \(message)", retryAfterMs: 1000)
        default:
            return .internalError("SQLite: \(message)", native: native(rc))
        }
    }

    /// SQLite's extended result code, e.g. 2067 (SQLITE_CONSTRAINT_UNIQUE).
    private func native(_ rc: Int32) -> ProxyError.NativeCode { .init(backend: "sqlite", code: String(rc)) }
}

/// A result row; valid only inside the `query` callback.
struct Row: SQLRow {
    let stmt: OpaquePointer

    func text(_ i: Int) -> String? {
        guard let p = sqlite3_column_text(stmt, Int32(i)) else { return nil }  // NULL (or out of memory)
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, Int32(i)))), as: UTF8.self)
    }

    func int(_ i: Int) -> Int64? {
        sqlite3_column_type(stmt, Int32(i)) == SQLITE_NULL ? nil : sqlite3_column_int64(stmt, Int32(i))
    }

    /// Parsed from SQLite's own buffer, without a String in between.
    func json(_ i: Int) -> JSONValue? {
        guard sqlite3_column_type(stmt, Int32(i)) != SQLITE_NULL, let p = sqlite3_column_text(stmt, Int32(i)) else { return nil }
        let bytes = UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, Int32(i))))
        return (try? JSONParser.parse(bytes, maxDepth: 512)) ?? .string(String(decoding: bytes, as: UTF8.self))
    }

    /// A float32 vector straight from SQLite's buffer.
    func float32s(_ i: Int) -> [Float]? {
        guard sqlite3_column_type(stmt, Int32(i)) == SQLITE_BLOB, let p = sqlite3_column_blob(stmt, Int32(i)) else { return nil }
        return Float32Bytes.decode(UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, Int32(i)))))
    }

    func bytes(_ i: Int) -> [UInt8]? {
        guard sqlite3_column_type(stmt, Int32(i)) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(stmt, Int32(i)))
        guard count > 0, let p = sqlite3_column_blob(stmt, Int32(i)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    /// The row's stored bytes (text and blobs as they are, numbers as 8),
    /// read before any column is copied out.
    var byteCount: Int {
        var total = 0
        for i in 0..<sqlite3_column_count(stmt) {
            switch sqlite3_column_type(stmt, i) {
            case SQLITE_TEXT, SQLITE_BLOB: total += Int(sqlite3_column_bytes(stmt, i))
            default: total += 8
            }
        }
        return total
    }
}

/// SQLite copies bound text when told the buffer is transient.
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
