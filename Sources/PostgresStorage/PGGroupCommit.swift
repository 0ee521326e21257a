import EventLoop
import ProxyCore
import SQLStore

/// Group commit: the one-statement writes of every client outside a
/// transaction share commits, as SQLite's writer thread does. Each commit
/// waits for a WAL flush (`fsync=on`); done one write at a time that flush
/// is the bound (pgbench: ~11k single-row commits/s here at 64 clients).
///
///     submit ─▶ queue ─▶ a group starts when fewer than `commit_groups` run:
///                        BEGIN; w1; w2; …; wn; COMMIT   (one pipeline, one round trip)
///                        ─▶ every write answered after COMMIT returned
///
/// Adaptive: with nothing committing, a write leaves at once in a group of
/// its own (no added latency at low load); what arrives while a group
/// commits waits for it and goes in the next one together (up to
/// `max_group_writes`). One group at a time makes the biggest groups (the
/// fewest WAL flushes: +20–40% `save_log` here over two at a time); but a
/// group that has been committing for `overlapAfter` (10 ms, several times a
/// normal group's time) is slow, and the next one starts beside it, up to
/// `commit_groups`: a slow statement holds up only the writes of its own
/// group, and the others for at most those 10 ms. A write that
/// waits for a row lock longer than `group_lock_wait_ms` (a client
/// transaction holds the row) leaves its group and waits on a connection of
/// its own, as it would without group commit.
///
/// One failure stays with its call: a statement that fails aborts its
/// group's transaction, so that write is answered with its error and the
/// others go back to the head of the queue to commit without it (each
/// failure costs its group one re-run; nothing acknowledged was rolled back:
/// nothing is acknowledged before COMMIT). The writes of one group come from
/// different client connections (a connection has one write in flight), so
/// their order inside the group is free: they run sorted by the row they lock
/// (`LockKey`), which keeps two groups from deadlocking on each other's rows.
/// Loop thread only.
final class PGGroupCommit {
    /// Where a write takes its row lock (`SQLStore.RowLock`); groups lock in this order.
    typealias LockKey = RowLock

    private struct Write {
        let sql: String
        let values: [SQLValue]
        let key: LockKey
        /// The same statement for many rows (one array parameter per parameter of `sql`), when the
        /// write's answer does not depend on its own result; cleared after a failure, to find whose it was.
        var manyRows: String?
        let done: PGConnection.QueryDone
    }

    /// One statement of a group: a write's, or several writes' rows in one.
    private struct Statement {
        let sql: String
        let values: [SQLValue]
        let writes: [Int]
    }

    private let pool: PGPool
    private let loop: UVLoop
    /// A group committing for longer than this lets the next one start beside it.
    static let overlapAfter = 0.010
    /// When the latest group started (monotonic seconds), and the timer that
    /// looks again once it has been running for `overlapAfter`.
    private var newestStart = 0.0
    private var overlapTimer: UVCallback?
    /// The `newestStart` the timer is armed for (nil: stopped): re-armed only when that moves, not per write.
    private var overlapArmedFor: Double?
    private let concurrentGroups: Int
    private let maxGroupWrites: Int
    private var queue: [Write] = []
    private var queueHead = 0
    private var running = 0

    /// For `server.status` and `/metrics`.
    private(set) var commits = 0, writesCommitted = 0, reruns = 0, largestGroup = 0

    /// `SET LOCAL lock_timeout` of every group.
    private let lockWait: String

    init(loop: UVLoop, pool: PGPool, concurrentGroups: Int, maxGroupWrites: Int, lockWaitMs: Int) {
        self.loop = loop
        self.pool = pool
        self.concurrentGroups = max(1, concurrentGroups)
        self.maxGroupWrites = max(1, maxGroupWrites)
        lockWait = "SET LOCAL lock_timeout = \(max(1, lockWaitMs))"
    }

    var queued: Int { queue.count - queueHead }

