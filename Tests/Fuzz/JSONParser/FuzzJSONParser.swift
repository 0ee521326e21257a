import FuzzDriver
import ProxyCore

/// Any bytes: the parser answers a value or an error, never crashes, and
/// stays within its nesting limit. What it accepts, the writer writes back
/// in a form that parses to the same value and writes back identically;
/// the request-line reader accepts exactly what the plain parser accepts.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let parsed: JSONValue?
    do { parsed = try JSONParser.parse(input) } catch { parsed = nil }

    let requestLine: JSONValue?
    do { requestLine = try JSONParser.parseRequestLine(input).value } catch { requestLine = nil }
    if (parsed == nil) != (requestLine == nil) || parsed.map({ $0 != requestLine }) == true {
        fuzzFailure("parse and parseRequestLine disagree", input)
    }

    guard let value = parsed else { return 0 }
    var written: [UInt8] = []
    value.writeJSON(into: &written)
    guard let again = try? JSONParser.parse(written) else {
        fuzzFailure("written JSON does not parse: \(String(decoding: written, as: UTF8.self))", input)
    }
    if again != value { fuzzFailure("written JSON parses to another value", input) }
    var rewritten: [UInt8] = []
    again.writeJSON(into: &rewritten)
    if rewritten != written { fuzzFailure("writing is not stable", input) }
    if written.contains(0x0A) { fuzzFailure("written JSON holds a newline (it would split an answer line)", input) }
    return 0
}

@_cdecl("fuzz_json_parser_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv)
}
