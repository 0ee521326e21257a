#if canImport(Glibc)
import Glibc
#endif

/// Whose work a job is, for queues that serve many clients in turn: the
/// connection (or HTTP call) that asked. Set by the dispatcher around a
/// handler's synchronous run (loop thread); work started later, from a
/// callback, is nobody's in particular (`unknown`), a lane of its own.
public enum CallerLane {
    public typealias ID = UInt64
    /// Before everyone else: the health probe (a load balancer must not see a busy proxy as dead).
    public static let urgent: ID = 0
    public static let unknown: ID = 1
    /// The lane of the handler running now on the loop thread.
    nonisolated(unsafe) public static var current: ID = unknown

    /// A connection's or call's own lane from its number.
    public static func of(_ number: UInt64) -> ID { number &+ 2 }
}

/// A blocking queue shared by the loop thread (producer) and worker threads,
/// fair between callers: each lane is a FIFO, and workers take one job from
/// each lane that has any, in turn, the urgent lane first. One client's
/// hundred queued reads then delay another's one by at most one job per
/// worker, not a hundred. `@unchecked Sendable`: every access holds `mutex`.
public final class FairJobQueue<Job>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var lanes: [CallerLane.ID: [Job]] = [:]
    /// Lanes holding jobs, in the order they are served (the urgent one apart).
    private var turn: [CallerLane.ID] = []
    private var total = 0
    private var closed = false

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex); mutex.deallocate()
        pthread_cond_destroy(cond); cond.deallocate()
    }

    /// Queues a job in its lane; false once the queue is closed.
    @discardableResult
    public func push(_ job: Job, lane: CallerLane.ID) -> Bool {
        pthread_mutex_lock(mutex)
        guard !closed else { pthread_mutex_unlock(mutex); return false }
        if lanes[lane, default: []].isEmpty && lane != CallerLane.urgent { turn.append(lane) }
        lanes[lane, default: []].append(job)
        total += 1
        pthread_mutex_unlock(mutex)
        pthread_cond_signal(cond)  // after the unlock, as `JobQueue.push`
        return true
    }

    /// Waits for a job and takes it: the urgent lane's first, else the next
    /// lane's in turn (which then goes to the back). Nil when closed and drained.
    public func take() -> Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while total == 0 && !closed { pthread_cond_wait(cond, mutex) }
        guard total > 0 else { return nil }
        total -= 1
        if let job = lanes[CallerLane.urgent]?.first {
            lanes[CallerLane.urgent]!.removeFirst()
            if lanes[CallerLane.urgent]!.isEmpty { lanes[CallerLane.urgent] = nil }
            return job
        }
        let lane = turn.removeFirst()
        let job = lanes[lane]!.removeFirst()
        if lanes[lane]!.isEmpty { lanes[lane] = nil } else { turn.append(lane) }
        return job
    }

    public var count: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return total
    }

    /// A worker thread's whole life: runs jobs as they come until the queue is closed and drained.
    public func serve(_ run: (Job) -> Void) {
        while let job = take() { run(job) }
    }

    /// Workers finish what is queued, then `take` returns nil.
    public func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }
}
