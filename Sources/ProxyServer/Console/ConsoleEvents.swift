import ProxyCore
import StoragePorts

/// `GET /console/events?task_id=…&agent_name=…&topics=tasks,logs`: the live
/// events a line's `subscribe` would get (the same hub, filters and
/// `lagged` events), as server-sent events: the console's events feed and
/// a task's log tail. Each stream is a session of its own with one
/// subscription; what waits to be sent is bounded (`maxPendingBytes`): a
/// viewer that reads too slowly loses events and is told with a `lagged`
/// one, as a slow line subscriber is. Loop thread only.
final class ConsoleEventStream: EventOutlet {
    static let maxPendingBytes = 256 << 10

    let id: UInt64
    let session: Session
    private weak var bridge: HTTPBridge?
    private var pending: [UInt8] = []
    /// A piece is on its way: the next waits for `proceed`.
    private var inFlight = false

    init(id: UInt64, session: Session, bridge: HTTPBridge) {
        self.id = id
        self.session = session
        self.bridge = bridge
    }

    func push(_ frame: EventFrame, for subscription: Subscription) -> Bool {
        guard pending.count + frame.byteCount + EventFrame.laggedBytes <= Self.maxPendingBytes, sendLagged(subscription) else {
            subscription.drop(frame.topic)
            return false
        }
        var line: [UInt8] = []
        frame.write(for: subscription, into: &line)
        append(line)
        return true
    }

    func sendLagged(_ subscription: Subscription) -> Bool {
        guard subscription.hasDropped else { return true }
        guard pending.count + EventFrame.laggedBytes <= Self.maxPendingBytes else { return false }
        var line: [UInt8] = []
        EventFrame.lagged(subscription, into: &line)
        append(line)
        return true
    }

    /// The first piece: how long a browser waits before it reconnects.
    func hello() { sendNow(Array("retry: 2000\n\n".utf8)) }

    /// The last piece (after an error, or when the proxy stops). h2o takes no
    /// piece while one is out: then the stream is cut short instead (as
    /// `HTTPAnswer` does), and the browser reconnects after `retry`.
    func end(reason: String?) {
        defer { bridge = nil }
        if inFlight {
            bridge?.abort(id)
            return
        }
        var last = pending
        if let reason { last += Array("event: error\ndata: ".utf8) + Array(reason.utf8.filter { $0 != 10 && $0 != 13 }) + Self.end }
        pending = []
        bridge?.send(id, last, final: true)
    }

    /// The last piece went out.
    func proceed() {
        inFlight = false
        flush()
    }

    /// One JSON-RPC notification line as one `data:` field.
    private func append(_ line: [UInt8]) {
        pending.append(contentsOf: Self.data)
        pending.append(contentsOf: line.last == UInt8(ascii: "\n") ? line.dropLast() : line[...])
        pending.append(contentsOf: Self.end)
        flush()
    }

    private func flush() {
        guard !inFlight, !pending.isEmpty else { return }
        sendNow(pending)
        pending = []
    }

    private func sendNow(_ bytes: [UInt8]) {
        guard let bridge else { return }
        inFlight = true
        bridge.send(id, bytes, final: false)
    }

    private static let data = Array("event: change\ndata: ".utf8)
    private static let end = Array("\n\n".utf8)
}

/// The query of a console path (`?a=1&b=x%20y`), decoded; at most 16 pairs.
enum ConsoleQuery {
    static func parse(_ path: String) -> [String: String] {
        // A form's `+` is a space; `%2B` stays a plus (decoded after).
        func decode(_ text: Substring) -> String { String(text).replacingPlusWithSpace.removingPercentEncodingSimple }
        guard let mark = path.firstIndex(of: "?") else { return [:] }
        var out: [String: String] = [:]
        for pair in path[path.index(after: mark)...].split(separator: "&").prefix(16) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return out
    }
}

private extension String {
    var replacingPlusWithSpace: String { String(map { $0 == "+" ? " " : $0 }) }
}
