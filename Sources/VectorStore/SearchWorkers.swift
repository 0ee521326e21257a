#if canImport(Glibc)
import Glibc
#endif
import ProxyCore

/// The threads that scan matrices and apply their updates, off the loop.
/// Started on first use (a proxy nobody asks for vectors spends none).
final class SearchWorkers {
    private let queue = JobQueue<() -> Void>()
    private let completions: CompletionQueue
    private let threadCount: Int
    private var started = 0

    init(threads: Int, completions: CompletionQueue) {
        threadCount = max(1, threads)
        self.completions = completions
    }

    /// Runs `work` on a worker; its result comes back on the loop. Loop thread.
    func run<T>(_ work: @escaping () -> Result<T, ProxyError>, _ done: @escaping Completion<T>) {
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
        if !queued { done(.failure(.backendUnavailable("the vector store is shutting down", retryAfterMs: 1000))) }
    }

    /// Workers finish what is queued, then end.
    func close() { queue.close() }
}
