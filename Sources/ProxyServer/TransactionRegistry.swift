import StorageCore

/// Which connection owns which open transaction, and when each was last
/// used. A handle is usable only by the connection that opened it; it is
/// rolled back when that connection closes or after `timeout` idle seconds.
/// Loop thread only.
final class TransactionRegistry {
    private struct Entry {
        let tx: TransactionID
        let owner: ObjectIdentifier
        var lastUsed: Double
    }

    private var open: [String: Entry] = [:]
    private let timeout: Double
    private let maxOpen: Int

    init(timeout: Double, maxOpen: Int = 256) {
        self.timeout = timeout
        self.maxOpen = maxOpen
    }

    var count: Int { open.count }

    func checkCapacity() throws(ProxyError) {
        if open.count >= maxOpen { throw .overloaded("too many open transactions (\(maxOpen))") }
    }

    func register(_ tx: TransactionID, owner: Connection) -> String {
        open[tx.raw] = Entry(tx: tx, owner: ObjectIdentifier(owner), lastUsed: MonotonicClock.seconds())
        return tx.raw
    }

    /// The transaction behind a handle, if it is this connection's.
    func resolve(_ handle: String, for connection: Connection) throws(ProxyError) -> TransactionID {
        guard var entry = open[handle] else { throw .transactionInvalid("unknown or expired transaction") }
        guard entry.owner == ObjectIdentifier(connection) else {
            throw .transactionInvalid("the transaction belongs to another connection")
        }
        entry.lastUsed = MonotonicClock.seconds()
        open[handle] = entry
        return entry.tx
    }

    /// Resolves and forgets (commit/rollback).
    func take(_ handle: String, for connection: Connection) throws(ProxyError) -> TransactionID {
        let tx = try resolve(handle, for: connection)
        open[handle] = nil
        return tx
    }

    /// Removes and returns every transaction of a closing connection.
    func removeAll(ownedBy connection: Connection) -> [TransactionID] {
        let owner = ObjectIdentifier(connection)
        let mine = open.filter { $0.value.owner == owner }
        for key in mine.keys { open[key] = nil }
        return mine.values.map(\.tx)
    }

    /// Removes and returns transactions idle longer than the timeout.
    func removeExpired() -> [TransactionID] {
        let cutoff = MonotonicClock.seconds() - timeout
        let expired = open.filter { $0.value.lastUsed < cutoff }
        for key in expired.keys { open[key] = nil }
        return expired.values.map(\.tx)
    }
}
