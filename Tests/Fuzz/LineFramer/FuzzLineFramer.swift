import FuzzDriver
import ProxyCore

/// The framer must cut any byte stream, however it is split into reads,
/// exactly as a plain split on `\n` would: the same lines, the same
/// too-large reports, one per long line, whatever the chunking.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard input.count >= 2 else { return 0 }
    let maxLineBytes = Int(input[0]) + 1
    var random = SplitMix64(seed: UInt64(input[1]))
    let stream = UnsafeBufferPointer(rebasing: input[2...])

    var framer = LineFramer(maxLineBytes: maxLineBytes)
    var got: [FramedEvent] = []
    let record: (LineFramer.Event) -> Void = {
        switch $0 {
        case .line(let line): got.append(.line(Array(line)))
        case .tooLarge: got.append(.tooLarge)
        }
    }
    var start = 0
    while start < stream.count {
        let end = min(stream.count, start + 1 + random.next(below: 2 * maxLineBytes))
        framer.feed(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: stream[start..<end])), record)
        start = end
    }
    framer.finish(record)

    let expected = referenceFrames(Array(stream), maxLineBytes: maxLineBytes)
    if got != expected { fuzzFailure("framer gave \(got) where a plain split gives \(expected)", input) }
    if framer.hasPartialLine { fuzzFailure("a partial line is left after finish", input) }
    return 0
}

enum FramedEvent: Equatable {
    case line([UInt8])
    case tooLarge
}

/// The contract's framing, written the obvious way.
func referenceFrames(_ stream: [UInt8], maxLineBytes: Int) -> [FramedEvent] {
    var events: [FramedEvent] = []
    var pieces = stream.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    let unterminated = pieces.removeLast()
    for var line in pieces {
        if line.last == 0x0D { line.removeLast() }
        events.append(contentsOf: frame(line, maxLineBytes: maxLineBytes))
    }
    // A last line without its newline: its `\r` cannot be known to be a CRLF's.
    if unterminated.count > maxLineBytes {
        events.append(.tooLarge)
    } else {
        var line = unterminated
        if line.last == 0x0D { line.removeLast() }
        events.append(contentsOf: frame(line, maxLineBytes: maxLineBytes))
    }
    return events
}

private func frame(_ line: [UInt8], maxLineBytes: Int) -> [FramedEvent] {
    if line.count > maxLineBytes { return [.tooLarge] }
    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return [] }
    return [.line(line)]
}

@_cdecl("fuzz_line_framer_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv)
}
