import FuzzDriver
@testable import ProxyServer
import ProxyCore

/// One line from a client, as the proxy reads it: decoded into requests,
/// each looked up in the method table and its parameters checked and read
/// by their declared types. Whatever the line, every entry ends as a
/// request or an error, and the answer written for it is one line of valid
/// JSON-RPC carrying the request's id exactly as sent; a notification (no
/// id) gets none, whatever is wrong with it.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let entries: [RPCEntry]
    switch RPCLine.decode(input) {
    case .single(let entry): entries = [entry]
    case .batch(let batch): entries = batch
    }
    for entry in entries {
        var answer: [UInt8] = []
        let id: RequestID
        switch entry {
        case .invalid(let invalidID, let error):
            guard let invalidID else { continue }  // a notification: never answered
            id = invalidID
            RPCResponse.writeError(id: id, error: error, into: &answer)
        case .request(let request):
            guard let requestID = request.id else { continue }
            id = requestID
            if let error = checkParams(request) {
                RPCResponse.writeError(id: id, error: error, into: &answer)
            } else {
                RPCResponse.writeResult(id: id, result: JSONValue.null, into: &answer)
            }
        }
        checkAnswer(answer, id: id, input)
    }
    return 0
}

/// The checks a handler makes before it touches a backend.
private func checkParams(_ request: RPCRequest) -> ProxyError? {
    guard let spec = MethodTable.standard[request.method] else { return .methodNotFound(request.method) }
    do throws(ProxyError) {
        let params = try Params(request.params, spec: spec)
        for p in spec.params {
            switch p.schema {
            case Schema.string: _ = try params.optionalString(p.name)
            case Schema.timestamp: _ = try params.optionalTimestamp(p.name)
            case Schema.integer: _ = try params.int(p.name, default: 0, in: -1_000_000...1_000_000)
            case Schema.number: _ = try params.optionalNumber(p.name, in: 0...1e9, exclusiveLowerBound: true)
            case Schema.object: _ = try params.optionalObject(p.name)
            default: _ = try params.value(p.name)
            }
        }
        return nil
    } catch {
        return error
    }
}

private func checkAnswer(_ answer: [UInt8], id: RequestID, _ input: UnsafeBufferPointer<UInt8>) {
    if answer.contains(0x0A) { fuzzFailure("an answer holds a newline", input) }
    guard case .object(let object)? = try? JSONParser.parse(answer) else {
        fuzzFailure("an answer is not a JSON object: \(String(decoding: answer, as: UTF8.self))", input)
    }
    var idText: [UInt8] = []
    id.writeJSON(into: &idText)
    guard let sentID = try? JSONParser.parse(idText), object["id"] == sentID else {
        fuzzFailure("an answer's id is not the request's", input)
    }
    if case .number(let literal) = id, !answer.starts(with: Array("{\"jsonrpc\":\"2.0\",\"id\":\(literal),".utf8)) {
        fuzzFailure("a numeric id is not echoed byte for byte", input)
    }
    if object["jsonrpc"] != "2.0" || (object["result"] == nil) == (object["error"] == nil) {
        fuzzFailure("an answer is not JSON-RPC 2.0", input)
    }
}

@_cdecl("fuzz_request_decoder_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv)
}
