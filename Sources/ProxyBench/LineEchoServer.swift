import EventLoop
import ProxyCore
#if canImport(Glibc)
import Glibc
#endif
import Foundation  // Thread: the echo runs its own loop beside the bench

/// A bare libuv line-echo over a Unix socket: the baseline the benchmark
/// divides by. It frames lines as the proxy does and writes each read's
/// complete lines back in one write (the proxy coalesces its answers the
/// same way): the cost of the loop and the socket, without JSON or storage.
public final class LineEchoServer {
    private final class Echo: UVStreamDelegate {
        let loop: UVLoop
        var clients: [ObjectIdentifier: UVStream] = [:]
        init(loop: UVLoop) { self.loop = loop }

        func streamDidAccept(_ listener: UVStream) {
            let client = UVStream(loop: loop, kind: listener.kind)
            guard listener.accept(into: client) else { return client.close() }
            client.delegate = self
            clients[ObjectIdentifier(client)] = client
            client.startReading()
        }
        var framers: [ObjectIdentifier: LineFramer] = [:]
        var out: [UInt8] = []

        func stream(_ stream: UVStream, didRead bytes: UnsafeRawBufferPointer) {
            var framer = framers[ObjectIdentifier(stream)] ?? LineFramer(maxLineBytes: 1 << 20)
            framer.feed(bytes) { event in
                if case .line(let line) = event {
                    out.append(contentsOf: line)
                    out.append(0x0A)
                }
            }
            framers[ObjectIdentifier(stream)] = framer
            out.withUnsafeBytes { stream.write($0) }
            out.removeAll(keepingCapacity: true)
        }
        func streamDidEnd(_ stream: UVStream, error: Int32?) {
            clients[ObjectIdentifier(stream)] = nil
            framers[ObjectIdentifier(stream)] = nil
            stream.close()
        }
        func streamDidDrain(_ stream: UVStream) {}
    }

    /// Starts serving on `path` on a thread of its own; runs until the process exits.
    public static func start(path: String) throws(BenchError) {
        unlink(path)
        final class Outcome: @unchecked Sendable {  // written before `started.signal()`, read after `wait()`
            var listening = false
        }
        let outcome = Outcome()
        let started = DispatchSemaphore(value: 0)
        let thread = Thread {
            let loop = UVLoop()
            let echo = Echo(loop: loop)
            let listener = UVStream(loop: loop, kind: .pipe)
            listener.delegate = echo
            var rc = listener.bindPipe(path)
            if rc == 0 { rc = listener.listen() }
            outcome.listening = rc == 0
            started.signal()
            if rc == 0 { withExtendedLifetime(echo) { loop.run() } }
        }
        thread.start()
        started.wait()
        if !outcome.listening { throw BenchError("echo server cannot listen on \(path)") }
    }
}
