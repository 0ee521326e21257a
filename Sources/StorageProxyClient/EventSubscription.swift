import ProxyCore

/// A connection's live events by subscription id. A stream is made by
/// whichever comes first, the event or the subscriber: the reader thread
/// can see an event before the task that asked for the subscription resumes.
final class EventRoutes: Sendable {
    private typealias Stream = (stream: AsyncStream<JSONObject?>, feed: AsyncStream<JSONObject?>.Continuation)
    private let streams = Locked<[String: Stream]>([:])

    func stream(_ id: String) -> AsyncStream<JSONObject?> {
        streams.withLock { all in
            if let s = all[id] { return s.stream }
            let (stream, feed) = AsyncStream<JSONObject?>.makeStream()
            all[id] = (stream, feed)
            return stream
        }
    }

    func deliver(_ params: JSONObject) {
        let id = params["subscription"]?.stringValue ?? ""
        _ = stream(id)
        _ = streams.withLock { $0[id]?.feed.yield(params) }
    }

    func remove(_ id: String) { streams.withLock { $0.removeValue(forKey: id)?.feed.finish() } }

    /// The connection is gone: every subscriber is told (nil), then the streams end.
    func endAll() {
        for s in streams.withLock({ all in defer { all = [:] }; return Array(all.values) }) {
            s.feed.yield(nil)
            s.feed.finish()
        }
    }
}

/// `for try await event in try await client.subscribe(topics: ["tasks"])`:
/// each event is the `params` of the proxy's `event` notification
/// (`subscription`, `topic`, `op`, `task` or `log`). An `op` of "lagged"
/// says changes were missed: the reader was too slow, or the connection was
/// lost and the subscription made again (with a `reason`); re-read what you
/// follow. `cancel()` unsubscribes.
public final class EventSubscription: AsyncSequence, @unchecked Sendable {  // its state is behind `state`
    public typealias Element = JSONObject

    private let client: ProxyClient
    private let params: JSONObject
    private struct State {
        var connection: PipelinedConnection?
        var id: String?
        var events: AsyncStream<JSONObject?>.AsyncIterator?
        var cancelled = false
    }
    private let state = Locked(State())

    init(client: ProxyClient, params: JSONObject) {
        self.client = client
        self.params = params
    }

    /// The subscription's id (a new one after a reconnect).
    public var id: String? { state.withLock { $0.id } }

    func start() async throws {
        let connection = try await client.connection()
        let answer = try await client.call("subscribe", params)
        guard let id = answer.objectValue?["subscription"]?.stringValue else { throw ClientError("subscribe answered \(answer)") }
        let events = connection.events.stream(id).makeAsyncIterator()
        state.withLock { $0.connection = connection; $0.id = id; $0.events = events }
    }

    /// The next event; nil once cancelled.
    public func next() async throws -> JSONObject? {
        guard var events = state.withLock({ $0.cancelled ? nil : $0.events }) else { return nil }
        let event = await events.next()
        state.withLock { $0.events = events }
        switch event {
        case .some(.some(let params)): return params
        case .some(.none):  // the connection was lost: subscribe again, and say so
            try await start()
            return ["subscription": .string(id ?? ""), "op": "lagged", "dropped": [:],
                    "reason": "the connection to the proxy was lost and the subscription made again"]
        case .none: return nil
        }
    }

    /// Unsubscribes (the proxy frees it at once); the iteration ends.
    public func cancel() async {
        let (connection, id) = state.withLock { s in
            defer { s.cancelled = true; s.events = nil }
            return (s.connection, s.id)
        }
        guard let connection, let id, !connection.isClosed else { return }
        _ = try? await client.call("unsubscribe", ["subscription": .string(id)])
        connection.events.remove(id)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: EventSubscription
        public mutating func next() async throws -> JSONObject? { try await subscription.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
}
