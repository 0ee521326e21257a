#if canImport(Glibc)
import Glibc
#endif
import CLibUV
import Threading

// The one place where libuv calls back into Swift. Every handle's `data`
// holds an `Unmanaged` reference to its Swift owner, retained when the handle
// is initialised and released in its close callback; the handle's memory is
// freed there too, never earlier. Everything above this file is plain Swift.

public func uvError(_ rc: Int32) -> String { String(cString: uv_strerror(rc)) }

@inline(__always) func asHandle<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_handle_t.self)
}

/// How every handle here closes: libuv calls back once it is done with the
/// handle; then the owner's retain (taken at init) is dropped and the memory freed.
func closeHandle(_ handle: UnsafeMutablePointer<uv_handle_t>) {
    uv_close(handle) { h in
        let raw = h!.pointee.data!
        h!.pointee.data = nil
        Unmanaged<AnyObject>.fromOpaque(raw).release()
        UnsafeMutableRawPointer(h!).deallocate()
    }
}

@inline(__always) func asStream<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_stream_t.self)
}

/// A libuv loop with the one read buffer its streams share (reads are
/// consumed synchronously in the read callback, so one buffer suffices).
public final class UVLoop {
    public let raw: UnsafeMutablePointer<uv_loop_t>
    static let readBufferSize = 64 * 1024
    let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: UVLoop.readBufferSize, alignment: 16)

    /// A descriptor held in reserve (libuv keeps one the same way): given up
    /// for a moment when the process has none left, so a listener can still
    /// accept a client to tell it so.
    private var reserveDescriptor: Int32 = -1

    public init() {
        raw = .allocate(capacity: 1)
        uv_loop_init(raw)
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        reserveDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        LoopThread.mark()  // the thread that makes a loop is the one that runs it (and builds what lives on it)
    }

    /// Runs `body` with the reserve descriptor free; nil when there was none
    /// to give up (another thread took the last one while it was free).
    func withReserveDescriptor<T>(_ body: () -> T) -> T? {
        if reserveDescriptor < 0 { reserveDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        guard reserveDescriptor >= 0 else { return nil }
        Glibc.close(reserveDescriptor)
        defer { reserveDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        return body()
    }

    public func run() {
        LoopThread.mark()
        uv_run(raw, UV_RUN_DEFAULT)
    }

    /// One turn: waits for at least one event (a timer, I/O) and handles what is ready.
    public func runOnce() {
        LoopThread.mark()
        uv_run(raw, UV_RUN_ONCE)
    }

    /// One turn without waiting: handles what is ready, including the close
    /// callbacks of handles closed before (which free their Swift owners).
    public func runPending() {
        LoopThread.mark()
        uv_run(raw, UV_RUN_NOWAIT)
    }

    /// Runs `work` once, `ms` from now, on this loop (a timer that closes itself).
    /// Runs `work` on this loop in `ms`; the answer cancels it (the timer is
    /// closed: a stopping loop is not held until it would have fired).
    @discardableResult
    public func after(ms: UInt64, _ work: @escaping () -> Void) -> () -> Void {
        var timer: UVCallback?
        timer = UVCallback(loop: self, .timer) {
            timer?.close()
            timer = nil  // its action refers to it: the cycle ends here
            work()
        }
        timer?.startTimer(ms: ms)
        return {
            timer?.close()
            timer = nil
        }
    }

    deinit {
        uv_loop_close(raw)
        raw.deallocate()
        readBuffer.deallocate()
        if reserveDescriptor >= 0 { Glibc.close(reserveDescriptor) }
    }
}

// MARK: - Streams (TCP and Unix sockets alike)

public protocol UVStreamDelegate: AnyObject {
    func stream(_ stream: UVStream, didRead bytes: UnsafeRawBufferPointer)
    /// EOF (`nread == UV_EOF`) or a read error.
    func streamDidEnd(_ stream: UVStream, error: Int32?)
    func streamDidDrain(_ stream: UVStream)
    func streamDidAccept(_ stream: UVStream)
}

/// One `uv_tcp_t` or `uv_pipe_t`, as a listener or a connection.
public final class UVStream {
    public enum Kind: Sendable { case tcp, pipe }
    public let kind: Kind
    let handle: UnsafeMutablePointer<uv_stream_t>
    /// Not retained (the delegate owns the stream) and not `weak` (a weak
    /// reference would push every retain of the delegate onto the slow path).
    /// `close()` clears it, so no callback can reach a delegate that is gone.
    public unowned(unsafe) var delegate: UVStreamDelegate?
    /// Bytes handed to `uv_write` and not yet written.
    public private(set) var pendingWriteBytes = 0
    public private(set) var isClosing = false
    /// A listener's own accept loop (AcceptLoop.swift): its poll, the client
    /// accepted and not yet taken by `accept(into:)`, and what a client that
    /// can be accepted only with the reserve descriptor is told.
    var acceptPoll: UVPoll?
    var acceptedDescriptor: Int32 = -1
    public var refusal: [UInt8] = []

    private static let handleSize = max(MemoryLayout<uv_tcp_t>.size, MemoryLayout<uv_pipe_t>.size)

    public init(loop: UVLoop, kind: Kind) {
        self.kind = kind
        let mem = UnsafeMutableRawPointer.allocate(byteCount: Self.handleSize, alignment: 16)
        handle = mem.assumingMemoryBound(to: uv_stream_t.self)
        switch kind {
        case .tcp: uv_tcp_init(loop.raw, mem.assumingMemoryBound(to: uv_tcp_t.self))
        case .pipe: uv_pipe_init(loop.raw, mem.assumingMemoryBound(to: uv_pipe_t.self), 0)
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()  // released in onClose
    }

    private static func owner(_ h: UnsafeMutablePointer<uv_stream_t>?) -> UVStream {
        Unmanaged<UVStream>.fromOpaque(h!.pointee.data).takeUnretainedValue()
    }

    // Listening

    public func bindPipe(_ path: String) -> Int32 {
        uv_pipe_bind(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_pipe_t.self), path)
    }

    public func bindTCP(host: String, port: Int) -> Int32 {
        var storage = sockaddr_storage()
        return withUnsafeMutablePointer(to: &storage) { sp in
            let addr = UnsafeMutableRawPointer(sp)
            var rc = uv_ip4_addr(host, Int32(port), addr.assumingMemoryBound(to: sockaddr_in.self))
            if rc != 0 { rc = uv_ip6_addr(host, Int32(port), addr.assumingMemoryBound(to: sockaddr_in6.self)) }
            if rc != 0 { return rc }
            return uv_tcp_bind(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self),
                               addr.assumingMemoryBound(to: sockaddr.self), 0)
        }
    }

    /// The bound TCP port (useful with port 0).
    public var boundPort: Int {
        var storage = sockaddr_storage()
        var len = Int32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { sp -> Int in
            let sa = UnsafeMutableRawPointer(sp).assumingMemoryBound(to: sockaddr.self)
            guard uv_tcp_getsockname(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self), sa, &len) == 0 else { return 0 }
            let port = UnsafeMutableRawPointer(sp).assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port
            return Int(UInt16(bigEndian: port))
        }
    }

    /// Who is at the other end, for logs: `host:port` on TCP, `unix` (with the
    /// peer's uid when the kernel tells it) on a Unix socket.
    public var peerDescription: String {
        if kind == .pipe {
            guard let cred = peerCredentials else { return "unix" }
            return "unix:uid=\(cred.uid),pid=\(cred.pid)"
        }
        var storage = sockaddr_storage()
        var len = Int32(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { sp -> String in
            let sa = UnsafeMutableRawPointer(sp).assumingMemoryBound(to: sockaddr.self)
            guard uv_tcp_getpeername(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self), sa, &len) == 0 else { return "tcp" }
            var name = [CChar](repeating: 0, count: 64)
            if sp.pointee.ss_family == sa_family_t(AF_INET6) {
                let a = UnsafeMutableRawPointer(sp).assumingMemoryBound(to: sockaddr_in6.self)
                uv_ip6_name(a, &name, name.count)
                return "[\(String(cString: name))]:\(UInt16(bigEndian: a.pointee.sin6_port))"
            }
            let a = UnsafeMutableRawPointer(sp).assumingMemoryBound(to: sockaddr_in.self)
            uv_ip4_name(a, &name, name.count)
            return "\(String(cString: name)):\(UInt16(bigEndian: a.pointee.sin_port))"
        }
    }

    /// The process at the other end of a Unix socket, as the kernel tells it (SO_PEERCRED); nil on TCP.
    public var peerCredentials: (pid: Int32, uid: UInt32)? {
        guard kind == .pipe, let fd = descriptor else { return nil }
        // struct ucred (pid, uid, gid) of SO_PEERCRED (17), which Glibc's module hides behind _GNU_SOURCE.
        var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        return getsockopt(fd, SOL_SOCKET, 17, &cred, &len) == 0 ? (cred.pid, cred.uid) : nil
    }

    /// Called when a client could not be accepted (out of descriptors: it
    /// was then told `refusal`, if the reserve descriptor allowed).
    public var acceptFailed: ((Int32) -> Void)?

    /// The file descriptor libuv made at bind.
    var descriptor: Int32? {
        var fd: uv_os_fd_t = -1
        return uv_fileno(asHandle(handle), &fd) == 0 ? fd : nil
    }

    /// Takes the client the accept loop has just accepted (in `streamDidAccept`).
    public func accept(into client: UVStream) -> Bool {
        guard acceptedDescriptor >= 0 else { return false }
        let fd = acceptedDescriptor
        acceptedDescriptor = -1
        let rc = switch kind {
        case .tcp: uv_tcp_open(UnsafeMutableRawPointer(client.handle).assumingMemoryBound(to: uv_tcp_t.self), fd)
        case .pipe: uv_pipe_open(UnsafeMutableRawPointer(client.handle).assumingMemoryBound(to: uv_pipe_t.self), fd)
        }
        if rc != 0 { Glibc.close(fd) }
        return rc == 0
    }

    /// The descriptor the accept loop just accepted, for a listener whose
    /// clients another library serves (the HTTP endpoint's h2o); nil when taken.
    public func takeAcceptedDescriptor() -> Int32? {
        guard acceptedDescriptor >= 0 else { return nil }
        defer { acceptedDescriptor = -1 }
        return acceptedDescriptor
    }

    public func setNoDelay() {
        if kind == .tcp { uv_tcp_nodelay(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self), 1) }
    }

    // Reading

    public func startReading() {
        guard !isClosing else { return }
        uv_read_start(handle, { h, _, buf in
            let loop = Unmanaged<UVLoop>.fromOpaque(h!.pointee.loop.pointee.data).takeUnretainedValue()
            buf!.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(UVLoop.readBufferSize))
        }, { s, nread, buf in
            let owner = UVStream.owner(s)
            if nread > 0 {
                owner.delegate?.stream(owner, didRead: UnsafeRawBufferPointer(start: buf!.pointee.base, count: nread))
            } else if nread < 0 {
                uv_read_stop(s)
                owner.delegate?.streamDidEnd(owner, error: nread == Int(UV_EOF.rawValue) ? nil : Int32(nread))
            }
        })
    }

    public func stopReading() {
        if !isClosing { uv_read_stop(handle) }
    }

    // Writing: the request owns a copy of the bytes (one malloc for both).

    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosing, bytes.count > 0 else { return }
        let reqSize = MemoryLayout<uv_write_t>.stride
        let mem = malloc(reqSize + bytes.count)!
        let req = mem.assumingMemoryBound(to: uv_write_t.self)
        let data = mem + reqSize
        data.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        req.pointee.data = UnsafeMutableRawPointer(bitPattern: bytes.count)
        pendingWriteBytes += bytes.count
        var buf = uv_buf_init(data.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        let rc = uv_write(req, handle, &buf, 1) { req, _ in
            let owner = UVStream.owner(req!.pointee.handle)
            owner.pendingWriteBytes -= Int(bitPattern: req!.pointee.data)
            free(req)
            if owner.pendingWriteBytes == 0 { owner.delegate?.streamDidDrain(owner) }
        }
        if rc != 0 {
            pendingWriteBytes -= bytes.count
            free(mem)
        }
    }

    /// Pending writes get their callbacks (cancelled) before the close callback.
    public func close() {
        guard !isClosing else { return }
        isClosing = true
        delegate = nil
        acceptPoll?.close()  // before the handle closes the descriptor it watches
        acceptPoll = nil
        closeHandle(asHandle(handle))
    }
}

