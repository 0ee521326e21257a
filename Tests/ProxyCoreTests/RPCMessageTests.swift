import ProxyCore
import Testing

@Suite("JSON-RPC messages and errors")
struct RPCMessageTests {
    func decode(_ text: String) -> RPCLine {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { RPCLine.decode(UnsafeBufferPointer($0)) }
    }

    @Test func requestWithoutJsonrpcMemberIsAccepted() {
        guard case .single(.request(let r)) = decode(#"{"id":1,"method":"m","params":{"a":1}}"#) else { Issue.record("not a request"); return }
        #expect(r.id == .number("1") && r.method == "m" && r.params["a"] == 1 && !r.isNotification)
    }

    /// Ids come back byte for byte: a number's literal text, not its value
    /// re-encoded (2^64 and 1e2 used to come back as floats).
    @Test(arguments: ["1e2", "-0", "18446744073709551616", "123456789012345678901234567890", "1.50", "9007199254740993", "-7", "0.1E-3"])
    func numericIDsAreEchoedExactly(literal: String) {
        for line in [#"{"id":\#(literal),"method":"m","params":{"task":{"id":5}}}"#, #"[{"method":"n"},{"id":\#(literal),"method":"m"}]"#] {
            let entry: RPCEntry
            switch decode(line) {
            case .single(let e): entry = e
            case .batch(let es): entry = es[1]
            }
            guard case .request(let r) = entry else { Issue.record("not a request: \(line)"); continue }
            var out: [UInt8] = []
            RPCResponse.writeResult(id: r.id!, result: JSONValue.null, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == #"{"jsonrpc":"2.0","id":\#(literal),"result":null}"#)
        }
    }

    @Test func notificationHasNoID() {
        guard case .single(.request(let r)) = decode(#"{"jsonrpc":"2.0","method":"m"}"#) else { Issue.record("not a request"); return }
        #expect(r.isNotification)
    }

    @Test func errorResponsesAreEncodedPerTheSpec() {
        var out: [UInt8] = []
        RPCResponse.writeError(id: "x", error: .invalidParams(field: "task.agent_name", reason: "is required"), into: &out)
        #expect(String(decoding: out, as: UTF8.self) ==
                #"{"jsonrpc":"2.0","id":"x","error":{"code":-32602,"message":"Invalid params: task.agent_name is required","data":{"field":"task.agent_name","reason":"is required"}}}"#)
        out = []
        RPCResponse.writeError(id: .null, error: .backendUnavailable("busy", retryAfterMs: 250), into: &out)
        #expect(String(decoding: out, as: UTF8.self).contains(#""data":{"retry_after_ms":250,"retryable":true}"#))
    }

    @Test func everyCodeOfTheContractIsPinned() {
        #expect(ProxyError.allCodes.map(\.code) == [-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32003, -32004, -32005, -32006, -32007, -32008])
    }

    @Test func identifiersSortByCreation() {
        var previous = ""
        for _ in 0..<5000 {
            let id = Identifier.make()
            #expect(id > previous)
            #expect(id.count == 36)
            previous = id
        }
        #expect(Identifier.isValidClientID("task-1"))
        #expect(!Identifier.isValidClientID(""))
        #expect(!Identifier.isValidClientID("a\nb"))
        #expect(!Identifier.isValidClientID(String(repeating: "x", count: 129)))
    }
}

@Suite("Backend codes in errors")
struct NativeCodeTests {
    @Test("a backend's own code is in data.native, never in the message")
    func nativeCodeInData() {
        let e = ProxyError.internalError("PostgreSQL: relation \"x\" does not exist", native: .init(backend: "postgresql", code: "42P01"))
        #expect(e.data == ["native": ["backend": "postgresql", "code": "42P01"]])
        #expect(!e.message.contains("42P01"))
        #expect(ProxyError.conflict("taken").data == nil)
        #expect(ProxyError.conflict("taken", native: .init(backend: "sqlite", code: "2067")).code == -32002)
    }
}
