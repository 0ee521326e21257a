import EventLoop
import ProxyCore
import SQLStore
import StoragePorts

/// PostgreSQL's live events for one proxy: a connection of its own that
/// `LISTEN`s to `storage_proxy_events` (filled by the triggers of schema
/// version 3) and a row in `event_listeners` that tells those triggers
/// somebody listens. The row expires unless renewed, so a proxy killed
/// while listening stops costing NOTIFYs within `rowLifetime`.
///
/// Notifications arrive in commit order and are handed on in that order: a
/// row too large for its NOTIFY is read back first, and the ones after it
/// wait for it. A lost connection is reconnected (and re-registered) with
/// back-off; what was committed meanwhile is not seen, and `onGap` says so.
/// Loop thread only.
final class PGChangeFeed {
    static let channel = "storage_proxy_events"
    /// How long a listener row lives without renewal, and how often it is renewed.
    static let rowLifetime = 60, renewEvery: UInt64 = 20_000

    /// A change's place in the order; one read back fills it later.
    private final class Slot {
        var change: Change?
        var isReady: Bool
        init(_ change: Change?, isReady: Bool) { self.change = change; self.isReady = isReady }
    }

    private let loop: UVLoop
    private let conninfo: String
    private let proxyID = Identifier.randomToken()
    private let sql = Statements.postgresql
    /// Reads a task or a log back (a payload too large for NOTIFY), through the pool.
    private let readTask: (String, @escaping Completion<TaskRecord?>) -> Void
    private let readLog: (String, @escaping Completion<LogEntry?>) -> Void

    private var sink: ChangeSink?
    private var connection: PGConnection?
    private var renewTimer: UVCallback?
    private var retryTimer: UVCallback?
    private var retryDelayMs: UInt64 = 200
    private var pending: [Slot] = []
    /// Changes committed while the listener was away are not seen: told to subscribers.
    var onGap: ((String) -> Void)?

    init(loop: UVLoop, conninfo: String, readTask: @escaping (String, @escaping Completion<TaskRecord?>) -> Void,
         readLog: @escaping (String, @escaping Completion<LogEntry?>) -> Void) {
        self.loop = loop
        self.conninfo = conninfo
        self.readTask = readTask
        self.readLog = readLog
    }

    func start(_ sink: @escaping ChangeSink, ready: @escaping Completion<Void>) {
        self.sink = sink
        listen(ready)
    }

    func stop() {
        sink = nil
        attempt += 1  // a listener still connecting is closed when it arrives
        pending = []
        renewTimer?.close(); renewTimer = nil
        retryTimer?.close(); retryTimer = nil
        guard let connection else { return }
        self.connection = nil
        connection.onNotification = nil
        connection.onBroken = nil
        // Unregistered at once, so the triggers stop notifying; then closed.
        connection.query("DELETE FROM event_listeners WHERE proxy = $1", [proxyID]) { _ in connection.close() }
    }

    // MARK: - Listening

    /// How long connecting, LISTEN and registering may take (an unreachable
    /// host must not hold a `subscribe` for the kernel's TCP timeout).
    static let readyWithinMs: UInt64 = 5_000

