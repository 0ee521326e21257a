import Spawn

/// What a program printed on standard output (its errors are dropped).
func output(of program: String, _ arguments: [String]) throws -> String {
    try ChildProcess.run(program, arguments).out
}
