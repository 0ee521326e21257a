import CLibUV

/// Watches a file descriptor owned by a C library (libpq's socket) for
/// readiness on the loop. Same ownership rule as the other handles: retained
/// from init until its close callback, memory freed there.
public final class UVPoll {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int32(UV_READABLE.rawValue))
        public static let writable = Events(rawValue: Int32(UV_WRITABLE.rawValue))
    }

    private let handle: UnsafeMutablePointer<uv_poll_t>
    /// Called with libuv's status (0, or a negative error) and the ready events.
    public var onEvent: ((Int32, Events) -> Void)?
    private var closed = false

    public init?(loop: UVLoop, fd: Int32) {
        handle = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<uv_poll_t>.size, alignment: 16)
            .assumingMemoryBound(to: uv_poll_t.self)
        guard uv_poll_init(loop.raw, handle, fd) == 0 else {
            UnsafeMutableRawPointer(handle).deallocate()
            return nil
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()  // released in close()
    }

    public func start(_ events: Events) {
        guard !closed else { return }
        uv_poll_start(handle, events.rawValue) { h, status, events in
            guard let data = h!.pointee.data else { return }
            let poll = Unmanaged<UVPoll>.fromOpaque(data).takeUnretainedValue()
            poll.onEvent?(status, Events(rawValue: events))
        }
    }

    public func stop() {
        if !closed { uv_poll_stop(handle) }
    }

    /// Stops watching; the fd itself stays open (its owner closes it, after this).
    public func close() {
        guard !closed else { return }
        closed = true
        onEvent = nil
        closeHandle(asHandle(handle))
    }
}
