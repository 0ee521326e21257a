/// What the pool policy needs to know of a connection.
protocol PooledConnection: AnyObject {
    var isBroken: Bool { get }
    var isClosed: Bool { get }
    /// When it connected (monotonic seconds).
    var openedAt: Double { get }
    /// Statements sent on it and not yet answered.
    var queued: Int { get }
}
