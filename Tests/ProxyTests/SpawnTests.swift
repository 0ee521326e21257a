import Foundation
import Spawn
import Testing

/// Child processes as the tests, the CLI and the benchmark start them.
@Suite("Spawn")
struct SpawnTests {
    @Test("a child inherits no descriptor but its standard three, and gets its own folder, output and exit status")
    func childIsClean() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)  // not close-on-exec: a careless spawn would pass them on
        defer { close(fds[0]); close(fds[1]) }
        let run = try ChildProcess.run("/bin/sh", ["-c", "ls /proc/$$/fd; pwd; echo oops >&2; exit 3"], directory: "/tmp")
        let listed = run.out.split(separator: "\n").dropLast().compactMap { Int32($0) }
        #expect(!listed.contains(fds[0]) && !listed.contains(fds[1]), "inherited: \(listed)")
        #expect(Set(listed).isSubset(of: [0, 1, 2, 10]), "\(listed)")  // dash may keep one of its own at 10
        #expect(run.out.hasSuffix("/tmp\n") && run.err == "oops\n" && run.termination == .exited(3))
    }

    @Test("a signal ends a child, and its status says which")
    func signalled() throws {
        let child = try ChildProcess("/bin/sleep", ["30"])
        #expect(child.isRunning)
        child.send(SIGTERM)  // default disposition in the child, even if this process blocks it
        #expect(child.wait() == .signaled(SIGTERM))
        #expect(!child.isRunning)
    }
}
