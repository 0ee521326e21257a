import ProxyCore
import StoragePorts

/// Which connection owns which open transaction, and when each was opened
/// and last used. A handle is usable only by the connection that opened it;
/// it is rolled back when that connection closes, after `timeout` idle
/// seconds, or `maxLifetime` seconds after it opened however busy it is (so
/// touching it now and then cannot hold a lock for ever).
///
/// Transactions still being opened count toward both caps (`maxOpen` in
/// all, `maxPerConnection` for one connection): each may hold a thread and
/// a database connection before its handle exists. Loop thread only.
final class TransactionRegistry {
    private struct Entry {
        let tx: TransactionID
        let owner: ObjectIdentifier
        let openedAt: Double
        var lastUsed: Double
    }

    enum Expiry: CustomStringConvertible {
        case idle(Double), lifetime(Double)
        var description: String {
            switch self {
            case .idle(let s): return "idle for more than \(s) s"
            case .lifetime(let s): return "open for more than \(s) s (server.transaction_max_lifetime)"
            }
        }
    }

    private var open: [String: Entry] = [:]
    /// Open and opening transactions per connection.
    private var held: [ObjectIdentifier: Int] = [:]
    private var opening = 0
    private let timeout: Double
    private let maxLifetime: Double
    private let maxOpen: Int
    private let maxPerConnection: Int

    init(timeout: Double, maxLifetime: Double = 300, maxOpen: Int = 256, maxPerConnection: Int = 16) {
        self.timeout = timeout
        self.maxLifetime = maxLifetime
        self.maxOpen = maxOpen
        self.maxPerConnection = maxPerConnection
    }

    var count: Int { open.count }
    var openingCount: Int { opening }

    /// Claims a place for a transaction about to be opened by `connection`.
    func reserve(for connection: Connection) throws(ProxyError) {
        let owner = ObjectIdentifier(connection)
        if open.count + opening >= maxOpen { throw .overloaded("too many open transactions (server.max_transactions: \(maxOpen))") }
        if held[owner, default: 0] >= maxPerConnection {
            throw .overloaded("too many open transactions on this connection (server.max_transactions_per_connection: \(maxPerConnection))")
        }
        held[owner, default: 0] += 1
        opening += 1
    }

    /// The opening succeeded: registers `tx` and returns its handle.
    func opened(_ tx: TransactionID, for connection: Connection) -> String {
        opening -= 1
        let now = MonotonicClock.seconds()
        open[tx.raw] = Entry(tx: tx, owner: ObjectIdentifier(connection), openedAt: now, lastUsed: now)
        return tx.raw
    }

    /// The opening failed, or its connection is gone: the place is free again.
    func abandonedOpening(for connection: Connection) {
        opening -= 1
        release(ObjectIdentifier(connection))
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
        forget(handle)
        return tx
    }

    /// Removes and returns every transaction of a closing connection.
    func removeAll(ownedBy connection: Connection) -> [TransactionID] {
        let owner = ObjectIdentifier(connection)
        let mine = open.filter { $0.value.owner == owner }
        for key in mine.keys { forget(key) }
        return mine.values.map(\.tx)
    }

    /// Removes and returns transactions idle longer than the timeout or open longer than the lifetime.
    func removeExpired() -> [(TransactionID, Expiry)] {
        let now = MonotonicClock.seconds()
        var expired: [(TransactionID, Expiry)] = []
        for (key, e) in open {
            if now - e.openedAt > maxLifetime {
                expired.append((e.tx, .lifetime(maxLifetime)))
            } else if now - e.lastUsed > timeout {
                expired.append((e.tx, .idle(timeout)))
            } else {
                continue
            }
            forget(key)
        }
        return expired
    }

    private func forget(_ handle: String) {
        guard let e = open.removeValue(forKey: handle) else { return }
        release(e.owner)
    }

    private func release(_ owner: ObjectIdentifier) {
        let n = held[owner, default: 1] - 1
        held[owner] = n > 0 ? n : nil
    }
}
