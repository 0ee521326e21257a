import ProxyCore

/// What every connection shares: the method table, the services, the
/// statistics and the per-connection limits; and the one place a request
/// becomes a handler call. Loop thread only.
final class Dispatcher {
    let methods: MethodTable
    let services: Services
    let stats: ServerStats
    let limits: Limits
    /// The storage applies writes outside transactions in call order
    /// (`StorageAdapter.appliesWritesInOrder`), read once.
    let writesInOrder: Bool

    struct Limits {
        var maxLineBytes: Int
        var maxOutputBytes: Int
        var maxAuthFailures: Int
    }

    init(methods: MethodTable, services: Services, stats: ServerStats, limits: Limits) {
        self.methods = methods
        self.services = services
        self.stats = stats
        self.limits = limits
        writesInOrder = services.storage.appliesWritesInOrder
    }

    /// Checks the parameters and runs the handler; an error on the way is the reply.
    func run(_ request: RPCRequest, _ spec: MethodSpec?, session: Session, reply: @escaping Reply) {
        // Before `auth`, nothing about the server is told, not even which methods exist.
        guard session.mayCall || request.method == "auth" else {
            return reply(.failure(.unauthorized("call auth with the server's token first")))
        }
        guard let spec else { return reply(.failure(.methodNotFound(request.method))) }
        do {
            let params = try Params(request.params, spec: spec)
            try spec.run(Call(params: params, session: session, services: services, reply: reply))
        } catch let error as ProxyError {
            reply(.failure(error))
        } catch {
            reply(.failure(.internalError("unexpected failure in \(spec.name)")))
        }
    }

    /// An answer over `server.max_answer_bytes` is replaced by `-32005`
    /// (ask for fewer rows), measured where it was encoded: no copy.
    func encode(_ result: Result<any JSONWritable, ProxyError>, id: RequestID, into buffer: inout [UInt8]) {
        switch result {
        case .success(let value):
            let start = buffer.count
            RPCResponse.writeResult(id: id, result: value, into: &buffer)
            let limit = services.maxAnswerBytes
            if buffer.count - start > limit {
                buffer.removeSubrange(start...)
                RPCResponse.writeError(id: id, error: .requestTooLarge(limit: limit, subject: "answer"), into: &buffer)
            }
        case .failure(let error): RPCResponse.writeError(id: id, error: error, into: &buffer)
        }
    }
}
