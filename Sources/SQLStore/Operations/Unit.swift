import ProxyCore
import StoragePorts

/// Several statements as one unit, written once for both backends: the
/// order of an operation's statements, and what a later one takes from an
/// earlier one's answer (a collection's new version, the ids a delete
/// removed). The body asks its `UnitSteps` to run each statement (an
/// `Operation`) and answers `done` once. Steps' callbacks run in order: on
/// SQLite at once, on the writer (or reader) thread that owns the unit; on
/// PostgreSQL as the answers arrive, the steps queued before already sent
/// (pipelined). A unit is atomic: a transaction of its own, or a savepoint
/// inside the client's; a failing one undoes all of its steps. After a step
/// failed, later steps of a PostgreSQL unit fail too: the body answers with
/// the first failure.
public struct Unit<Output> {
    public enum Access {
        /// One consistent snapshot of the database (SQLite's read
        /// transaction, PostgreSQL's REPEATABLE READ READ ONLY).
        case snapshot
        case write
    }

    public let access: Access
    public let body: (UnitSteps, @escaping Completion<Output>) -> Void

    public init(_ access: Access, _ body: @escaping (UnitSteps, @escaping Completion<Output>) -> Void) {
        self.access = access
        self.body = body
    }
}

/// Where a unit's steps run: one connection, in order.
public protocol UnitSteps: AnyObject {
    func run<T>(_ step: Operation<T>, _ done: @escaping Completion<T>)
}

extension UnitSteps {
    /// Runs the steps in order and answers with the first failure, or with
    /// `answer` once the last one succeeded.
    public func all<T>(_ steps: [Operation<Void>], then answer: T, _ done: @escaping Completion<T>) {
        guard !steps.isEmpty else { return done(.success(answer)) }
        var failure: ProxyError?
        for (i, step) in steps.enumerated() {
            run(step) { r in
                if case .failure(let e) = r, failure == nil { failure = e }
                if i == steps.count - 1 { done(failure.map { .failure($0) } ?? .success(answer)) }
            }
        }
    }
}

/// The first failure among a unit's steps, for a body whose earlier steps'
/// answers it does not need: on SQLite a later step runs even after an
/// earlier one failed, so the body must still answer with that failure
/// (and so undo the unit).
public final class FirstFailure {
    public private(set) var error: ProxyError?
    public init() {}

    public func note<T>(_ result: Result<T, ProxyError>) {
        if case .failure(let e) = result, error == nil { error = e }
    }

    /// `result`, unless an earlier step failed.
    public func answer<T>(_ result: Result<T, ProxyError>) -> Result<T, ProxyError> {
        note(result)
        return error.map { .failure($0) } ?? result
    }
}
