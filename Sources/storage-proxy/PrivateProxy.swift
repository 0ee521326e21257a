import Foundation
import StorageProxyClient

/// This binary's `serve`, started for one command (bench, import-files) on a
/// socket of its own, and stopped (SIGTERM: clean, nothing lost) when done.
final class PrivateProxy {
    let socket: String
    private let process: Process

    init(arguments: [String], socket: String) async throws {
        self.socket = socket
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["serve", "--socket", socket, "--listen", ""] + arguments
        // Its log goes to a file next to the socket: shown only if it fails to start.
        let logPath = socket + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let client = ProxyClient(.unix(socket), connectTimeout: 10)  // waits for the socket to appear
        defer { client.close() }
        if (try? await client.healthCheck()) != true {
            stop()
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw RuntimeError("the proxy did not start: " + text.split(separator: "\n").suffix(3).joined(separator: "\n"))
        }
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
