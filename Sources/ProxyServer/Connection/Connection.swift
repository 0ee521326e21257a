import StorageCore

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
//
//  Owns: its UVStream (closed in close()), its buffers. The server owns the
//  Connection until it closes. Loop thread only.
final class Connection: UVStreamDelegate {
    /// A started request; answers leave in the order slots were created.
    final class Slot {
        let id: JSONValue?          // nil: notification, nothing is answered
        let method: Int?            // index in the method table (statistics)
        let isWrite: Bool
        let inBatch: Bool, batchFirst: Bool, batchLast: Bool
        let startedAt: UInt64
        var done = false
        var bytes: [UInt8] = []     // the answer, when it finished ahead of its turn

        init(id: JSONValue?, method: Int?, isWrite: Bool, inBatch: Bool, batchFirst: Bool, batchLast: Bool) {
            self.id = id; self.method = method; self.isWrite = isWrite
            self.inBatch = inBatch; self.batchFirst = batchFirst; self.batchLast = batchLast
            startedAt = MonotonicClock.nanoseconds()
        }
    }

    private struct Queued {
        let entry: RPCEntry
        let inBatch: Bool, batchFirst: Bool, batchLast: Bool
    }

    let stream: UVStream
    unowned(unsafe) let server: ProxyServer  // the server outlives its connections (it runs the loop)
    let requiresAuth: Bool
    var isAuthenticated = false
    private(set) var lastActivity = MonotonicClock.coarseSeconds()

    private var framer: LineFramer
    private var waiting = FIFO<Queued>()
    private var inFlight = FIFO<Slot>()
    private var unfinished = 0, unfinishedWrites = 0
    private var pumping = false
    private var batchWroteAny = false
    var out: [UInt8] = []
    var isDirty = false
    private var inputEnded = false
    private(set) var isClosed = false
    private var reading = false

    /// Requests parsed but not answered before the proxy stops reading (backpressure).
    static let maxQueuedRequests = 4096

    init(stream: UVStream, server: ProxyServer, requiresAuth: Bool) {
        self.stream = stream
        self.server = server
        self.requiresAuth = requiresAuth
        framer = LineFramer(maxLineBytes: server.config.maxLineBytes)
        stream.delegate = self
    }

    var isIdle: Bool { waiting.isEmpty && inFlight.isEmpty }

    func start() { updateReading() }

    // MARK: - Input

    func stream(_ stream: UVStream, didRead bytes: UnsafeRawBufferPointer) {
        lastActivity = MonotonicClock.coarseSeconds()
        framer.feed(bytes, handle)
        pump()
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
        switch event {
        case .tooLarge:
            waiting.append(Queued(entry: .invalid(id: .null, .requestTooLarge(limit: server.config.maxLineBytes)),
                                  inBatch: false, batchFirst: false, batchLast: false))
        case .line(let bytes):
            switch RPCLine.decode(bytes) {
            case .single(let entry):
                waiting.append(Queued(entry: entry, inBatch: false, batchFirst: false, batchLast: false))
            case .batch(let entries):
                for (i, entry) in entries.enumerated() {
                    waiting.append(Queued(entry: entry, inBatch: true, batchFirst: i == 0, batchLast: i == entries.count - 1))
                }
            }
        }
    }

    // MARK: - Dispatch

