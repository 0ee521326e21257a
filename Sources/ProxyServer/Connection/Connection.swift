import EventLoop
import ProxyCore
import TLS

//  One client connection.
//
//   socket ──read──▶ LineFramer ──line──▶ RPCLine.decode ──▶ waiting (FIFO, not started)
//                                                               │ pump(): a read starts when no
//                                                               │ write before it is unfinished;
//                                                               ▼ a write when nothing before it is
//                                                           inFlight (FIFO of Slots, started)
//                                                               │ slots finish in any order;
//                                                               ▼ answers leave from the head only
//   socket ◀──uv_write (once per loop turn)── out ◀── in request order
//                                                 ◀── events (EventHub), never inside a batch's [ … ]
//
//  Owns: its UVStream (closed in close()), its buffers, its Session. The
//  server (its ConnectionOwner) owns the Connection until it closes; the
//  Dispatcher runs what it reads. Loop thread only.
final class Connection: UVStreamDelegate, EventOutlet {
    /// A started request; answers leave in the order slots were created.
    /// `complete` is the handler's reply: a method reference on the slot is a
    /// closure that needs no allocation of its own. The slot keeps its
    /// connection alive while a backend still holds the reply (a client may
    /// hang up first); `close()` empties the queues, so no cycle outlives it.
    final class Slot {
        let connection: Connection
        let id: RequestID?          // what the answer carries; nil: notification, nothing is answered
        let method: Int?            // index in the method table (statistics)
        let isWrite: Bool
        let chains: Bool            // a write that may start before earlier writes answered
        let inBatch: Bool, batchFirst: Bool, batchLast: Bool
        let startedAt: UInt64       // 0: latency not sampled for this request
        let startedCoarse = MonotonicClock.coarseSeconds()  // for the slow-call log
        let request: UInt64         // its number on the connection (the request id in logs)
        let name: String?           // the method as the client named it
        var done = false
        var bytes: [UInt8] = []     // the answer, when it finished ahead of its turn

        init(connection: Connection, id: RequestID?, method: Int?, name: String?, isWrite: Bool, chains: Bool,
             inBatch: Bool, batchFirst: Bool, batchLast: Bool, sampleLatency: Bool) {
            self.connection = connection
            connection.session.requestsStarted += 1
            request = connection.session.requestsStarted
            self.name = name
            self.id = id; self.method = method; self.isWrite = isWrite; self.chains = chains
            self.inBatch = inBatch; self.batchFirst = batchFirst; self.batchLast = batchLast
            startedAt = sampleLatency ? MonotonicClock.nanoseconds() : 0
        }

        func complete(_ result: Result<any JSONWritable, ProxyError>) { connection.finish(self, result) }
    }

    private struct Queued {
        let entry: RPCEntry
        let spec: MethodSpec?      // looked up once, when the line is read
        let isWrite: Bool
        let chains: Bool
        let inBatch: Bool, batchFirst: Bool, batchLast: Bool

        init(_ entry: RPCEntry, methods: MethodTable, writesInOrder: Bool,
             inBatch: Bool = false, batchFirst: Bool = false, batchLast: Bool = false) {
            self.entry = entry
            if case .request(let r) = entry { spec = methods[r.method] } else { spec = nil }
            isWrite = spec?.ordering == .write
            // A storage write outside a transaction, on a backend that applies
            // such writes in call order: it needs no earlier write's answer.
            if writesInOrder, isWrite, spec?.transactional == true, case .request(let r) = entry {
                chains = r.params["transaction"] == nil
            } else {
                chains = false
            }
            self.inBatch = inBatch; self.batchFirst = batchFirst; self.batchLast = batchLast
        }
    }

    let stream: UVStream
    /// TLS on this connection (a TCP listener with `server.tls`): bytes pass through it both ways.
    private let tls: TLSSession?
    unowned(unsafe) let owner: ConnectionOwner  // the server outlives its connections (it runs the loop)
    private let dispatcher: Dispatcher
    let session: Session
    /// When the last complete line arrived (bytes that never end a line do not count: trickling keeps no one alive).
    private(set) var lastActivity = MonotonicClock.coarseSeconds()
    /// When the line being received began; nil between lines.
    private(set) var partialLineSince: Double?

