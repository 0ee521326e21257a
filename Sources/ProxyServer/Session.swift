import ProxyCore
import StoragePorts

/// One connection as the methods see it: whether it has authenticated, and
/// the transactions it opened. The session is a transaction's one owner: the
/// handle a client holds is a token made here, mapped to the backend's id
/// only in `transactions`, so no other connection can name it. When the
/// connection closes, the session hands every transaction back for rollback,
/// and one that finishes opening after that is rolled back at once.
/// Loop thread only.
final class Session {
    private struct Open {
        let tx: TransactionID
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

    let requiresAuth: Bool
    /// Who this is, for logs: the connection's number and peer (`17@127.0.0.1:51234`, `h5@127.0.0.1` over HTTP).
    let origin: String
    /// Requests started on it: with the connection's number, a request id for logs.
    var requestsStarted: UInt64 = 0
    private(set) var isAuthenticated = false
    /// What it may touch: set by `auth` (or at accept, for a mapped Unix peer).
    private(set) var scope = Scope.full { didSet { hasFullScope = scope.isFull } }
    /// Read per request: a flag, not a copy of the scope.
    private(set) var hasFullScope = true
    private var authFailures = 0
    private let maxAuthFailures: Int
    /// The connection stops reading (and closes once answered): set by it.
    var endInput: () -> Void = {}
    /// The same, and requests read but not started are dropped unanswered:
    /// what a client pipelined behind a last wrong token never runs.
    var endConnection: () -> Void = {}
    private(set) var isClosed = false

    /// Live events: this connection's subscriptions (kept by `EventHub`), and where their events go.
    var subscriptions: [String: Subscription] = [:]
    weak var outlet: EventOutlet?

    private var transactions: [String: Open] = [:]
    private var opening = 0
    private let budget: TransactionBudget

    /// Its lane on queues shared by every client (the SQLite readers).
    let lane: CallerLane.ID

    init(requiresAuth: Bool, maxAuthFailures: Int, budget: TransactionBudget, origin: String, scope: Scope = .full,
         lane: CallerLane.ID = CallerLane.unknown) {
        self.lane = lane
        self.requiresAuth = requiresAuth
        self.scope = scope
        hasFullScope = scope.isFull
        self.origin = origin
        self.maxAuthFailures = maxAuthFailures
        self.budget = budget
    }

    // MARK: - Authentication

    /// Before `auth`, a connection that needs it may call nothing else.
    var mayCall: Bool { !requiresAuth || isAuthenticated }

    func authenticated(_ scope: Scope) {
        isAuthenticated = true
        self.scope = scope
    }

    /// A wrong token; at `server.max_auth_failures` the connection closes
    /// once this answer is out, whatever the client queued behind it (a
    /// right token included). Returns whether it will close.
    func authFailed() -> Bool {
        authFailures += 1
        guard authFailures >= maxAuthFailures else { return false }
        endConnection()
        return true
    }

    // MARK: - Transactions

    /// Claims a place for a transaction about to open: it counts toward both
    /// caps before its handle exists (it may already hold a thread and a
    /// database connection).
    func reserveTransaction() throws(ProxyError) {
        if transactions.count + opening >= budget.maxPerConnection {
            throw .overloaded("too many open transactions on this connection "
                              + "(server.max_transactions_per_connection: \(budget.maxPerConnection))")
        }
        try budget.reserve()
        opening += 1
    }

    /// The backend opened it: returns the handle the client gets. Nil when
    /// the connection closed meanwhile (the caller rolls it back).
    func transactionOpened(_ tx: TransactionID) -> String? {
        opening -= 1
        guard !isClosed else { budget.abandoned(); return nil }
        budget.opened()
        let handle = Identifier.randomToken()
        let now = MonotonicClock.seconds()
        transactions[handle] = Open(tx: tx, openedAt: now, lastUsed: now)
        return handle
    }

    /// The backend could not open it: its place is free again.
    func transactionFailedToOpen() {
        opening -= 1
        budget.abandoned()
    }

    /// The transaction a handle names, if this connection opened it.
    func transaction(_ handle: String) throws(ProxyError) -> TransactionID {
        guard var open = transactions[handle] else {
            throw .transactionInvalid("unknown or expired transaction (a handle works only on the connection that opened it)")
        }
        open.lastUsed = MonotonicClock.seconds()
        transactions[handle] = open
        return open.tx
    }

    /// The transaction a handle names, forgotten (commit, rollback).
    func endTransaction(_ handle: String) throws(ProxyError) -> TransactionID {
        let tx = try transaction(handle)
        forget(handle)
        return tx
    }

    /// Idle longer than the budget's timeout, or open longer than its lifetime: forgotten and returned.
    func expiredTransactions(now: Double) -> [(TransactionID, Expiry)] {
        var expired: [(TransactionID, Expiry)] = []
        for (handle, open) in transactions {
            if now - open.openedAt > budget.maxLifetime {
                expired.append((open.tx, .lifetime(budget.maxLifetime)))
            } else if now - open.lastUsed > budget.idleTimeout {
                expired.append((open.tx, .idle(budget.idleTimeout)))
            } else {
                continue
            }
            forget(handle)
        }
        return expired
    }

    /// The connection closed: every open transaction, to be rolled back.
    func close() -> [TransactionID] {
        isClosed = true
        let all = transactions.values.map(\.tx)
        for handle in Array(transactions.keys) { forget(handle) }
        return all
    }

    private func forget(_ handle: String) {
        if transactions.removeValue(forKey: handle) != nil { budget.ended() }
    }
}
