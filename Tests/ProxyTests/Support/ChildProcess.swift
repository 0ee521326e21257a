import Foundation

/// Starting child processes and waiting for them without giving a test's
/// thread a run loop.
///
/// Foundation's `Process.run()` and `waitUntilExit()` attach a CFRunLoop to
/// the calling thread, which CoreFoundation frees in a thread-exit
/// destructor. Under ThreadSanitizer that destructor runs after the
/// sanitizer has retired the thread, and its allocation there crashes the
/// test runner (SEGV in the sanitizer's allocator, on a libdispatch worker
/// as it retires: seen in CI and reproduced under gdb). So every child is
/// started from one thread that lives as long as the tests, and waited for
/// by polling `isRunning`, which needs no run loop.
enum ChildProcess {
    static func start(_ process: Process) throws {
        try launcher.perform { try process.run() }
    }

    static func wait(_ process: Process) {
        while process.isRunning { usleep(2_000) }
    }
}

/// The one thread that calls `Process.run()`; callers wait for their turn.
private final class Launcher: @unchecked Sendable {  // `jobs` only under `condition`
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []

    init() {
        let thread = Thread { [unowned self] in serve() }
        thread.name = "child-process launcher"
        thread.start()
    }

    func perform(_ body: @escaping () throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error?  // written before `signal`, read after `wait`
        condition.lock()
        jobs.append {
            do { try body() } catch { failure = error }
            done.signal()
        }
        condition.signal()
        condition.unlock()
        done.wait()
        if let failure { throw failure }
    }

    private func serve() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

private let launcher = Launcher()
