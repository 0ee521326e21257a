#if canImport(Glibc)
import Glibc
#endif

/// A blocking FIFO shared by the loop thread (producer) and worker threads.
/// `@unchecked Sendable`: every access to `jobs`/`closed` holds `mutex`.
public final class JobQueue<Job>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [Job] = []
    private var head = 0
    private var closed = false

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex); mutex.deallocate()
        pthread_cond_destroy(cond); cond.deallocate()
    }

    /// Queues a job; false once the queue is closed.
    @discardableResult
    public func push(_ job: Job) -> Bool {
        pthread_mutex_lock(mutex)
        guard !closed else { pthread_mutex_unlock(mutex); return false }
        jobs.append(job)
        pthread_mutex_unlock(mutex)
        // Signalled after the unlock: a worker woken under the lock would
        // only block on it again (two more context switches a job).
        pthread_cond_signal(cond)
        return true
    }

    /// Waits for at least one job and takes up to `max`; empty when closed and drained.
    public func take(max: Int) -> ArraySlice<Job> {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == jobs.count && !closed { pthread_cond_wait(cond, mutex) }
        let end = min(jobs.count, head + max)
        let batch = jobs[head..<end]
        head = end
        if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
        return batch
    }

    public var count: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return jobs.count - head
    }

    /// A worker thread's whole life: runs the jobs one at a time as they
    /// come, until the queue is closed and drained.
    public func serve(_ run: (Job) -> Void) {
        while true {
            let jobs = take(max: 1)
            if jobs.isEmpty { return }
            for job in jobs { run(job) }
        }
    }

    /// Workers finish what is queued, then `take` returns empty.
    public func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }
}

/// Starts a joinable OS thread running `body`. Fails (rather than traps)
/// when the system has no thread to give: the caller answers -32006 and the
/// proxy goes on.
public func startThread(_ body: @escaping () -> Void) throws(ProxyError) -> pthread_t {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var thread = pthread_t()
    let box = Unmanaged.passRetained(Box(body))
    let rc = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box.toOpaque())
    guard rc == 0 else {
        box.release()
        throw .overloaded("no thread could be started (\(String(cString: strerror(rc))))")
    }
    return thread
}
