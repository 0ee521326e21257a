import ProxyConfig
import ProxyCore

/// What every connection shares: the method table, the services, the
/// statistics and the per-connection limits; and the one place a request
/// becomes a handler call. Loop thread only.
final class Dispatcher {
    let methods: MethodTable
    let services: Services
    let stats: ServerStats
    var limits: Limits  // SIGHUP may change them; a connection reads them as it goes
    /// The storage applies writes outside transactions in call order
    /// (`StorageAdapter.appliesWritesInOrder`), read once.
    let writesInOrder: Bool

    let log: Logger

    struct Limits {
        var maxLineBytes: Int
        var maxOutputBytes: Int
        var maxAuthFailures: Int
        /// Reads one connection may have started and not answered (`server.max_reads_in_flight`).
        var maxReadsInFlight: Int
        /// `server.slow_log_ms` in seconds; 0: off.
        var slowCallSeconds: Double

        /// From the configuration, at start and on every reload.
        init(_ s: ProxyConfig.Server) {
            maxLineBytes = s.maxLineBytes
            maxOutputBytes = s.maxOutputBytes
            maxAuthFailures = s.maxAuthFailures
            maxReadsInFlight = s.maxReadsInFlight
            slowCallSeconds = Double(s.slowLogMs) / 1000
        }
    }

    init(methods: MethodTable, services: Services, stats: ServerStats, limits: Limits, log: Logger) {
        self.methods = methods
        self.services = services
        self.stats = stats
        self.limits = limits
        self.log = log
        writesInOrder = services.storage.appliesWritesInOrder
    }

    /// Runs a request: authentication, the session's scope, then `execute`.
    /// While it runs, storage work it queues goes in the session's lane
    /// (`CallerLane`): shared workers serve the clients in turn.
    func run(_ request: RPCRequest, _ spec: MethodSpec?, session: Session, reply: @escaping Reply) {
        LoopThread.check()
        CallerLane.current = session.lane
        defer { CallerLane.current = CallerLane.unknown }
        // Before `auth`, nothing about the server is told, not even which methods exist.
        guard session.mayCall || request.method == "auth" else {
            return reply(.failure(.unauthorized("call auth with the server's token first")))
        }
        guard let spec else {
            return reply(.failure(.methodNotFound(request.method, didYouMean: Suggestion.closest(to: request.method, among: methods.names))))
        }
        // A limited scope is checked first (which may read the task named); a full one costs one comparison.
        guard !session.hasFullScope else { return execute(spec, request.params, session, reply) }
        AccessGuard.check(spec, request.params, scope: session.scope, session: session, services: services) { [self] decision in
            switch decision {
            case .run(let params): execute(spec, params, session, reply)
            case .answer(let value): reply(.success(value))
            case .refuse(let error): reply(.failure(error))
            }
        }
    }

    /// Checks the parameters and runs the handler; an error on the way is the reply.
    private func execute(_ spec: MethodSpec, _ object: JSONObject, _ session: Session, _ reply: @escaping Reply) {
        CallerLane.current = session.lane  // also when the access guard answered later
        defer { CallerLane.current = CallerLane.unknown }
        do {
            let params = try Params(object, spec: spec)
            try spec.run(Call(params: params, session: session, services: services, reply: reply))
        } catch let error as ProxyError {
            reply(.failure(error))
        } catch {
            reply(.failure(.internalError("unexpected failure in \(spec.name)")))
        }
    }

    /// A request answered (by a line or an HTTP body): counted, and logged
    /// when it failed inside the proxy, was slower than `server.slow_log_ms`,
    /// or at debug level. `sampledAt`: its precise start when its latency is
    /// sampled (0 otherwise); `startedAt`: its coarse start, always.
    func completed(_ method: Int?, name: String?, error: ProxyError?, sampledAt: UInt64, startedAt: Double,
                   session: Session, request: UInt64) {
        stats.record(method: method, errorCode: error?.code, nanoseconds: sampledAt == 0 ? nil : MonotonicClock.nanoseconds() &- sampledAt)
        let seconds = MonotonicClock.coarseSeconds() - startedAt
        let slow = limits.slowCallSeconds > 0 && seconds >= limits.slowCallSeconds
        var isInternal = false
        if case .internalError? = error { isInternal = true }
        guard slow || isInternal || log.enabled(.debug) else { return }
        let ms = String(Int((seconds * 1000).rounded()))
        let methodName = name.map { String($0.prefix(64)) } ?? "(invalid)"
        let fields: KeyValuePairs<String, String> = ["request_id": "\(session.origin.prefix { $0 != "@" }).\(request)", "method": methodName,
                                                     "ms": ms, "outcome": error.map { String($0.code) } ?? "ok", "client": session.origin]
        if isInternal {
            log.error("internal error in \(methodName): \(error!.message)", event: "internal_error", fields)
        } else if slow {
            log.warning("slow call: \(methodName) took \(ms) ms (server.slow_log_ms)", event: "slow_call", fields)
            stats.recordSlowCall(method: methodName, ms: ms, outcome: error.map { String($0.code) } ?? "ok", client: session.origin)
        } else {
            log.debug("call \(methodName)", event: "call", fields)
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
