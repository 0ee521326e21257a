import Foundation

/// What a program printed on standard output (its errors are dropped).
func output(of program: String, _ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    while p.isRunning { usleep(2_000) }  // not waitUntilExit(): it runs a CFRunLoop on this thread
    return text
}
