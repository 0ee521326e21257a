#if canImport(Glibc)
import Glibc
#endif
import ProxyCore

/// One connection shared by concurrent callers: requests are written as they
/// come (pipelined) and the proxy answers in order, so a reader thread hands
/// each answer line to the oldest waiting caller.
///
///     send() ──lineOpen: enqueue + write──▶ proxy ──▶ reader thread ──▶ pending.first.resume
///                                                              └──▶ events (notifications, no id)
///
/// Sending and reading take different locks: a sender blocked on a full socket
/// never stops the reader from draining answers (which would deadlock against
/// the proxy's own backpressure).
final class PipelinedConnection: @unchecked Sendable {
    // @unchecked: `line` is used by one sender at a time (lineOpen) and by the
    // reader thread, which only reads; the rest is behind locks.
    private let line: LineClient
    /// Held while writing to `line` or closing it; false once the reader closed it.
    private let lineOpen = Locked(true)
    private let pending = Locked(Pending())
    /// Live events of this connection's subscriptions.
    let events = EventRoutes()

    private struct Pending {
        var waiting: [CheckedContinuation<JSONObject, Error>] = []
        var head = 0
        var closedBecause: String?
    }

    init(_ address: ProxyAddress, connectTimeout: Double) throws(ClientError) {
        line = try LineClient(address, timeoutSeconds: 0, connectTimeout: connectTimeout)
        try startReader()
    }

    var isClosed: Bool { pending.withLock { $0.closedBecause != nil } }

    /// Writes one request line and waits for its answer.
    func send(_ request: [UInt8]) async throws -> JSONObject {
        try await withCheckedThrowingContinuation { (answer: CheckedContinuation<JSONObject, Error>) in
            lineOpen.withLock { _ in
                let closed = pending.withLock { p -> String? in
                    if p.closedBecause == nil { p.waiting.append(answer) }
                    return p.closedBecause
                }
                if let closed { return answer.resume(throwing: ClientError(closed)) }
                do {
                    try line.send(request)
                } catch {
                    line.shutdownBoth()  // the reader sees the end and fails every waiting call
                }
            }
        }
    }

    /// Ends the connection; calls still waiting fail. Under `lineOpen`, as
    /// the reader's final close is: a shutdown never reaches a descriptor
    /// number that was closed and then reused by another connection.
    func close() { lineOpen.withLock { open in if open { line.shutdownBoth() } } }

    private func startReader() throws(ClientError) {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let c = Unmanaged<PipelinedConnection>.fromOpaque(raw!).takeRetainedValue()
            c.readAnswers()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            line.close()
            throw ClientError("no thread to read the connection with (\(String(cString: strerror(rc))))")
        }
        pthread_detach(thread)
    }

    private func readAnswers() {
        var why = "the proxy closed the connection"
        while true {
            let text: String?
            do { text = try line.readLine() } catch { why = error.description; break }
            guard let text else { break }
            if text.isEmpty { continue }
            guard case .object(let answer)? = try? JSONParser.parse(text) else { why = "not a JSON-RPC answer: \(text.prefix(200))"; break }
            if answer["method"] == "event", answer["id"] == nil, case .object(let params)? = answer["params"] {
                events.deliver(params)
                continue
            }
            let next = pending.withLock { p -> CheckedContinuation<JSONObject, Error>? in
                guard p.head < p.waiting.count else { return nil }
                defer {
                    p.head += 1
                    if p.head == p.waiting.count { p.waiting.removeAll(keepingCapacity: true); p.head = 0 }
                }
                return p.waiting[p.head]
            }
            guard let next else { why = "the proxy answered a request that was not sent"; break }
            next.resume(returning: answer)
        }
        let failing = pending.withLock { p -> ArraySlice<CheckedContinuation<JSONObject, Error>> in
            p.closedBecause = why
            defer { p.waiting = []; p.head = 0 }
            return p.waiting[p.head...]
        }
        for waiting in failing { waiting.resume(throwing: ClientError(why + "; the call may or may not have run")) }
        events.endAll()
        lineOpen.withLock { open in open = false; line.close() }  // no sender is writing; later ones see closedBecause
    }
}
