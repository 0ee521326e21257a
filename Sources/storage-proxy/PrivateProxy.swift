import Foundation
import Spawn
import StorageProxyClient

/// This binary's `serve`, started for one command (bench, import-files) on a
/// socket of its own, and stopped (SIGTERM: clean, nothing lost) when done.
final class PrivateProxy {
    let socket: String
    private let process: ChildProcess

    /// `preload`: a library for the child's LD_PRELOAD (the bench's allocation counter).
    init(arguments: [String], socket: String, preload: String? = nil) async throws {
        self.socket = socket
        let exe = Self.executable
        // Its log goes to a file next to the socket: shown only if it fails to start.
        let logPath = socket + ".log"
        // The child takes this process's environment: set for the spawn only.
        if let preload { setenv("LD_PRELOAD", preload, 1) }
        defer { if preload != nil { unsetenv("LD_PRELOAD") } }
        process = try ChildProcess(
            exe, ["serve", "--socket", socket, "--listen", ""] + arguments, stdout: .appendTo(logPath), stderr: .appendTo(logPath))
        // Until it listens (10 s at most; sooner if it exits). The socket file
        // appears at bind, a moment before it accepts: a connect is the test.
        // (Not `for … where connect() == nil`: a `where` clause is evaluated
        // on every remaining turn, so that made hundreds of connections after
        // the first success, filled the listen queue of a proxy still starting,
        // and the next connect failed with EAGAIN.)
        for _ in 0..<1000 {
            guard process.isRunning, (try? LineClient(.unix(socket), connectTimeout: 1)) == nil else { break }
            usleep(10_000)
        }
        let client = ProxyClient(.unix(socket))
        defer { client.close() }
        var failure = "health_check answered false"
        do {
            if try await client.healthCheck() { return }
        } catch {
            failure = "\(error)"
        }
        stop()
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw RuntimeError("the proxy did not start (\(failure)): " + text.split(separator: "\n").suffix(3).joined(separator: "\n"))
    }

    /// This binary.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func stop() {
        guard process.isRunning else { return }
        process.send(SIGTERM)
        process.wait()
    }

    deinit { stop() }
}