    private var framer: LineFramer
    private var waiting = FIFO<Queued>()
    private var inFlight = FIFO<Slot>()
    private var unfinished = 0, unfinishedWrites = 0, unfinishedChained = 0
    private var pumping = false
    private var batchWroteAny = false
    /// Batches started and not yet closed with `]`: events wait in `heldEvents` meanwhile.
    private var openBatches = 0
    private var heldEvents: [UInt8] = []
    var out: [UInt8] = []
    var isDirty = false
    private var inputEnded = false
    private(set) var isClosed = false
    private var reading = false

    /// Requests read but not yet answered (queued or started) before the proxy
    /// stops reading from the client (backpressure).
    static let maxQueuedRequests = 4096

    init(stream: UVStream, owner: ConnectionOwner, dispatcher: Dispatcher, requiresAuth: Bool, number: UInt64, tls: TLSSession? = nil,
         scope: Scope = .full) {
        self.stream = stream
        self.tls = tls
        self.owner = owner
        self.dispatcher = dispatcher
        session = Session(requiresAuth: requiresAuth, maxAuthFailures: dispatcher.limits.maxAuthFailures,
                          budget: dispatcher.services.transactions, origin: "\(number)@\(stream.peerDescription)", scope: scope,
                          lane: CallerLane.of(number))
        framer = LineFramer(maxLineBytes: dispatcher.limits.maxLineBytes)
        stream.delegate = self
        session.endInput = { [unowned self] in endInput() }
        session.endConnection = { [unowned self] in
            while !waiting.isEmpty { waiting.removeFirst() }
            endInput()
        }
        session.outlet = self
    }

    var isIdle: Bool { waiting.isEmpty && inFlight.isEmpty }

    func start() { updateReading() }

    // MARK: - Input

    func stream(_ stream: UVStream, didRead bytes: UnsafeRawBufferPointer) {
        LoopThread.check()
        dispatcher.stats.bytesReceived &+= UInt64(bytes.count)
        if let tls {
            do {
                let open = try tls.receive(bytes) { framer.feed($0, handle) }
                if tls.hasOutput { tls.takeOutput().withUnsafeBytes { stream.write($0) } }  // handshake, alerts
                if !open { endInput() }
            } catch {
                owner.tlsFailed(self, error)
                return close()
            }
        } else {
            framer.feed(bytes, handle)
        }
        if framer.hasPartialLine, partialLineSince == nil { partialLineSince = MonotonicClock.coarseSeconds() }
        pump()
    }

    /// A line has been arriving for longer than `server.line_timeout`: answer
    /// why, stop reading, close once what came before is answered.
    func abandonSlowLine(after seconds: Double) {
        partialLineSince = nil
        waiting.append(queued(.invalid(id: .null, .timeout("a line took more than \(seconds) s to arrive (server.line_timeout)"))))
        endInput()
    }

    func streamDidEnd(_ stream: UVStream, error: Int32?) {
        reading = false
        if error != nil { return close() }
        framer.finish(handle)
        endInput()
    }

    /// No more requests will be read (EOF, or the server is stopping); what
    /// was received is still answered, then the connection closes.
    func endInput() {
        inputEnded = true
        if reading { stream.stopReading(); reading = false }
        pump()
        closeIfFinished()
    }

    private func handle(_ event: LineFramer.Event) {
        lastActivity = MonotonicClock.coarseSeconds()
        partialLineSince = nil
        switch event {
        case .tooLarge:
            waiting.append(queued(.invalid(id: .null, .requestTooLarge(limit: dispatcher.limits.maxLineBytes))))
        case .line(let bytes):
            switch RPCLine.decode(bytes) {
            case .single(let entry):
                waiting.append(queued(entry))
            case .batch(let entries):
                for (i, entry) in entries.enumerated() {
                    waiting.append(queued(entry, inBatch: true, batchFirst: i == 0, batchLast: i == entries.count - 1))
                }
            }
        }
    }

    private func queued(_ entry: RPCEntry, inBatch: Bool = false, batchFirst: Bool = false, batchLast: Bool = false) -> Queued {
        Queued(entry, methods: dispatcher.methods, writesInOrder: dispatcher.writesInOrder,
               inBatch: inBatch, batchFirst: batchFirst, batchLast: batchLast)
    }

    // MARK: - Dispatch

