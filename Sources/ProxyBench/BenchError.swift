/// A benchmark that could not run (a tool missing, a figure not printed).
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
