import EventLoop
import ProxyCore

/// `GET /console/live`: `server.status` once a second as server-sent events,
/// to at most `maxViewers` viewers (`server.console_max_viewers`, shared with
/// the events streams: `ConsoleRoutes` keeps to it). A viewer
/// whose last update is still on its way skips updates instead of queueing
/// them, so each costs the proxy one update in flight at most; the report is
/// built once a tick for all of them, and the timer runs only while someone
/// watches (nobody watching: no cost at all). Loop thread only.
final class ConsoleLive {
    static let interval: UInt64 = 1000

    private let loop: UVLoop
    private let status: () -> JSONValue
    var maxViewers: Int
    var bridge: HTTPBridge?
    /// Request id → whether its last update went out (the next may be sent).
    private var viewers: [UInt64: Bool] = [:]
    private var cancelTick: (() -> Void)?

    var count: Int { viewers.count }

    init(loop: UVLoop, maxViewers: Int, status: @escaping () -> JSONValue) {
        self.loop = loop
        self.maxViewers = maxViewers
        self.status = status
    }

    /// Starts the stream of request `id` (the caller keeps within `maxViewers`).
    func add(_ id: UInt64, headers: [(String, String)]) {
        guard let bridge, bridge.startStream(id, status: 200, contentType: "text/event-stream; charset=utf-8", headers: headers) else { return }
        viewers[id] = false
        bridge.send(id, Array("retry: 2000\n\n".utf8) + Self.event(status()), final: false)
        if cancelTick == nil { schedule() }
    }

    /// Its last update is out: the next tick sends it one.
    func proceed(_ id: UInt64) { if viewers[id] != nil { viewers[id] = true } }

    /// Its client left (or the proxy ended the stream).
    func gone(_ id: UInt64) {
        viewers[id] = nil
        if viewers.isEmpty { cancelTick?(); cancelTick = nil }
    }

    /// Every stream ends (the proxy stops).
    func endAll() {
        // A viewer whose last update is still out is cut short: h2o takes no piece before `proceed`.
        for (id, ready) in viewers { if ready { bridge?.send(id, [], final: true) } else { bridge?.abort(id) } }
        viewers = [:]
        cancelTick?()
        cancelTick = nil
    }

    private func schedule() {
        cancelTick = loop.after(ms: Self.interval) { [weak self] in self?.tick() }
    }

    private func tick() {
        cancelTick = nil
        let ready = viewers.filter(\.value).map(\.key)
        if !ready.isEmpty {
            let update = Self.event(status())
            for id in ready {
                viewers[id] = false
                bridge?.send(id, update, final: false)
            }
        }
        if !viewers.isEmpty { schedule() }
    }

    private static func event(_ report: JSONValue) -> [UInt8] {
        Array("event: status\ndata: ".utf8) + Array(report.jsonText.utf8) + Array("\n\n".utf8)
    }
}
