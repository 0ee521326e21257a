import ProxyCore

/// `POST /`: one JSON-RPC body (a request or a batch) through the same
/// dispatcher, session rules and answer encoding as a line, one request after
/// the other; `done` gets exactly the bytes the line protocol would write
/// (empty when every entry was a notification). A session lives for one
/// body: a transaction must begin and end inside it, or it is rolled back.
/// Loop thread only.
final class HTTPCall {
    private let dispatcher: Dispatcher
    let session: Session
    private let entries: [RPCEntry]
    private let isBatch: Bool
    private var next = 0
    private var out: [UInt8] = []
    private var answered = 0
    /// A handler may answer before `dispatcher.run` returns: the loop in
    /// `advance` then starts the next entry (no recursion through handlers).
    private var inAdvance = false
    private var awaiting = false
    private var done: (([UInt8]) -> Void)?

    init(body: [UInt8], dispatcher: Dispatcher, session: Session) {
        self.dispatcher = dispatcher
        self.session = session
        switch body.withUnsafeBufferPointer({ RPCLine.decode($0) }) {
        case .single(let entry): entries = [entry]; isBatch = false
        case .batch(let list): entries = list; isBatch = true
        }
    }

    func run(_ done: @escaping ([UInt8]) -> Void) {
        self.done = done
        advance()
    }

    private func advance() {
        inAdvance = true
        defer { inAdvance = false }
        while !awaiting, next < entries.count {
            let entry = entries[next]
            next += 1
            awaiting = true
            start(entry)
        }
        if !awaiting, let done {
            self.done = nil
            if isBatch && answered > 0 { out.append(UInt8(ascii: "]")); out.append(0x0A) }
            done(out)
        }
    }

    private func start(_ entry: RPCEntry) {
        switch entry {
        case .invalid(let id, let error):
            finish(entry: next, id: id, method: nil, name: nil, sampledAt: 0, startedAt: MonotonicClock.coarseSeconds(), .failure(error))
        case .request(let request):
            let spec = dispatcher.methods[request.method]
            let sampledAt = dispatcher.stats.shouldSampleLatency() ? MonotonicClock.nanoseconds() : 0
            let startedAt = MonotonicClock.coarseSeconds()
            let entry = next
            dispatcher.run(request, spec, session: session) { [self] result in
                finish(entry: entry, id: request.id, method: spec?.index, name: request.method, sampledAt: sampledAt, startedAt: startedAt, result)
            }
        }
    }

    private func finish(entry: Int, id: RequestID?, method: Int?, name: String?, sampledAt: UInt64, startedAt: Double,
                        _ result: Result<any JSONWritable, ProxyError>) {
        guard awaiting, entry == next else { return }  // a handler must answer once
        awaiting = false
        let error: ProxyError?
        if case .failure(let e) = result { error = e } else { error = nil }
        session.requestsStarted += 1
        dispatcher.completed(method, name: name, error: error, sampledAt: sampledAt, startedAt: startedAt,
                             session: session, request: session.requestsStarted)
        if let id {
            if isBatch { out.append(answered == 0 ? UInt8(ascii: "[") : UInt8(ascii: ",")) }
            dispatcher.encode(result, id: id, into: &out)
            if !isBatch { out.append(0x0A) }
            answered += 1
        }
        if !inAdvance { advance() }
    }
}
