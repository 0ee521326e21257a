/// JSON already encoded. Cached answers are kept this way, so a cache hit is
/// a copy of bytes, not a walk over a record (one word: it also travels in an
/// existential without a box).
public struct EncodedJSON: JSONWritable, Equatable, Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public init(encoding value: some JSONWritable) {
        var out: [UInt8] = []
        value.writeJSON(into: &out)
        bytes = out
    }

    public func writeJSON(into out: inout [UInt8]) { out.append(contentsOf: bytes) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
