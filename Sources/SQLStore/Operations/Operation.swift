import ProxyCore
import StoragePorts

/// One storage operation, written once for both backends, as GRDB writes a
/// request once over its `Database` primitives: the statement (in the
/// backend's dialect), how its rows decode, whether it writes and which row
/// it locks, and what it does to the read-through cache. An executor
/// (`OperationRunner`: `SQLiteStorage`, `PostgresStorage`) only decides where
/// it runs; `Operations` puts the cache in front.
///
/// A write also says what it changes for live events (`change`: SQLite
/// records it on the writer, in the same transaction; PostgreSQL's triggers
/// do it themselves).
///
/// Decoding is a fold, so SQLite decodes each row as it steps (no copy) and
/// PostgreSQL over the rows it received: `initial`, then `eachRow` per row in
/// order, then `finish` with the number of rows the statement changed (a
/// write's; a read's is meaningless).
public struct Operation<Output> {
    public enum Access {
        case read
        /// nil: a statement over many rows (a bulk delete), which commits
        /// alone rather than hold up a group commit.
        case write(RowLock?)
    }

    public let access: Access
    private let source: Source
    /// A page's answer budget (`server.max_answer_bytes`) and how many
    /// columns a record has: a listing stops reading (-32005) past it.
    public let page: (budget: AnswerBudget, recordColumns: Int)?
    public let cache: CachePolicy<Output>?
    /// What a write changes, for `subscribe` (SQLite records it; PostgreSQL's triggers do).
    public var change: ChangeSpec? = nil
    /// The same write for many rows at once, one array parameter per
    /// parameter (PostgreSQL's group commit merges such writes of a group
    /// into one statement when their answers do not depend on their own result).
    public var manyRows: String? = nil
    /// Whose absence a foreign-key failure means ("task … does not exist"): data,
    /// not a closure, so the common path allocates nothing for it.
    public var missingParent: String? = nil
    /// SQLite has no data-modifying WITH: a statement it runs first, in the
    /// same savepoint, where PostgreSQL's one statement does both (a
    /// checkpoint's values and the checkpoint).
    public var firstOnSQLite: (() -> BoundStatement)? = nil
    let initial: Output
    let eachRow: (any SQLRow, SQLDialect, inout Output) throws(ProxyError) -> Void
    let finish: (inout Output, _ changedRows: Int) throws(ProxyError) -> Void

    public init(_ access: Access, page: (budget: AnswerBudget, recordColumns: Int)? = nil, cache: CachePolicy<Output>? = nil,
                statement: @escaping (SQLDialect) -> BoundStatement, initial: Output,
                eachRow: @escaping (any SQLRow, SQLDialect, inout Output) throws(ProxyError) -> Void = { _, _, _ in },
                finish: @escaping (inout Output, _ changedRows: Int) throws(ProxyError) -> Void = { _, _ in }) {
        self.access = access
        self.page = page
        self.cache = cache
        self.source = .built(statement)
        self.initial = initial
        self.eachRow = eachRow
        self.finish = finish
    }

    /// A statement of one parameter, `$1` = `key` (a row by its key). Its
    /// text comes from a function that captures nothing, so the operation
    /// costs no allocation until it runs (a cached read's hit never builds it).
    public init(_ access: Access, cache: CachePolicy<Output>? = nil, sql: @escaping (SQLDialect) -> String, key: String, initial: Output,
                eachRow: @escaping (any SQLRow, SQLDialect, inout Output) throws(ProxyError) -> Void = { _, _, _ in },
                finish: @escaping (inout Output, _ changedRows: Int) throws(ProxyError) -> Void = { _, _ in }) {
        self.access = access
        self.page = nil
        self.cache = cache
        self.source = .byKey(sql, key)
        self.initial = initial
        self.eachRow = eachRow
        self.finish = finish
    }

    private enum Source {
        case byKey((SQLDialect) -> String, String)
        case built((SQLDialect) -> BoundStatement)
    }

    /// The statement and its parameters in `dialect`: what an executor runs.
    public func statement(_ dialect: SQLDialect) -> BoundStatement {
        switch source {
        case .byKey(let sql, let key): return (sql(dialect), [.text(key)])
        case .built(let make): return make(dialect)
        }
    }

    public var writes: Bool { if case .write = access { return true } else { return false } }

    /// A failure in this operation's words: a missing parent row is named.
    public func explain(_ error: ProxyError) -> ProxyError {
        guard let missingParent, case .notFound = error else { return error }
        return .notFound("\(missingParent) does not exist")
    }
}

/// A statement and its parameters, in one dialect.
public typealias BoundStatement = (sql: String, values: [SQLValue])

extension Operation {
    /// Runs the fold over rows a driver hands in order (SQLite: as it steps;
    /// PostgreSQL: the result's rows). Executors call this and nothing else.
    public func decode(_ dialect: SQLDialect, rows: (_ each: (any SQLRow) throws(ProxyError) -> Void) throws(ProxyError) -> Void,
                       changedRows: () -> Int) throws(ProxyError) -> Output {
        var out = initial
        try rows { row throws(ProxyError) in try eachRow(row, dialect, &out) }
        try finish(&out, changedRows())
        return out
    }
}

