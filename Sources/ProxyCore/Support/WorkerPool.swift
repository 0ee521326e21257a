#if canImport(Glibc)
import Glibc
#endif

/// Threads for CPU work that must not hold up the loop (vector scans,
/// schedule computations): jobs run in arrival order, each result comes back
/// on the loop through the completion queue. Started on first use (a proxy
/// nobody asks for such work spends no thread on it).
public final class WorkerPool {
    private let queue = JobQueue<() -> Void>()
    private let completions: CompletionQueue
    private let threadCount: Int
    private let name: String
    private var started = 0

    /// `name` says whose workers these are in the error when they are closing.
    public init(threads: Int, completions: CompletionQueue, name: String) {
        threadCount = max(1, threads)
        self.completions = completions
        self.name = name
    }

    /// Runs `work` on a worker; its result comes back on the loop. Loop thread.
    public func run<T>(_ work: @escaping () -> Result<T, ProxyError>, _ done: @escaping Completion<T>) {
        while started < threadCount {
            do {
                pthread_detach(try startThread { [queue] in queue.serve { $0() } })
                started += 1
            } catch {
                if started == 0 { return done(.failure(error)) }
                break
            }
        }
        let completions = self.completions
        let queued = queue.push {
            let result = work()
            completions.post { done(result) }
        }
        if !queued { done(.failure(.backendUnavailable("the \(name) is shutting down", retryAfterMs: 1000))) }
    }

    /// Workers finish what is queued, then end.
    public func close() { queue.close() }
}
