#if canImport(Glibc)
import Glibc
#endif

/// A program started with `posix_spawn` and reaped with `waitpid`.
///
/// Not Foundation's `Process`: that one attaches a CFRunLoop to the thread
/// that starts or waits for it (freed by a thread-exit destructor that
/// crashed ThreadSanitizer), keeps a run-loop source per child that
/// LeakSanitizer reports, with the child's arguments and handles, as leaked
/// (CI, 2026-11-30), and waits for a child's descendants when they hold its
/// pipes. Here a child is a pid: nothing runs on the caller's behalf, and
/// waiting is one `waitpid`.
///
/// The child gets this process's environment, an empty signal mask and
/// default signal dispositions (a test runner or a server may have blocked
/// SIGTERM; the child must still stop when asked), and no descriptor but its
/// standard three: one inherited by accident (a client socket of the parent,
/// say) would hold that socket open after the parent closed it, and count
/// against the child's own descriptor limit. One thread at a time uses an
/// instance.
public final class ChildProcess {
    /// Where the child's standard output or error goes.
    public enum Output: Sendable {
        case inherit
        case discard
        /// Appended to this file, created if missing.
        case appendTo(String)
    }

    public enum Termination: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)

        /// The exit code, or 128 + the signal (as a shell reports it).
        public var status: Int32 {
            switch self {
            case .exited(let code): return code
            case .signaled(let signal): return 128 + signal
            }
        }
    }

    public let pid: pid_t
    private var reaped: Termination?

    public init(
        _ executable: String, _ arguments: [String], directory: String? = nil,
        stdout: Output = .inherit, stderr: Output = .inherit
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .inherit: break
            case .discard: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .appendTo(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            }
        }
        if let directory { _ = addChdir(&actions, directory) }
        _ = addCloseFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        for signal in 1..<Int32(32) where signal != SIGKILL && signal != SIGSTOP { sigaddset(&signals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnError(executable: executable, errno: result) }
        self.pid = pid
    }

    /// False once the child has exited (and been reaped).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Waits for the child to exit.
    @discardableResult
    public func wait() -> Termination {
        reap(blocking: true)!
    }

    /// Sends `signal` unless the child has been reaped (its pid may be another process's by then).
    public func send(_ signal: Int32) {
        if reaped == nil { kill(pid, signal) }
    }

    private func reap(blocking: Bool) -> Termination? {
        if let reaped { return reaped }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if r == -1 && errno == EINTR { continue }
            // -1 otherwise: someone else reaped it; the exit status is lost.
            guard r != 0 else { return nil }
            break
        }
        // The <sys/wait.h> macros are not imported: WIFEXITED is "low 7 bits zero".
        let termination: Termination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        reaped = termination
        return termination
    }
}

/// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), declared only
/// under `_GNU_SOURCE`, which Swift's Glibc module does not define: found by name.
private let addChdir = glibcFunction("posix_spawn_file_actions_addchdir_np", since: "2.29",
    as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), likewise undeclared.
private let addCloseFrom = glibcFunction("posix_spawn_file_actions_addclosefrom_np", since: "2.34",
    as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)

private func glibcFunction<F>(_ name: String, since version: String, as type: F.Type) -> F {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
        fatalError("this C library has no \(name) (glibc \(version) or later has it)")
    }
    return unsafeBitCast(symbol, to: type)
}

public struct SpawnError: Error, CustomStringConvertible {
    public let executable: String
    public let errno: Int32
    public var description: String { "cannot start \(executable): \(String(cString: strerror(errno)))" }
}

extension ChildProcess {
    /// What one run of a program printed, and how it ended.
    public struct Run: Sendable {
        public var termination: Termination
        public var out: String
        public var err: String
        public var status: Int32 { termination.status }
    }

    /// Runs a program to its end and returns what it printed. The output goes
    /// through files, not pipes: nothing to drain while waiting, and a
    /// daemon the program leaves behind cannot hold the run open.
    public static func run(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> Run {
        var template = Array("/tmp/child-output-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SpawnError(executable: executable, errno: errno)
        }
        let folder = String(cString: made)
        defer { unlink(folder + "/out"); unlink(folder + "/err"); rmdir(folder) }
        let child = try ChildProcess(
            executable, arguments, directory: directory, stdout: .appendTo(folder + "/out"), stderr: .appendTo(folder + "/err"))
        let termination = child.wait()
        return Run(termination: termination, out: contents(of: folder + "/out"), err: contents(of: folder + "/err"))
    }

    /// A file's text (empty when it cannot be read).
    public static func contents(of path: String) -> String {
        guard let file = fopen(path, "rb") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
