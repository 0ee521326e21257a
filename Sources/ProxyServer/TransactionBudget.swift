import ProxyCore

/// The server-wide limits on transactions (`server.max_transactions`,
/// `…_per_connection`, `transaction_timeout`, `transaction_max_lifetime`),
/// and how many are open or opening. Each session owns its own
/// transactions and reports here. Loop thread only.
final class TransactionBudget {
    // Variables: SIGHUP may change them (what is open stays open).
    var maxOpen: Int
    var maxPerConnection: Int
    var idleTimeout: Double
    var maxLifetime: Double
    private(set) var open = 0
    private(set) var opening = 0

    init(maxOpen: Int, maxPerConnection: Int, idleTimeout: Double, maxLifetime: Double) {
        self.maxOpen = maxOpen
        self.maxPerConnection = maxPerConnection
        self.idleTimeout = idleTimeout
        self.maxLifetime = maxLifetime
    }

    func reserve() throws(ProxyError) {
        if open + opening >= maxOpen { throw .overloaded("too many open transactions (server.max_transactions: \(maxOpen))") }
        opening += 1
    }

    func opened() { opening -= 1; open += 1 }
    func abandoned() { opening -= 1 }
    func ended() { open -= 1 }
}
