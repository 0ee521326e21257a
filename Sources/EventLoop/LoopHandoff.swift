#if canImport(Glibc)
import Glibc
#endif
import Threading

/// Brings results from worker threads back to the loop thread: workers
/// append closures under a lock and wake the loop with one `uv_async_send`
/// (libuv coalesces wake-ups); the loop runs them all in order.
/// `@unchecked Sendable`: `state` is only touched under its mutex, and the
/// async handle is sent to only under that mutex while it is open, so a late
/// worker (a detached transaction thread at shutdown) never touches a closed handle.
public final class LoopHandoff: CompletionQueue, @unchecked Sendable {
    private struct State {
        var pending: [() -> Void] = []
        var closed = false
    }

    private let state = Locked(State())
    private var async: UVCallback!

    public init(loop: UVLoop) {
        async = UVCallback(loop: loop, .async) { [unowned self] in self.drain() }
    }

    public func post(_ work: @escaping () -> Void) {
        enqueue { $0.append(work) }
    }

    public func post(all work: [() -> Void]) {
        guard !work.isEmpty else { return }
        enqueue { $0.append(contentsOf: work) }
    }

    private func enqueue(_ add: (inout [() -> Void]) -> Void) {
        state.withLock { s in
            guard !s.closed else { return }  // the loop has stopped: nobody is left to answer
            add(&s.pending)
            async.send()
        }
    }

    private func drain() {
        while true {
            let batch = state.withLock { s -> [() -> Void] in
                let b = s.pending
                s.pending.removeAll(keepingCapacity: true)
                return b
            }
            if batch.isEmpty { return }
            for work in batch { work() }
        }
    }

    /// Loop thread: no more wake-ups after this.
    public func close() {
        state.withLock { $0.closed = true }
        async.close()
    }
}