// MARK: - Timers, signals, per-turn hooks (check, prepare), cross-thread wake-ups

/// A libuv handle whose only job is to call a closure.
public final class UVCallback {
    public enum Kind: Sendable { case timer, check, prepare, async, signal(Int32) }
    private let handle: UnsafeMutablePointer<uv_handle_t>
    private let action: () -> Void
    private var closed = false

    public init(loop: UVLoop, _ kind: Kind, action: @escaping () -> Void) {
        self.action = action
        let size = max(MemoryLayout<uv_timer_t>.size, MemoryLayout<uv_check_t>.size, MemoryLayout<uv_prepare_t>.size,
                       MemoryLayout<uv_async_t>.size, MemoryLayout<uv_signal_t>.size)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        handle = mem.assumingMemoryBound(to: uv_handle_t.self)
        switch kind {
        case .timer: uv_timer_init(loop.raw, mem.assumingMemoryBound(to: uv_timer_t.self))
        case .check:
            uv_check_init(loop.raw, mem.assumingMemoryBound(to: uv_check_t.self))
        case .prepare:
            uv_prepare_init(loop.raw, mem.assumingMemoryBound(to: uv_prepare_t.self))
        case .async:
            uv_async_init(loop.raw, mem.assumingMemoryBound(to: uv_async_t.self)) { h in UVCallback.fire(asHandle(h!)) }
        case .signal:
            uv_signal_init(loop.raw, mem.assumingMemoryBound(to: uv_signal_t.self))
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()  // released in close()
        switch kind {
        case .check:
            uv_check_start(mem.assumingMemoryBound(to: uv_check_t.self)) { h in UVCallback.fire(asHandle(h!)) }
        case .prepare:
            uv_prepare_start(mem.assumingMemoryBound(to: uv_prepare_t.self)) { h in UVCallback.fire(asHandle(h!)) }
        case .signal(let signum):
            uv_signal_start(mem.assumingMemoryBound(to: uv_signal_t.self), { h, _ in UVCallback.fire(asHandle(h!)) }, signum)
        default: break
        }
    }

    private static func fire(_ h: UnsafeMutablePointer<uv_handle_t>) {
        guard let data = h.pointee.data else { return }
        Unmanaged<UVCallback>.fromOpaque(data).takeUnretainedValue().action()
    }

    /// Timers: fire after `ms`, then every `repeatMs` (0 = once).
    public func startTimer(ms: UInt64, repeatMs: UInt64 = 0) {
        uv_timer_start(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_timer_t.self),
                       { h in UVCallback.fire(asHandle(h!)) }, ms, repeatMs)
    }

    public func stopTimer() {
        uv_timer_stop(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_timer_t.self))
    }

    /// Async handles: wake the loop from any thread.
    public func send() {
        uv_async_send(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_async_t.self))
    }

    public func close() {
        guard !closed else { return }
        closed = true
        closeHandle(handle)
    }
}
