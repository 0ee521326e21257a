/// The one piece of glue every fuzz target shares.
///
/// SwiftPM links an executable with `main` pointing at `<module>_main`, and
/// `-parse-as-library` (needed so libFuzzer's own `main` is not replaced by
/// top-level code) leaves that symbol undefined. Each target therefore
/// defines `<module>_main` as a call to `runFuzzer`, which hands control to
/// libFuzzer's driver with the target's `LLVMFuzzerTestOneInput`.

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_silgen_name("LLVMFuzzerTestOneInput")
private func targetTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt

public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector, { targetTestOneInput($0, $1) })
}

/// The input as a buffer (libFuzzer may pass a null pointer for zero bytes).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: size == 0 ? nil : data, count: size)
}

/// A finding: libFuzzer saves the input that led here as `crash-…`.
public func fuzzFailure(_ what: String, _ input: UnsafeBufferPointer<UInt8>) -> Never {
    let shown = String(decoding: input.prefix(200), as: UTF8.self)
    fatalError("\(what)\ninput (first 200 bytes): \(shown.debugDescription)")
}

/// A small deterministic generator seeded from the input, for choices
/// (chunk sizes, limits) that must replay exactly with the same input.
public struct SplitMix64 {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(max(bound, 1)))
    }
}