    /// Connects, listens and registers; `ready` gets the outcome or, after
    /// `readyWithinMs`, a failure. Only the newest attempt may install its
    /// connection: a late one (timed out, or stopped meanwhile) is closed.
    private func listen(_ ready: @escaping Completion<Void>) {
        attempt += 1
        let mine = attempt
        var answered = false
        var expire: UVCallback?
        let finish: Completion<Void> = { result in
            expire?.close()
            expire = nil  // the timer's action refers to it: the cycle ends here
            guard !answered else { return }
            answered = true
            ready(result)
        }
        expire = UVCallback(loop: loop, .timer) { [weak self] in
            self?.attempt += 1  // this attempt's connection, should it come, is not wanted
            finish(.failure(.backendUnavailable("PostgreSQL did not take the event listener within \(Self.readyWithinMs / 1000) s",
                                                retryAfterMs: 1000)))
        }
        expire?.startTimer(ms: Self.readyWithinMs)
        PGConnection.connect(loop: loop, conninfo: conninfo) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let error): finish(.failure(error))
            case .success(let c):
                guard wanted(mine) else { return c.close() }
                // Only the installed listener's notifications count (a late attempt's are dropped with it).
                c.onNotification = { [unowned self, unowned c] channel, payload in
                    if channel == Self.channel, self.connection === c { self.received(payload) }
                }
                c.query("LISTEN \(Self.channel)") { _ in }
                c.query(register, [proxyID]) { [weak self] r in
                    guard let self else { return }
                    switch r {
                    case .failure(let error):
                        c.close()
                        finish(.failure(error))
                    case .success:
                        guard wanted(mine) else { return c.close() }
                        connection = c
                        c.onBroken = { [unowned self] why in self.lost(why) }
                        keepRegistered()
                        finish(.success(()))
                    }
                }
            }
        }
    }

    private var attempt = 0
    private func wanted(_ attempt: Int) -> Bool { sink != nil && attempt == self.attempt }

    private var register: String {
        """
        INSERT INTO event_listeners (proxy, until) VALUES ($1, now() + interval '\(Self.rowLifetime) seconds')
        ON CONFLICT (proxy) DO UPDATE SET until = EXCLUDED.until
        """
    }

    private func keepRegistered() {
        let timer = renewTimer ?? UVCallback(loop: loop, .timer) { [unowned self] in
            connection?.query(register, [proxyID]) { _ in }  // a failure shows as a broken connection
        }
        renewTimer = timer
        timer.startTimer(ms: Self.renewEvery, repeatMs: Self.renewEvery)
    }

    /// The connection broke: subscribers are told they may have missed
    /// changes, and the listener comes back as soon as PostgreSQL does.
    private func lost(_ why: String) {
        connection?.close()
        connection = nil
        pending = []
        onGap?("the proxy lost its PostgreSQL listener (\(why)); changes committed until it is back are not seen")
        retryDelayMs = 200
        retry()
    }

    private func retry() {
        guard sink != nil else { return }
        let timer = retryTimer ?? UVCallback(loop: loop, .timer) { [unowned self] in
            listen { [weak self] result in
                guard let self, case .failure = result else { return }
                retryDelayMs = min(retryDelayMs * 2, 5_000)
                retry()
            }
        }
        retryTimer = timer
        timer.startTimer(ms: retryDelayMs)
    }

    // MARK: - Notifications

    private func received(_ payload: String) {
        guard case .array(let a)? = try? JSONParser.parse(payload, maxDepth: 8), a.count >= 4,
              case .string(let topic) = a[0], case .string(let opName) = a[1], let op = ChangeOperation(rawValue: opName) else { return }
        let whole = a.count > 4  // else cut to topic, operation, id and agent: the row is read back
        switch (topic, whole) {
        case ("tasks", true):
            pending.append(Slot(.task(sql.task(NotifyRow(values: a[2...])), op), isReady: true))
        case ("logs", true):
            pending.append(Slot(.log(sql.log(NotifyRow(values: a[3...])), agentName: a[2].stringValue), isReady: true))
        case ("tasks", false) where op == .deleted:
            // Gone: the event carries the id and the agent only.
            pending.append(Slot(.task(sql.task(NotifyRow(values: a[2...])), op), isReady: true))
        case ("tasks", false):
            guard let id = a[2].stringValue else { return }
            readBack { [readTask] done in readTask(id) { done($0.map { $0.map { .task($0, op) } }) } }
        case ("logs", false):
            guard let id = a[3].stringValue else { return }
            let agent = a[2].stringValue
            readBack { [readLog] done in readLog(id) { done($0.map { $0.map { .log($0, agentName: agent) } }) } }
        case ("checkpoints", _):
            // [topic, op, thread, namespace, checkpoint id, parent, metadata as text, task] (`Schema.postgresCheckpointTriggers`).
            guard let thread = a[2].stringValue, let namespace = a[3].stringValue else { return }
            func at(_ i: Int) -> String? { i < a.count ? a[i].stringValue : nil }
            let metadata = at(6).flatMap { try? JSONParser.parse($0, maxDepth: 512) }
            pending.append(Slot(.checkpoint(CheckpointChange(op, thread: thread, namespace: namespace, checkpointID: at(4),
                                                             parentID: at(5), metadata: metadata, taskID: at(7))), isReady: true))
        default:
            return
        }
        flush()
    }

    /// Holds the change's place in the order while its row is read back
    /// through the pool (its state then, which may be later than the commit).
    private func readBack(_ read: (@escaping Completion<Change?>) -> Void) {
        let slot = Slot(nil, isReady: false)
        pending.append(slot)
        read { [weak self] result in
            slot.change = (try? result.get()) ?? nil  // gone meanwhile: no event
            slot.isReady = true
            self?.flush()
        }
    }

    /// Hands on the changes at the head of the order that are ready.
    private func flush() {
        let ready = pending.prefix { $0.isReady }
        guard !ready.isEmpty else { return }
        pending.removeFirst(ready.count)
        let batch = ready.compactMap(\.change)
        if !batch.isEmpty { sink?(batch) }
    }
}
