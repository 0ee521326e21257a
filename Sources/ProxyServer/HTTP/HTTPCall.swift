import ProxyCore

/// `POST /`: one JSON-RPC body (a request or a batch) through the same
/// dispatcher, session rules and answer encoding as a line, one request after
/// the other: the bytes are exactly those the line protocol would write
/// (none when every entry was a notification). A session lives for one
/// body: a transaction must begin and end inside it, or it is rolled back.
///
/// The answer is produced under backpressure, as a line's is: no entry starts
/// while more than `maxPending` bytes wait to be taken (`server.max_output_bytes`),
/// so a batch whose answer is hundreds of MB streams out in pieces instead of
/// being built whole on the loop. Loop thread only.
final class HTTPCall {
    private let dispatcher: Dispatcher
    let session: Session
    private let entries: [RPCEntry]
    private let isBatch: Bool
    private let maxPending: Int
    private var next = 0
    /// Encoded answers not yet taken.
    private(set) var pending: [UInt8] = []
    private var answered = 0
    /// A handler may answer before `dispatcher.run` returns: the loop in
    /// `advance` then starts the next entry (no recursion through handlers).
    private var inAdvance = false
    private var awaiting = false
    private var abandoned = false
    /// Every entry answered, the batch's `]` included in `pending`.
    private(set) var isFinished = false
    /// `pending` grew, or the call finished.
    var onOutput: () -> Void = {}

    init(body: [UInt8], dispatcher: Dispatcher, session: Session, maxPending: Int) {
        self.dispatcher = dispatcher
        self.session = session
        self.maxPending = maxPending
        switch body.withUnsafeBufferPointer({ RPCLine.decode($0) }) {
        case .single(let entry): entries = [entry]; isBatch = false
        case .batch(let list): entries = list; isBatch = true
        }
    }

    func start() { advance() }

    /// Hands over what is pending; entries held back for room go on.
    func take() -> [UInt8] {
        defer { pending = []; advance() }
        return pending
    }

    /// The client left (or the server stops): no further entry starts; the
    /// one running finishes, then the call does.
    func abandon() {
        abandoned = true
        advance()
    }

    /// Starts entries while there is room, one at a time; tells `onOutput`
    /// when there are bytes to take or the call is finished. Re-entered from
    /// `onOutput` (a `take`), it only notes that: the loop goes on.
    private func advance() {
        guard !isFinished, !inAdvance else { return }
        inAdvance = true
        defer { inAdvance = false }
        while true {
            while !awaiting, !abandoned, next < entries.count, pending.count <= maxPending {
                let entry = entries[next]
                next += 1
                awaiting = true
                start(entry)
            }
            if !awaiting, abandoned || next == entries.count {
                if isBatch && answered > 0 { pending.append(UInt8(ascii: "]")); pending.append(0x0A) }
                isFinished = true
            }
            guard isFinished || !pending.isEmpty else { return }
            let held = pending.count
            onOutput()  // may take what is pending
            if isFinished || awaiting || abandoned || pending.count >= held || next == entries.count { return }
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
        LoopThread.check()
        // A reply is one-shot (entries run one at a time): a second answer is a handler's bug, trapped in a debug build.
        guard awaiting, entry == next else { return assertionFailure("\(name ?? "a request") was answered twice") }
        awaiting = false
        let error: ProxyError?
        if case .failure(let e) = result { error = e } else { error = nil }
        session.requestsStarted += 1
        dispatcher.completed(method, name: name, error: error, sampledAt: sampledAt, startedAt: startedAt,
                             session: session, request: session.requestsStarted)
        if let id {
            if isBatch { pending.append(answered == 0 ? UInt8(ascii: "[") : UInt8(ascii: ",")) }
            dispatcher.encode(result, id: id, into: &pending)
            if !isBatch { pending.append(0x0A) }
            answered += 1
        }
        advance()
    }
}
