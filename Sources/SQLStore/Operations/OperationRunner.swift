import ProxyCore
import StoragePorts

/// An executor of operations: a backend decides where one runs (SQLite: a
/// reader thread or the writer's group commit; PostgreSQL: a shared pooled
/// connection or a group commit sorted by the row lock), inside the client's
/// transaction when it names one (a write then in a savepoint of its own).
/// `done` runs on the loop thread.
public protocol OperationRunner: AnyObject {
    func run<T>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<T>)
    /// Several statements on one connection, atomically (`Unit`).
    func run<T>(_ unit: Unit<T>, in tx: TransactionID?, _ done: @escaping Completion<T>)
    /// `save_task`: `TaskOperations.save` unless the backend has a faster way
    /// to the same result (PostgreSQL: an optimistic write in a group commit).
    func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>)
}

extension OperationRunner {
    public func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>) {
        TaskOperations.save(fields, id: id, on: self, in: tx, done)
    }
}

/// How the server runs operations: on the backend, with the read-through
/// cache in front when there is one (the same `ReadThrough` as the task
/// reads', so a transaction's writes of both kinds are retired at its
/// commit). Loop thread only.
public final class Operations {
    public let runner: OperationRunner
    public let readThrough: ReadThrough?
    // (`@inlinable` below: a handler's call is specialized for its output, no generic thunk on the hot path.)

    public init(runner: OperationRunner, readThrough: ReadThrough?) {
        self.runner = runner
        self.readThrough = readThrough
    }

    /// The typed result; a write is acknowledged once what it retires is gone.
    @inlinable
    public func run<T>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        LoopThread.check()
        guard let readThrough, case .retire(let retired)? = operation.cache else { return runner.run(operation, in: tx, done) }
        runner.run(operation, in: tx) { result in
            guard case .success(let value) = result else { return done(result) }
            readThrough.wrote(retired(value), in: tx) { done(result) }
        }
    }

    /// A unit that retires nothing from the read-through cache.
    public func run<T>(_ unit: Unit<T>, in tx: TransactionID?, _ done: @escaping Completion<T>) {
        LoopThread.check()
        runner.run(unit, in: tx, done)
    }

    /// A unit; acknowledged once what it retires (known from its answer) is gone.
    public func run<T>(_ unit: Unit<T>, in tx: TransactionID?, retiring: @escaping (T) -> CacheInvalidation, _ done: @escaping Completion<T>) {
        LoopThread.check()
        guard let readThrough else { return runner.run(unit, in: tx, done) }
        runner.run(unit, in: tx) { result in
            guard case .success(let value) = result else { return done(result) }
            readThrough.wrote(retiring(value), in: tx) { done(result) }
        }
    }

    /// `save_task`; acknowledged once the task's entries are retired.
    public func saveTask(_ fields: JSONObject, id: String?, in tx: TransactionID?, _ done: @escaping Completion<String>) {
        LoopThread.check()
        guard let readThrough else { return runner.saveTask(fields, id: id, in: tx, done) }
        runner.saveTask(fields, id: id, in: tx) { result in
            guard case .success(let saved) = result else { return done(result) }
            readThrough.wrote(.tasks([saved]), in: tx) { done(result) }
        }
    }

    /// A transaction ended: what it wrote is retired from the cache if it
    /// committed (even a failed commit may have been applied: dropping entries
    /// is always safe); `then` once that is done.
    public func transactionEnded(_ tx: TransactionID, committed: Bool, then: @escaping () -> Void) {
        guard let readThrough else { return then() }
        readThrough.ended(tx, committed: committed, then: then)
    }

    /// The answer encoded: from the cache when the operation names an entry
    /// and runs outside a transaction, else from storage.
    @inlinable
    public func answer<T: JSONWritable>(_ operation: Operation<T>, in tx: TransactionID?, _ done: @escaping Completion<EncodedJSON>) {
        let direct = { [runner] (done: @escaping Completion<EncodedJSON>) in
            runner.run(operation, in: tx) { done($0.map { EncodedJSON(encoding: $0) }) }
        }
        guard tx == nil, let readThrough, case .keep(let entry)? = operation.cache else { return run(operation, in: tx) { done($0.map { EncodedJSON(encoding: $0) }) } }
        readThrough.answer(entry, done, read: direct)
    }
}
