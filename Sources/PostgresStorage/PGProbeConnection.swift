import EventLoop
import ProxyCore

/// The health probe's own connection, outside the pool: `health_check` and
/// `/readyz` never wait behind clients' statements for a pooled connection
/// (a busy proxy is not a dead one to a load balancer). Opened on first use
/// and again after it broke: a probe while PostgreSQL is down fails at its
/// connect. One probe at a time (`HealthProbe` is single-flight). Loop thread only.
final class PGProbeConnection {
    private let loop: UVLoop
    private let conninfo: String
    private var connection: PGConnection?
    /// Told how each connect went (the pool's reachability follows the probe's).
    private let connected: (ProxyError?, _ startedAt: Double) -> Void

    init(loop: UVLoop, conninfo: String, connected: @escaping (ProxyError?, _ startedAt: Double) -> Void) {
        self.loop = loop
        self.conninfo = conninfo
        self.connected = connected
    }

    /// Whether PostgreSQL answered `SELECT 1`.
    func check(_ done: @escaping (Bool) -> Void) {
        if let connection, !connection.isBroken, !connection.isClosed { return ask(connection, done) }
        connection?.close()
        connection = nil
        let started = MonotonicClock.seconds()
        PGConnection.connect(loop: loop, conninfo: conninfo) { [self] result in
            switch result {
            case .failure(let e):
                connected(e, started)
                done(false)
            case .success(let fresh):
                connected(nil, started)
                connection = fresh
                ask(fresh, done)
            }
        }
    }

    private func ask(_ c: PGConnection, _ done: @escaping (Bool) -> Void) {
        c.query("SELECT 1") { r in done((try? r.get())?.string(0, 0) == "1") }
    }

    func close() {
        connection?.close()
        connection = nil
    }
}