    private func pump() {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false; updateReading() }
        while !isClosed, let next = waiting.first {
            var spec: MethodSpec?
            if case .request(let r) = next.entry { spec = server.methods[r.method] }
            let isWrite = spec?.ordering == .write
            if isWrite ? unfinished > 0 : unfinishedWrites > 0 { return }
            waiting.removeFirst()
            start(next, spec: spec, isWrite: isWrite)
        }
    }

    private func start(_ q: Queued, spec: MethodSpec?, isWrite: Bool) {
        var id: JSONValue? = .null
        if case .request(let r) = q.entry { id = r.id }
        let slot = Slot(id: id, method: spec?.index, isWrite: isWrite, inBatch: q.inBatch, batchFirst: q.batchFirst, batchLast: q.batchLast)
        inFlight.append(slot)
        unfinished += 1
        if isWrite { unfinishedWrites += 1 }

        switch q.entry {
        case .invalid(let errorID, let error):
            finish(slot, id: errorID, .failure(error))
        case .request(let request):
            guard let spec else { return finish(slot, id: id, .failure(.methodNotFound(request.method))) }
            if requiresAuth && !isAuthenticated && spec.name != "auth" {
                return finish(slot, id: id, .failure(.unauthorized("call auth with the server's token first")))
            }
            do {
                let params = try Params(request.params, spec: spec)
                try spec.run(Call(params: params, connection: self, server: server) { [self] result in
                    finish(slot, id: id, result)
                })
            } catch let error as ProxyError {
                finish(slot, id: id, .failure(error))
            } catch {
                finish(slot, id: id, .failure(.internalError("unexpected failure in \(spec.name)")))
            }
        }
    }

    // MARK: - Output, in request order

    private func finish(_ slot: Slot, id: JSONValue?, _ result: Result<any JSONWritable, ProxyError>) {
        guard !slot.done else { return }  // a handler must answer once; a second answer is dropped
        slot.done = true
        unfinished -= 1
        if slot.isWrite { unfinishedWrites -= 1 }
        let failed: Bool
        if case .failure = result { failed = true } else { failed = false }
        server.stats.record(method: slot.method, nanoseconds: MonotonicClock.nanoseconds() &- slot.startedAt, failed: failed)
        guard !isClosed else { return }

        if slot.id != nil {  // notifications are never answered
            let answerID = id ?? .null
            if inFlight.first === slot && !slot.inBatch {
                encode(result, id: answerID, into: &out)   // its turn: straight into the output
                out.append(0x0A)
                inFlight.removeFirst()
            } else {
                encode(result, id: answerID, into: &slot.bytes)
            }
        }
        flushFinishedHead()
        if !out.isEmpty { server.markDirty(self) }
        pump()
        closeIfFinished()
    }

    private func encode(_ result: Result<any JSONWritable, ProxyError>, id: JSONValue, into buffer: inout [UInt8]) {
        switch result {
        case .success(let value): RPCResponse.writeResult(id: id, result: value, into: &buffer)
        case .failure(let error): RPCResponse.writeError(id: id, error: error, into: &buffer)
        }
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
        }
    }

    /// Called by the server once per loop turn when `out` holds bytes.
    func writeOut() {
        isDirty = false
        guard !isClosed, !out.isEmpty else { return }
        out.withUnsafeBytes { stream.write($0) }
        out.removeAll(keepingCapacity: out.capacity <= 256 * 1024)
        updateReading()
    }

    func streamDidDrain(_ stream: UVStream) {
        updateReading()
        closeIfFinished()
    }

    func streamDidAccept(_ stream: UVStream) {}

    /// Reads only while the client's unsent answers and queued requests stay bounded.
    private func updateReading() {
        guard !isClosed else { return }
        let shouldRead = !inputEnded && stream.pendingWriteBytes + out.count <= server.config.maxOutputBytes
            && waiting.count < Self.maxQueuedRequests
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
        stream.close()
        server.connectionClosed(self)
    }

    /// Answers one error and closes (used when the server is full).
    func reject(_ error: ProxyError) {
        RPCResponse.writeError(id: .null, error: error, into: &out)
        out.append(0x0A)
        inputEnded = true
        writeOut()
    }
}

/// An array-backed queue with O(1) pops from the front.
struct FIFO<T> {
    private var items: [T] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: T? { isEmpty ? nil : items[head] }

    mutating func append(_ item: T) { items.append(item) }

    mutating func removeFirst() {
        head += 1
        if head == items.count { items.removeAll(keepingCapacity: items.capacity <= 1024); head = 0 }
        else if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
    }
}