/// The common shapes.
extension Operation {
    /// The first row's record, or nil.
    public static func one<T>(_ access: Access = .read, cache: CachePolicy<T?>? = nil, _ statement: @escaping (SQLDialect) -> BoundStatement,
                              decode: @escaping (any SQLRow, SQLDialect) -> T) -> Operation<T?> where Output == T? {
        Operation<T?>(access, cache: cache, statement: statement, initial: nil,
                      eachRow: { row, d, out in if out == nil { out = decode(row, d) } })
    }

    /// Every row's record, in order.
    public static func all<T>(_ access: Access = .read, page: (budget: AnswerBudget, recordColumns: Int)? = nil,
                              cache: CachePolicy<[T]>? = nil, _ statement: @escaping (SQLDialect) -> BoundStatement,
                              decode: @escaping (any SQLRow, SQLDialect) -> T) -> Operation<[T]> where Output == [T] {
        Operation<[T]>(access, page: page, cache: cache, statement: statement, initial: [],
                       eachRow: { row, d, out in out.append(decode(row, d)) })
    }

    /// Whether the statement changed a row.
    public static func changed(_ lock: RowLock?, cache: CachePolicy<Bool>? = nil, change: ChangeSpec? = nil,
                               _ statement: @escaping (SQLDialect) -> BoundStatement) -> Operation<Bool> where Output == Bool {
        var op = Operation<Bool>(.write(lock), cache: cache, statement: statement, initial: false, finish: { out, n in out = n > 0 })
        op.change = change
        return op
    }

    /// How many rows the statement changed.
    public static func count(_ lock: RowLock?, cache: CachePolicy<Int>? = nil,
                             _ statement: @escaping (SQLDialect) -> BoundStatement) -> Operation<Int> where Output == Int {
        Operation<Int>(.write(lock), cache: cache, statement: statement, initial: 0, finish: { out, n in out = n })
    }

    /// A write whose answer is nothing (`null` on the wire).
    public static func done(_ lock: RowLock?, cache: CachePolicy<Void>? = nil,
                            _ statement: @escaping (SQLDialect) -> BoundStatement) -> Operation<Void> where Output == Void {
        Operation<Void>(.write(lock), cache: cache, statement: statement, initial: ())
    }
}

/// What a write changes, as live events see it. Recorded only when its
/// statement changed a row, and only while somebody subscribes.
public enum ChangeSpec {
    /// The task as it is after the write.
    case taskWritten(String)
    /// A new task, as it is after the insert.
    case taskCreated(String)
    /// The task as it was before (read before the statement runs).
    case taskDeleted(String)
    /// A new log entry (with its task's agent, for `agent_name` filters).
    case logAdded(LogEntry)
    /// The tasks the statement returned (`RETURNING`), as they are after it: claims and leases.
    case tasksReturned
    /// A checkpoint event known before the statement runs.
    case checkpoint(CheckpointChange)
    /// The checkpoint events in the statement's answer (`CheckpointsTouched`): copies and deletes.
    case checkpointsReturned
}

/// Where a write takes its row lock. PostgreSQL's group commit sorts a
/// group's writes by it, so two groups never wait on each other's rows in
/// opposite orders; SQLite's single writer needs no order.
public struct RowLock: Comparable, Sendable {
    /// tasks < metadata < checkpoints < store < unordered (claims: they skip locked rows and never wait, so they go last).
    public enum Table: Int, Sendable { case tasks, metadata, checkpoints, store, unordered }
    public let table: Table
    public let key: String

    public static func task(_ id: String) -> RowLock { RowLock(table: .tasks, key: id) }
    public static func metadata(_ key: String) -> RowLock { RowLock(table: .metadata, key: key) }
    /// An item of LangGraph's store.
    public static func store(_ prefix: String, _ key: String) -> RowLock { RowLock(table: .store, key: prefix + "\u{0}" + key) }
    /// A thread's namespace: its checkpoints, values and writes.
    public static func checkpoint(_ thread: String, _ namespace: String) -> RowLock {
        RowLock(table: .checkpoints, key: thread + "\u{0}" + namespace)
    }
    public static let unordered = RowLock(table: .unordered, key: "")

    public static func < (a: RowLock, b: RowLock) -> Bool {
        a.table != b.table ? a.table.rawValue < b.table.rawValue : a.key < b.key
    }
}

/// What an operation does to the read-through cache: a read names the
/// entry its answer is kept under; a write, what it retires (from its
/// output: a new task's id is known only then).
public enum CachePolicy<Output> {
    case keep(CacheEntry)
    case retire((Output) -> CacheInvalidation)

    /// A write that retires the same whatever it answered.
    public static func retiring(_ what: CacheInvalidation) -> CachePolicy { .retire { _ in what } }
}
