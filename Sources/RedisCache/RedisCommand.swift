/// A command's arguments packed end to end in one buffer: building one costs
/// two growing arrays, not an array per argument, and hiredis gets pointers
/// into it directly. Written as `["SET", key, value]` or built up with
/// `append`. Arguments are binary-safe.
public struct RedisCommand: ExpressibleByArrayLiteral {
    private(set) var bytes: [UInt8] = []
    /// Where each argument ends in `bytes`.
    private(set) var ends: [Int] = []

    public init(arrayLiteral arguments: String...) {
        for a in arguments { append(a) }
    }

    public var count: Int { ends.count }

    public mutating func append(_ argument: String) {
        bytes.append(contentsOf: argument.utf8)
        ends.append(bytes.count)
    }

    /// One argument written as two pieces (no joined string is built).
    public mutating func append(_ argument: String, suffix: String) {
        bytes.append(contentsOf: argument.utf8)
        bytes.append(contentsOf: suffix.utf8)
        ends.append(bytes.count)
    }

    public mutating func append<C: Collection>(bytes argument: C) where C.Element == UInt8 {
        bytes.append(contentsOf: argument)
        ends.append(bytes.count)
    }

    /// C pointers and lengths of every argument, valid during `body` (no heap allocation).
    func withArgv<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        // An empty buffer may have no address; hiredis wants one even for "".
        let bytes = self.bytes.isEmpty ? [0] : self.bytes
        return bytes.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: max(1, ends.count)) { argv in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, ends.count)) { lengths in
                    var start = 0
                    for (i, end) in ends.enumerated() {
                        argv[i] = UnsafePointer((raw.baseAddress! + start).assumingMemoryBound(to: CChar.self))
                        lengths[i] = end - start
                        start = end
                    }
                    return body(UnsafePointer(argv.baseAddress!), UnsafePointer(lengths.baseAddress!))
                }
            }
        }
    }
}
