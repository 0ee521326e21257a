/// What a connection calls back on whoever owns it (the server).
protocol ConnectionOwner: AnyObject {
    /// The connection has answers to write at the end of this loop turn.
    func markDirty(_ connection: Connection)
    /// The connection has closed; its session's transactions are to be rolled back.
    func connectionClosed(_ connection: Connection)
}
