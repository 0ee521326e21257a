import Foundation

/// What one run of a program printed, and how it exited.
struct CLIRun { var status: Int32; var out: String; var err: String }

/// Runs the `storage-proxy` binary under test.
func runCLI(_ args: [String], cwd: String? = nil) throws -> CLIRun {
    try runProgram(ProxyProcess.binary, args, cwd: cwd)
}

func runProgram(_ path: String, _ args: [String], cwd: String? = nil) throws -> CLIRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try ChildProcess.start(p)
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    ChildProcess.wait(p)
    return CLIRun(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
}
