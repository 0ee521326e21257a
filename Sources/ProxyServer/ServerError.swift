/// Why the server cannot start (a listener, its socket file): the CLI prints it and exits non-zero.
public struct ServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
