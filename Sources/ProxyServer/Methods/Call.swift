import ProxyCore
import SQLStore
import StoragePorts

/// What a handler answers with: a result to encode, or an error.
typealias Reply = (Result<any JSONWritable, ProxyError>) -> Void

/// Everything a handler may use for one call: its checked parameters, its
/// connection's session, the services, and the reply.
struct Call {
    let params: Params
    let session: Session
    let services: Services
    let reply: Reply

    var storage: StorageAdapter { services.storage }
    var cache: CacheAdapter { services.cache }

    /// The transaction a call names (`transaction` param), if its session opened it.
    func transaction() throws(ProxyError) -> TransactionID? {
        guard let handle = try params.optionalString("transaction") else { return nil }
        return try session.transaction(handle)
    }

    /// Runs an operation in the call's transaction and answers with its
    /// result: a read from the read-through cache when its policy names an
    /// entry (the answer is kept encoded), else written straight from the value.
    func answer<T: JSONWritable>(_ operation: Operation<T>) throws(ProxyError) {
        let tx = try transaction(), operations = services.operations
        if case .keep(let entry)? = operation.cache, let readThrough = operations.readThrough {
            // A hit in this process is answered at once: no callback to make (the hot path of a cached read).
            if tx == nil, let hit = readThrough.cached(entry) { return relay(.success(hit)) }
            return operations.answer(operation, in: tx) { relay($0) }
        }
        operations.run(operation, in: tx) { relay($0) }
    }

    func answer(_ operation: Operation<Void>) throws(ProxyError) {
        services.operations.run(operation, in: try transaction()) { relay($0) }
    }

    /// Adapts a backend completion to the reply.
    func relay<T: JSONWritable>(_ result: Result<T, ProxyError>) { reply(result.map { $0 as any JSONWritable }) }
    func relay(_ result: Result<Void, ProxyError>) { reply(result.map { JSONValue.null as any JSONWritable }) }
}