    /// Runs `sql` in the next group; `done` runs once its group committed (or
    /// with its own error). `manyRows`: see `Write`; such writes of a group
    /// are inserted by one statement (one plan, one trigger call, not n).
    func submit(_ sql: String, _ values: [SQLValue], key: LockKey, manyRows: String? = nil, _ done: @escaping PGConnection.QueryDone) {
        queue.append(Write(sql: sql, values: values, key: key, manyRows: manyRows, done: done))
        startGroups()
    }

    /// None runs; or every running one is slow (the latest started `overlapAfter` ago) and there is room.
    private func mayStartGroup(now: Double) -> Bool {
        running == 0 || (running < concurrentGroups && now - newestStart >= Self.overlapAfter)
    }

    private func startGroups() {
        let now = MonotonicClock.seconds()
        defer { watchForSlowGroups(now: now) }
        while queued > 0, mayStartGroup(now: now) {
            newestStart = now
            let end = min(queue.count, queueHead + maxGroupWrites)
            let group = Array(queue[queueHead..<end])
            queueHead = end
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            } else if queueHead >= 1024 {  // under steady load the queue never empties: drop what was taken
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            running += 1
            pool.acquire { [self] lease in
                switch lease {
                case .success(let connection): run(group, on: connection)
                case .failure(let error):
                    running -= 1
                    for w in group { w.done(.failure(error)) }
                    startGroups()
                }
            }
        }
    }

    /// While writes wait behind running groups with room for more, look again
    /// when the latest has been running for `overlapAfter`.
    private func watchForSlowGroups(now: Double) {
        guard queued > 0, running > 0, running < concurrentGroups else {
            if overlapArmedFor != nil { overlapTimer?.stopTimer(); overlapArmedFor = nil }
            return
        }
        guard overlapArmedFor != newestStart else { return }
        if overlapTimer == nil {
            overlapTimer = UVCallback(loop: loop, .timer) { [unowned self] in
                overlapArmedFor = nil
                startGroups()
            }
        }
        let wait = max(0, newestStart + Self.overlapAfter - now)
        overlapTimer?.startTimer(ms: UInt64((wait * 1000).rounded(.up)) + 1)
        overlapArmedFor = newestStart
    }

    /// Stops the timer (the storage is closing).
    func close() {
        overlapTimer?.close()
        overlapTimer = nil
    }

    /// A group of one is a transaction too (BEGIN, SET LOCAL, w, COMMIT: one
    /// round trip all the same), so that its lock waits are bounded as well.
    private func run(_ group: [Write], on connection: PGConnection) {
        let ordered = group.sorted { $0.key < $1.key }
        let statements = Self.statements(ordered)
        var results = [Result<PGResult, ProxyError>?](repeating: nil, count: statements.count)
        connection.query("BEGIN") { _ in }  // a failure shows in every statement after it
        connection.query(lockWait) { _ in }
        for (i, s) in statements.enumerated() {
            connection.query(s.sql, s.values) { results[i] = $0 }
        }
        connection.query("COMMIT") { [self] committed in
            settle(ordered, statements, results.map { $0 ?? .failure(.internalError("PostgreSQL returned no result")) }, committed,
                   connection)
        }
    }

    /// The group's statements: each write's own, in lock order, then one per
    /// many-rows form for the writes that have one (taking no lock that
    /// waits: new rows and key-share locks of foreign keys).
    private static func statements(_ ordered: [Write]) -> [Statement] {
        var single: [Statement] = []
        var many: [String: [Int]] = [:]
        var manyOrder: [String] = []
        for (i, w) in ordered.enumerated() {
            guard let form = w.manyRows else { single.append(Statement(sql: w.sql, values: w.values, writes: [i])); continue }
            if many[form] == nil { manyOrder.append(form) }
            many[form, default: []].append(i)
        }
        for form in manyOrder {
            let members = many[form]!
            if members.count == 1 {
                let w = ordered[members[0]]
                single.append(Statement(sql: w.sql, values: w.values, writes: members))
                continue
            }
            let columns = ordered[members[0]].values.count
            let arrays = (0..<columns).map { c in PGArrayLiteral.text(members.lazy.map { ordered[$0].values[c] }) }
            single.append(Statement(sql: form, values: arrays, writes: members))
        }
        return single
    }