    /// A read starts when no write before it is unfinished (and fewer than
    /// `server.max_reads_in_flight` reads are); a write when
    /// nothing before it is, except that a chaining write may follow earlier
    /// chaining writes (the backend applies them in order).
    private func canStart(_ q: Queued) -> Bool {
        // At most `server.max_reads_in_flight` reads at once: a client's share of the readers is bounded.
        guard q.isWrite else { return unfinishedWrites == 0 && unfinished - unfinishedWrites < dispatcher.limits.maxReadsInFlight }
        return unfinished == 0 || (q.chains && unfinished == unfinishedChained)
    }

    /// Answers not yet sent count toward `server.max_output_bytes`: past it
    /// no further request starts (the rest of a batch included) until the
    /// client has read, so a batch's answer streams out instead of piling up.
    private var hasOutputRoom: Bool { stream.pendingWriteBytes + out.count <= dispatcher.limits.maxOutputBytes }

    private func pump() {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false; updateReading() }
        while !isClosed, hasOutputRoom, waiting.withFirst({ canStart($0) }) == true {
            start(waiting.popFirst())
        }
    }

    private func start(_ q: Queued) {
        let spec = q.spec
        let id: RequestID?, name: String?
        switch q.entry {
        case .request(let r): id = r.id; name = r.method
        case .invalid(let errorID, _): id = errorID; name = nil  // answered even without an id: with null
        }
        let slot = Slot(connection: self, id: id, method: spec?.index, name: name, isWrite: q.isWrite, chains: q.chains,
                        inBatch: q.inBatch, batchFirst: q.batchFirst, batchLast: q.batchLast,
                        sampleLatency: dispatcher.stats.shouldSampleLatency())
        inFlight.append(slot)
        if q.batchFirst { openBatches += 1 }
        unfinished += 1
        if q.isWrite { unfinishedWrites += 1 }
        if q.chains { unfinishedChained += 1 }

        switch q.entry {
        case .invalid(_, let error):
            finish(slot, .failure(error))
        case .request(let request):
            dispatcher.run(request, spec, session: session, reply: slot.complete)
        }
    }

    // MARK: - Output, in request order

    fileprivate func finish(_ slot: Slot, _ result: Result<any JSONWritable, ProxyError>) {
        LoopThread.check()
        // A reply is one-shot: a handler that answers twice is a bug, trapped in a debug build (a release build drops the second).
        guard !slot.done else { return assertionFailure("\(slot.name ?? "a request") was answered twice") }
        slot.done = true
        unfinished -= 1
        if slot.isWrite { unfinishedWrites -= 1 }
        if slot.chains { unfinishedChained -= 1 }
        let error: ProxyError?
        if case .failure(let e) = result { error = e } else { error = nil }
        dispatcher.completed(slot.method, name: slot.name, error: error, sampledAt: slot.startedAt, startedAt: slot.startedCoarse,
                             session: session, request: slot.request)
        guard !isClosed else { return }

        if let id = slot.id {  // notifications are never answered
            if inFlight.first === slot && !slot.inBatch {
                dispatcher.encode(result, id: id, into: &out)   // its turn: straight into the output
                out.append(0x0A)
                inFlight.removeFirst()
            } else {
                dispatcher.encode(result, id: id, into: &slot.bytes)
            }
        }
        flushFinishedHead()
        if !out.isEmpty { owner.markDirty(self) }
        pump()
        closeIfFinished()
    }

    /// Moves finished answers from the head of the queue to `out`, with batch brackets.
    private func flushFinishedHead() {
        while let head = inFlight.first, head.done {
            inFlight.removeFirst()
            if head.batchFirst { batchWroteAny = false }
            if head.id != nil {
                if head.inBatch {
                    out.append(batchWroteAny ? UInt8(ascii: ",") : UInt8(ascii: "["))
                    batchWroteAny = true
                }
                out.append(contentsOf: head.bytes)
                if !head.inBatch { out.append(0x0A) }
            }
            if head.batchLast && batchWroteAny {
                out.append(UInt8(ascii: "]"))
                out.append(0x0A)
            }
            if head.batchLast {
                openBatches -= 1
                if openBatches == 0 && !heldEvents.isEmpty {
                    out.append(contentsOf: heldEvents)
                    heldEvents.removeAll()
                }
            }
        }
    }

    // MARK: - Events

    /// Unsent output (answers and events) bounds what events may queue:
    /// `server.max_output_bytes`, as for answers. Past it, what is already
    /// queued goes to the socket at once rather than at the end of the loop
    /// turn: only a client that does not read loses events, not one that was
    /// sent many in one turn.
    private func hasEventRoom(for bytes: Int) -> Bool {
        func fits() -> Bool { stream.pendingWriteBytes + out.count + heldEvents.count + bytes <= dispatcher.limits.maxOutputBytes }
        if !fits() && !out.isEmpty { writeOut() }
        return fits()
    }

    func push(_ frame: EventFrame, for subscription: Subscription) -> Bool {
        // The `lagged` event goes first, and only with room for the event too:
        // one per episode of slowness, not one per dropped event.
        guard !isClosed, hasEventRoom(for: frame.byteCount + EventFrame.laggedBytes), sendLagged(subscription) else {
            subscription.drop(frame.topic)
            return false
        }
        if openBatches > 0 { frame.write(for: subscription, into: &heldEvents) } else { frame.write(for: subscription, into: &out) }
        owner.markDirty(self)
        return true
    }

    /// A subscription that dropped events tells its client how many, before
    /// anything else it sends; false while there is no room for that either.
    func sendLagged(_ subscription: Subscription) -> Bool {
        guard !isClosed, subscription.hasDropped else { return true }
        guard hasEventRoom(for: EventFrame.laggedBytes) else { return false }
        if openBatches > 0 { EventFrame.lagged(subscription, into: &heldEvents) } else { EventFrame.lagged(subscription, into: &out) }
        owner.markDirty(self)
        return true
    }

    /// Called by the server once per loop turn when `out` holds bytes.
    func writeOut() {
        isDirty = false
        guard !isClosed, !out.isEmpty else { return }
        if let tls {
            let failure = out.withUnsafeBytes { bytes -> Error? in
                do { try tls.seal(bytes); return nil } catch { return error }
            }
            if let failure {
                owner.tlsFailed(self, failure)
                return close()
            }
            tls.takeOutput().withUnsafeBytes { stream.write($0) }
        } else {
            out.withUnsafeBytes { stream.write($0) }
        }
        dispatcher.stats.bytesSent &+= UInt64(out.count)
        out.removeAll(keepingCapacity: out.capacity <= 256 * 1024)
        updateReading()
    }

    func streamDidDrain(_ stream: UVStream) {
        for subscription in session.subscriptions.values where subscription.hasDropped { _ = sendLagged(subscription) }
        pump()
        updateReading()
        closeIfFinished()
    }

    func streamDidAccept(_ stream: UVStream) {}

    /// Reads only while the client's unsent answers and queued requests stay bounded.
    private func updateReading() {
        guard !isClosed else { return }
        let shouldRead = !inputEnded && stream.pendingWriteBytes + out.count <= dispatcher.limits.maxOutputBytes
            && waiting.count + inFlight.count < Self.maxQueuedRequests
        if shouldRead && !reading {
            stream.startReading()
            reading = true
        } else if !shouldRead && reading {
            stream.stopReading()
            reading = false
        }
    }

    // MARK: - Closing

    private func closeIfFinished() {
        if inputEnded && isIdle && out.isEmpty && stream.pendingWriteBytes == 0 { close() }
    }

    /// Closes now; in-flight answers are dropped, open transactions rolled back.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        waiting = FIFO()
        inFlight = FIFO()
        stream.close()
        owner.connectionClosed(self)
    }

    /// Answers one error and closes (used when the server is full). Over TLS
    /// there is no session yet to say it in: the connection just closes.
    func reject(_ error: ProxyError) {
        if tls != nil { return close() }
        RPCResponse.writeError(id: .null, error: error, into: &out)
        out.append(0x0A)
        inputEnded = true
        writeOut()
    }
}

/// An array-backed queue with O(1) pops from the front; items are moved
/// out, not copied (no retain/release pair per pop).
struct FIFO<T> {
    private var items: [T?] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: T? { isEmpty ? nil : items[head] }

    /// Reads a field of the first item without copying the item.
    func withFirst<R>(_ body: (T) -> R) -> R? { isEmpty ? nil : body(items[head]!) }

    mutating func append(_ item: T) { items.append(item) }

    mutating func popFirst() -> T {
        let item = items[head].take()!
        advance()
        return item
    }

    mutating func removeFirst() {
        items[head] = nil
        advance()
    }

    private mutating func advance() {
        head += 1
        if head == items.count { items.removeAll(keepingCapacity: items.capacity <= 1024); head = 0 }
        else if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
    }
}
