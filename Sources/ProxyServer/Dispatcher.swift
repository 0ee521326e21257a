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
}
