#if canImport(Glibc)
import Glibc
#endif
import CLibUV

/// A listener's accept loop, in place of libuv's. Out of descriptors, libuv
/// frees its reserve descriptor, accepts every waiting client and closes
/// each without a word, and tells nobody. Here the reserve is given up for
/// one client at a time, which is told `refusal` (the proxy's -32006 line)
/// before it is closed, and `acceptFailed` is called so the server can
/// count and log it.
extension UVStream {
    public func listen(backlog: Int32 = 511) -> Int32 {
        guard let fd = descriptor else { return Int32(UV_EBADF.rawValue) }
        guard Glibc.listen(fd, backlog) == 0 else { return -errno }
        let loop = Unmanaged<UVLoop>.fromOpaque(handle.pointee.loop.pointee.data).takeUnretainedValue()
        guard let poll = UVPoll(loop: loop, fd: fd) else { return Int32(UV_EINVAL.rawValue) }
        poll.onEvent = { [unowned self] _, _ in acceptWaiting(on: fd, loop: loop) }
        poll.start(.readable)
        acceptPoll = poll
        return 0
    }

    private func acceptWaiting(on fd: Int32, loop: UVLoop) {
        while !isClosing {
            let client = acceptNonBlocking(fd)
            if client >= 0 {
                acceptedDescriptor = client
                delegate?.streamDidAccept(self)
                if acceptedDescriptor >= 0 { Glibc.close(acceptedDescriptor); acceptedDescriptor = -1 }  // not taken
                continue
            }
            let error = errno
            switch error {
            case EAGAIN, EWOULDBLOCK: return
            case EINTR, ECONNABORTED: continue
            case EMFILE, ENFILE:
                acceptFailed?(-error)
                if loop.withReserveDescriptor({ refuseOne(on: fd) }) != true { return pauseAccepting(loop) }
            default:
                acceptFailed?(-error)
                return pauseAccepting(loop)
            }
        }
    }

    /// accept(2), the client made non-blocking and close-on-exec (accept4
    /// would do both at once, but Swift's Glibc module does not declare it).
    private func acceptNonBlocking(_ fd: Int32) -> Int32 {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { return client }
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        return client
    }

    /// Accepts one client with the reserve descriptor, tells it `refusal`
    /// and closes it; false when none could be accepted.
    private func refuseOne(on fd: Int32) -> Bool {
        let client = acceptNonBlocking(fd)
        guard client >= 0 else { return false }
        refusal.withUnsafeBytes { _ = send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Reading what it sent first keeps a TCP close from turning into a
        // reset that could discard the line before the client reads it.
        shutdown(client, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 4096)
        _ = recv(client, &sink, sink.count, Int32(MSG_DONTWAIT))
        Glibc.close(client)
        return true
    }

    /// The socket stays readable while clients wait; with no descriptor to
    /// take them, watching it would spin. Look again in 100 ms.
    private func pauseAccepting(_ loop: UVLoop) {
        guard let poll = acceptPoll else { return }
        poll.stop()
        var timer: UVCallback?
        timer = UVCallback(loop: loop, .timer) { [weak self] in
            timer?.close()
            timer = nil
            guard let self, !self.isClosing else { return }
            self.acceptPoll?.start(.readable)
        }
        timer?.startTimer(ms: 100, repeatMs: 0)
    }
}
