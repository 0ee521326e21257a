import Spawn

/// What one run of a program printed, and how it exited.
typealias CLIRun = ChildProcess.Run

/// Runs the `storage-proxy` binary under test.
func runCLI(_ args: [String], cwd: String? = nil) throws -> CLIRun {
    try runProgram(ProxyProcess.binary, args, cwd: cwd)
}

func runProgram(_ path: String, _ args: [String], cwd: String? = nil) throws -> CLIRun {
    try ChildProcess.run(path, args, directory: cwd)
}
