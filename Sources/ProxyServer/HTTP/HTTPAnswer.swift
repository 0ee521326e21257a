/// Sends one `POST /` call's answer: whole (with its length) when it is done
/// by the time it is first looked at (the call says so once `pieceBytes` wait,
/// or at the end of a run of entries that answered at once, up to its
/// `maxPending`), else in pieces (chunked), each sent once
/// h2o has written the one before (`proceed`): the client's reading paces
/// the call. Nothing is left when every entry was a notification (204).
/// Loop thread only.
final class HTTPAnswer {
    /// Past this, an unfinished answer goes out without waiting for the rest.
    static let pieceBytes = 64 * 1024

    private let id: UInt64
    private let call: HTTPCall
    private unowned let bridge: HTTPBridge
    private var streaming = false
    /// A piece is out and h2o has not asked for the next.
    private var pieceOut = false
    /// The client left (or was cut off): nothing more is sent.
    private var gone = false
    private(set) var isDone = false
    /// The call ended (answered, or cut short): its session may go.
    var onDone: (_ status: Int) -> Void = { _ in }

    init(id: UInt64, call: HTTPCall, bridge: HTTPBridge) {
        self.id = id
        self.call = call
        self.bridge = bridge
        call.onOutput = { [unowned self] in pump() }
    }

    func start() { call.start() }

    /// h2o wrote the last piece.
    func proceed() {
        pieceOut = false
        pump()
    }

    /// The client left: the call starts nothing more and ends.
    func clientGone() {
        guard !isDone, !gone else { return }
        gone = true
        call.abandon()  // tells `pump` once the running entry has finished
    }

    /// The server stops: an answer waiting for its client to read is cut short.
    func stopIfWaitingForClient() {
        guard pieceOut, !isDone else { return }
        bridge.abort(id)
        clientGone()
    }

    private func pump() {
        guard !isDone else { return }
        if gone {
            if call.isFinished { end(0) }
            return
        }
        guard !pieceOut else { return }
        if call.isFinished && !streaming {
            let body = call.take()
            if body.isEmpty {
                bridge.respond(id, status: 204, contentType: "application/json", body: [])
                return end(204)
            }
            bridge.respond(id, status: 200, contentType: "application/json", body: body)
            return end(200)
        }
        guard call.isFinished || call.pending.count >= Self.pieceBytes else { return }
        if !streaming {
            guard bridge.startStream(id, status: 200, contentType: "application/json") else { return clientGone() }
            streaming = true
        }
        let final = call.isFinished
        pieceOut = !final
        bridge.send(id, call.take(), final: final)
        if final { end(200) }
    }

    private func end(_ status: Int) {
        isDone = true
        onDone(status)
    }
}
