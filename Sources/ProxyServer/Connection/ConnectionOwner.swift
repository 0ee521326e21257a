/// What a connection calls back on whoever owns it (the server).
protocol ConnectionOwner: AnyObject {
    /// The connection has answers to write at the end of this loop turn.
    func markDirty(_ connection: Connection)
    /// The connection has closed; its session's transactions are to be rolled back.
    func connectionClosed(_ connection: Connection)
    /// TLS failed on the connection (a handshake the client could not finish, a broken record); it closes.
    func tlsFailed(_ connection: Connection, _ error: Error)
}
