import CSQLite
import ProxyCore
import SQLStore
import StoragePorts

/// The SQLite executor: a read on a reader thread (in its client's lane), a
/// write in the writer's next group commit (in a savepoint of its own), either
/// inside the client's transaction when it names one.
extension SQLiteStorage: OperationRunner {
    public func run<T>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        if operation.writes {
            write(tx, done) { db throws(ProxyError) in try db.run(operation) }
        } else {
            read(tx, done) { db throws(ProxyError) in try db.run(operation) }
        }
    }

    /// A write unit in the writer's group commit (its savepoint makes it
    /// atomic); a snapshot on a reader, in a read transaction.
    public func run<T>(_ unit: Unit<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        switch unit.access {
        case .write:
            write(tx, done) { db throws(ProxyError) in try db.run(unit) }
        case .snapshot:
            read(tx, done) { db throws(ProxyError) in
                guard tx == nil else { return try db.run(unit) }  // a client's transaction is its snapshot
                try db.execute(SQLDialect.sqlite.beginSnapshot)
                defer { _ = try? db.execute("COMMIT") }
                return try db.run(unit)
            }
        }
    }
}

/// A unit's steps on SQLite are the connection's own: each runs at once, on
/// the thread that owns the connection, and its callback with it.
extension SQLiteConnection: UnitSteps {
    func run<T>(_ step: Operation<T>, _ done: @escaping Completion<T>) {
        done(Result { () throws(ProxyError) in try run(step) })
    }
}

extension SQLiteConnection {
    /// Steps the statement, decoding each row where it lies; a page stops
    /// (-32005) once its rows pass the answer budget. A write that changed a
    /// row records its change while somebody subscribes.
    // Specialized for the outputs of the busiest writes (the generic entry jumps to these): save_task's steps, save_log.
    @_specialize(where T == TaskRecord?)
    @_specialize(where T == Void)
    @_specialize(where T == String)
    func run<T>(_ operation: Operation<T>) throws(ProxyError) -> T {
        let (sql, values) = operation.statement(.sqlite)
        var before: TaskRecord?
        if recordsChanges, case .taskDeleted(let id)? = operation.change { before = try fetchTask(id: id) }
        if let first = operation.firstOnSQLite {
            let (sql, values) = first()
            do { _ = try execute(sql, values) } catch { throw operation.explain(error) }
        }
        var budget = operation.page?.budget
        var changed = 0
        let out: T
        do {
            out = try operation.decode(.sqlite, rows: { each throws(ProxyError) in
                try query(sql, values) { row throws(ProxyError) in
                    if budget != nil { try budget!.spend(row.byteCount) }
                    try each(row)
                }
            }, changedRows: {
                changed = operation.writes ? Int(sqlite3_changes(handle)) : 0
                return changed
            })
        } catch {
            throw operation.explain(error)
        }
        if recordsChanges, changed > 0, let change = operation.change { try record(change, before: before, returned: out) }
        return out
    }

    /// Runs a unit's body to its answer (every step is synchronous here).
    @_specialize(where T == String)
    func run<T>(_ unit: Unit<T>) throws(ProxyError) -> T {
        var answer: Result<T, ProxyError>?
        unit.body(self) { answer = $0 }
        guard let answer else { throw .internalError("a unit ended without an answer") }
        return try answer.get()
    }

    private func record<T>(_ change: ChangeSpec, before: TaskRecord?, returned: T) throws(ProxyError) {
        switch change {
        case .taskWritten(let id):
            if let task = try fetchTask(id: id) { changes.append(.task(task, .updated)) }
        case .taskCreated(let id):
            if let task = try fetchTask(id: id) { changes.append(.task(task, .created)) }
        case .taskDeleted:
            if let before { changes.append(.task(before, .deleted)) }
        case .logAdded(let entry):
            var agent: String?
            try query(Statements.sqlite.selectTaskAgent, [.text(entry.taskID)]) { row in agent = row.text(0) }
            changes.append(.log(entry, agentName: agent))
        case .tasksReturned:
            let tasks = (returned as? [TaskRecord]) ?? [(returned as? TaskRecord?) ?? nil].compactMap { $0 }
            for task in tasks { changes.append(.task(task, .updated)) }
        case .checkpoint(let change):
            changes.append(.checkpoint(change))
        case .checkpointsReturned:
            for change in (returned as? CheckpointsTouched)?.changes ?? [] { changes.append(.checkpoint(change)) }
        }
    }
}
