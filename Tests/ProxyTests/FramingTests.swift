import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// Bad and unusual input: each gets its error, and the server, the same
/// connection and a new connection keep working.
@Suite("Framing and JSON-RPC envelope")
struct FramingTests {
    let proxy: ProxyProcess
    init() throws { proxy = try ProxyProcess(arguments: ["--config", try writeConfig("server:\n  max_line_bytes: 1048576\n")]) }

    func code(_ v: JSONValue) -> Int64? { v.objectValue?["error"]?.objectValue?["code"]?.intValue }

    /// After any abuse: the same connection and a fresh one still answer.
    func expectHealthy(_ c: LineClient) throws {
        #expect(try c.result("health_check") == .bool(true))
        #expect(try proxy.client().result("health_check") == .bool(true))
    }

    @Test func splitWritesMakeOneRequest() throws {
        let c = try proxy.client()
        let line = #"{"jsonrpc":"2.0","id":7,"method":"health_check"}"# + "\n"
        let bytes = Array(line.utf8)
        for b in bytes { try c.send([b]); if b == UInt8(ascii: ",") { usleep(5000) } }
        #expect(try c.readLine() == #"{"jsonrpc":"2.0","id":7,"result":true}"#)
    }

    @Test func manyRequestsInOneWriteAnswerInOrder() throws {
        let c = try proxy.client()
        let text = (0..<500).map { #"{"id":\#($0),"method":"cache.set","params":{"key":"k\#($0)","value":\#($0)}}"# }.joined(separator: "\n") + "\n"
        let answers = try c.exchange(text, expect: 500)
        #expect(answers.map { $0.objectValue!["id"]! } == (0..<500).map { .int(Int64($0)) })
    }

    @Test func crlfAndBlankLines() throws {
        let c = try proxy.client()
        let answers = try c.exchange("\n\r\n   \n{\"id\":1,\"method\":\"health_check\"}\r\n\n{\"id\":2,\"method\":\"health_check\"}\n", expect: 2)
        #expect(answers == [["jsonrpc": "2.0", "id": 1, "result": true], ["jsonrpc": "2.0", "id": 2, "result": true]])
    }

    @Test func lineOverTheLimitIsRejectedAndTheConnectionSurvives() throws {
        let c = try proxy.client()
        let huge = #"{"id":1,"method":"save_metadata","params":{"key":"k","value":""# + String(repeating: "x", count: 2 << 20) + "\"}}\n"
        let sender = Thread { try? c.send(huge + #"{"id":2,"method":"health_check"}"# + "\n") }
        sender.start()
        let first = try #require(try c.readLine())
        let r = try JSONParser.parse(first)
        #expect(code(r) == -32005)
        #expect(r.objectValue?["id"] == .null)
        #expect(try c.readLine() == #"{"jsonrpc":"2.0","id":2,"result":true}"#)
        #expect(try c.result("get_metadata", ["key": "k"]) == .null)  // nothing of it was stored
        try expectHealthy(c)
    }

    @Test func invalidUTF8IsParseError() throws {
        let c = try proxy.client()
        try c.send([UInt8](#"{"id":1,"method":"cache.get","params":{"key":""#.utf8) + [0xFF, 0xFE] + [UInt8]("\"}}\n".utf8))
        let r = try JSONParser.parse(try #require(try c.readLine()))
        #expect(code(r) == -32700)
        #expect(r.objectValue?["id"] == .null)
        try expectHealthy(c)
    }

    @Test func loneSurrogateIsParseError() throws {
        let c = try proxy.client()
        let r = try c.exchange(#"{"id":1,"method":"cache.get","params":{"key":"\ud800"}}"# + "\n", expect: 1)[0]
        #expect(code(r) == -32700)
        try expectHealthy(c)
    }

    @Test func deepNestingIsInvalidRequest() throws {
        let c = try proxy.client()
        let r = try c.exchange(String(repeating: "[", count: 100_000) + "\n", expect: 1)[0]
        #expect(code(r) == -32600)
        let objects = try c.exchange(#"{"id":1,"method":"save_metadata","params":{"key":"k","value":"# + String(repeating: "{\"a\":", count: 70) + "1" + String(repeating: "}", count: 73) + "\n", expect: 1)[0]
        #expect(code(objects) == -32600)
        try expectHealthy(c)
    }

    @Test func randomGarbageNeverHurts() throws {
        var rng = SystemRandomNumberGenerator()
        let c = try proxy.client()
        for _ in 0..<20 {
            var junk = (0..<Int.random(in: 1...4000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            junk.removeAll { $0 == 0x0A }
            try c.send(junk + [0x0A])
            let r = try JSONParser.parse(try #require(try c.readLine()))
            #expect([-32700, -32600].contains(code(r)))
        }
        try expectHealthy(c)
    }

    @Test func envelopeErrors() throws {
        let c = try proxy.client()
        let cases: [(String, Int64, JSONValue)] = [
            (#"{"jsonrpc":"1.0","id":1,"method":"health_check"}"#, -32600, 1),
            (#"{"id":2}"#, -32600, 2),
            (#"{"id":3,"method":5}"#, -32600, 3),
            (#"{"id":{"x":1},"method":"health_check"}"#, -32600, nil),
            (#"{"id":4,"method":"get_task","params":["t1"]}"#, -32602, 4),
            (#"{"id":5,"method":"get_task","params":"t1"}"#, -32600, 5),
            (#"{"id":6,"method":"no_such_method"}"#, -32601, 6),
            (#"{"id":7,"method":"get_task","params":{"task_id":"t","bogus":1}}"#, -32602, 7),
            (#"[]"#, -32600, nil),
            (#"42"#, -32600, nil),
            (#"{"id":"s","method":"get_task"}"#, -32602, "s"),
        ]
        for (line, expected, id) in cases {
            let r = try c.exchange(line + "\n", expect: 1)[0]
            #expect(code(r) == expected, "\(line)")
            #expect(r.objectValue?["id"] == id, "\(line)")
            #expect(r.objectValue?["jsonrpc"] == "2.0")
        }
        try expectHealthy(c)
    }

    @Test func idsComeBackAsSent() throws {
        let c = try proxy.client()
        let r = try c.exchange(#"{"id":"abc","method":"health_check"}"# + "\n" + #"{"id":null,"method":"health_check"}"# + "\n"
                               + #"{"id":9007199254740991,"method":"health_check"}"# + "\n" + #"{"id":1.5,"method":"health_check"}"# + "\n", expect: 4)
        #expect(r.map { $0.objectValue!["id"]! } == ["abc", nil, 9_007_199_254_740_991, 1.5])
    }

    @Test func notificationsRunButAreNotAnswered() throws {
        let c = try proxy.client()
        let r = try c.exchange(#"{"method":"cache.set","params":{"key":"n","value":1}}"# + "\n" + #"{"id":1,"method":"cache.get","params":{"key":"n"}}"# + "\n", expect: 1)
        #expect(r == [["jsonrpc": "2.0", "id": 1, "result": 1]])
    }

    @Test func batches() throws {
        let c = try proxy.client()
        let batch = #"[{"id":1,"method":"cache.set","params":{"key":"b","value":2}},{"method":"cache.set","params":{"key":"c","value":3}},"#
            + #"{"id":2,"method":"cache.get","params":{"key":"b"}},5,{"id":3,"method":"cache.get","params":{"key":"c"}},{"id":4,"method":"nope"}]"#
        let r = try c.exchange(batch + "\n", expect: 1)[0]
        let items = try #require(r.arrayValue)
        #expect(items.count == 5)
        #expect(items[0] == ["jsonrpc": "2.0", "id": 1, "result": true])
        #expect(items[1] == ["jsonrpc": "2.0", "id": 2, "result": 2])
        #expect(code(items[2]) == -32600)
        #expect(items[3] == ["jsonrpc": "2.0", "id": 3, "result": 3])
        #expect(code(items[4]) == -32601)
        // A batch of notifications only: no answer at all (the next line's answer comes first).
        let next = try c.exchange(#"[{"method":"health_check"},{"method":"health_check"}]"# + "\n" + #"{"id":9,"method":"health_check"}"# + "\n", expect: 1)
        #expect(next == [["jsonrpc": "2.0", "id": 9, "result": true]])
    }

    @Test func halfCloseStillGetsEveryAnswer() throws {
        let c = try proxy.client()
        let n = 300
        var text = (0..<n).map { #"{"id":\#($0),"method":"cache.set","params":{"key":"h\#($0)","value":\#($0)}}"# }.joined(separator: "\n")
        text += "\n" + #"{"id":"last","method":"health_check"}"#  // no newline: EOF ends it
        try c.send(text)
        c.shutdownWrite()
        var answers: [String] = []
        while let line = try c.readLine() { answers.append(line) }
        #expect(answers.count == n + 1)
        #expect(answers.last == #"{"jsonrpc":"2.0","id":"last","result":true}"#)
    }

    @Test func pipelinedWritesThenReadsSeeEachOther() throws {
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "p1")])
        var text = ""
        for i in 0..<50 {
            text += #"{"id":\#(2 * i),"method":"update_task_status","params":{"task_id":"p1","status":"s\#(i)"}}"# + "\n"
            text += #"{"id":\#(2 * i + 1),"method":"get_task","params":{"task_id":"p1"}}"# + "\n"
        }
        let answers = try c.exchange(text, expect: 100)
        for i in 0..<50 {
            #expect(answers[2 * i + 1].objectValue?["result"]?.objectValue?["status"] == .string("s\(i)"))
        }
    }
}