    /// COMMIT answered: every write succeeded and is answered; or the group
    /// rolled back and the first failure is answered (the rest run again);
    /// when that failure was a statement of many rows, they run again each
    /// with its own statement, to find whose row failed.
    private func settle(_ group: [Write], _ statements: [Statement], _ results: [Result<PGResult, ProxyError>],
                        _ committed: Result<PGResult, ProxyError>, _ connection: PGConnection) {
        let broken = connection.isBroken  // before the pool sees it
        running -= 1
        pool.release(connection)
        // The next group starts before this one is answered: PostgreSQL works while the loop answers.
        var answers: [(PGConnection.QueryDone, Result<PGResult, ProxyError>)] = []
        defer { for (done, result) in answers { done(result) } }
        defer { startGroups() }
        let failed = results.firstIndex { if case .failure = $0 { return true } else { return false } }
        switch (failed, committed) {
        case (nil, .success):
            counted(group.count)
            for (s, r) in zip(statements, results) {
                for i in s.writes { answers.append((group[i].done, r)) }
            }
        case _ where broken:
            // Whether COMMIT reached the server is unknown, as for any write whose
            // connection breaks: the retryable error (-32003) says so.
            let why: ProxyError
            if case .failure(let e) = committed { why = e } else { why = .backendUnavailable("PostgreSQL connection lost", retryAfterMs: 500) }
            answers = group.map { ($0.done, .failure(why)) }
        case (let k?, _):
            // Statement k aborted the transaction (COMMIT answered ROLLBACK). The
            // rest runs again without it. Its error is its own, unless it waited
            // for a row lock (a client transaction holds it) past
            // `group_lock_wait_ms`: then it waits alone, as it would without group
            // commit. A many-rows statement's rows run again one statement each
            // first, to find whose row it was.
            reruns += 1
            let culprits = Set(statements[k].writes)
            guard culprits.count == 1, let culprit = culprits.first else {
                requeueSeparately(group, culprits)
                break
            }
            requeueFirst(group.indices.filter { $0 != culprit }.map { group[$0] })
            if case .failure(.timeout) = results[k] {
                submitAlone(group[culprit])
            } else {
                answers = [(group[culprit].done, results[k])]
            }
        case (nil, .failure):
            // COMMIT itself failed (a deferred check): nothing committed; each runs again alone.
            reruns += 1
            for w in group { submitAlone(w) }
        }
    }

    /// The whole group back at the head of the queue, the rows of `culprits`
    /// (a many-rows statement) each with its own statement next time.
    private func requeueSeparately(_ group: [Write], _ culprits: Set<Int>) {
        requeueFirst(group.indices.map { i in
            var w = group[i]
            if culprits.contains(i) { w.manyRows = nil }
            return w
        })
    }

    /// Back at the head of the queue, in their order.
    private func requeueFirst(_ writes: [Write]) {
        guard !writes.isEmpty else { return }
        queue.replaceSubrange(queueHead..<queueHead, with: writes)
    }

    /// A write that must not share its commit again (its group's COMMIT
    /// failed, or it waited for a lock): on a connection of its own, outside
    /// the groups' count, without the group's lock wait.
    private func submitAlone(_ w: Write) {
        pool.acquire { lease in
            switch lease {
            case .failure(let error): w.done(.failure(error))
            case .success(let connection):
                connection.query(w.sql, w.values) { [self] result in
                    pool.release(connection)
                    w.done(result)
                }
            }
        }
    }

    private func counted(_ writes: Int) {
        commits += 1
        writesCommitted += writes
        largestGroup = max(largestGroup, writes)
    }

    var figures: JSONValue {
        ["commits": .int(Int64(commits)), "writes_committed": .int(Int64(writesCommitted)), "reruns": .int(Int64(reruns)),
         "largest_group": .int(Int64(largestGroup)), "queued": .int(Int64(queued)), "committing": .int(Int64(running))]
    }
}
