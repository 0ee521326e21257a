#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import StorageCore

/// Brings results from worker threads back to the loop thread: workers
/// append closures under a lock and wake the loop with one `uv_async_send`
/// (libuv coalesces wake-ups); the loop runs them all in order.
/// `@unchecked Sendable`: `pending` is only touched under `lock`, and the
/// async handle's `send` is libuv's one thread-safe call.
final class LoopHandoff: CompletionQueue, @unchecked Sendable {
    private let lock = Mutex<[() -> Void]>([])
    private var async: UVCallback!

    init(loop: UVLoop) {
        async = UVCallback(loop: loop, .async) { [unowned self] in self.drain() }
    }

    func post(_ work: @escaping () -> Void) {
        lock.withLock { $0.append(work) }
        async.send()
    }

    func post(all work: [() -> Void]) {
        guard !work.isEmpty else { return }
        lock.withLock { $0.append(contentsOf: work) }
        async.send()
    }

    private func drain() {
        while true {
            let batch = lock.withLock { pending -> [() -> Void] in
                let b = pending
                pending.removeAll(keepingCapacity: true)
                return b
            }
            if batch.isEmpty { return }
            for work in batch { work() }
        }
    }

    func close() { async.close() }
}
