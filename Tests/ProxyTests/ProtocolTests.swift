import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The repository's `protocol/` folder.
let protocolFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("protocol")

/// What protocol/ promises users is what the server does.
@Suite("protocol/ documents and vectors")
struct ProtocolTests {
    static let vectorFiles: [String] = {
        let dir = protocolFolder.appendingPathComponent("vectors").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
    }()

    @Test func thereAreVectors() { #expect(Self.vectorFiles.count >= 5) }

    @Test("replays protocol/vectors", arguments: TestBackend.allCases.flatMap { b in vectorFiles.map { (b, $0) } })
    func replay(backend: TestBackend, file: String) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        var matcher = VectorMatcher()
        let text = try String(contentsOf: protocolFolder.appendingPathComponent("vectors/\(file)"), encoding: .utf8)
        for (n, line) in text.split(separator: "\n").enumerated() {
            let vector = try #require(try JSONParser.parse(String(line)).objectValue)
            let send = try #require(vector["send"]?.stringValue)
            try c.send(matcher.substitute(send) + "\n")
            // The answer and the events the line causes, in whichever order they come.
            let expect: JSONValue? = vector["expect"] == .null ? nil : vector["expect"]
            let events = vector["events"]?.arrayValue ?? []
            var answer: JSONValue?
            var got: [JSONValue] = []
            while (expect != nil && answer == nil) || got.count < events.count {
                let message = try JSONParser.parse(try #require(try c.readLine(), "\(file):\(n + 1): connection closed"))
                if message.objectValue?["method"] == "event" && message.objectValue?["id"] == nil { got.append(message) } else { answer = message }
            }
            if let expect, let answer {
                let problem = matcher.mismatch(answer, expect)
                #expect(problem == nil, "\(file):\(n + 1): \(problem ?? "")")
            }
            for (event, pattern) in zip(got, events) {
                let problem = matcher.mismatch(event, pattern)
                #expect(problem == nil, "\(file):\(n + 1) event: \(problem ?? "")")
            }
        }
    }

    @Test("protocol/openrpc.json is what rpc.discover serves")
    func openRPCIsCurrent() throws {
        let proxy = try ProxyProcess()
        let served = try proxy.client().result("rpc.discover")
        let committed = try JSONParser.parse(try String(contentsOf: protocolFolder.appendingPathComponent("openrpc.json"), encoding: .utf8))
        #expect(served == committed, "regenerate with: storage-proxy openrpc > protocol/openrpc.json")
        let names = served.objectValue?["methods"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } ?? []
        for method in ["health_check", "save_task", "get_task", "list_tasks", "delete_task", "update_task_status", "save_log",
                       "query_logs", "delete_old_logs", "save_metadata", "get_metadata", "begin_transaction", "commit_transaction",
                       "rollback_transaction", "cache.get", "cache.set", "cache.delete", "cache.exists", "cache.clear_pattern"] {
            #expect(names.contains(method), "\(method) missing from rpc.discover")
        }
    }

    @Test("every method says whether it is retry-safe, and the three clients' lists are generated from that")
    func retrySafetyIsPublished() throws {
        let committed = try JSONParser.parse(try String(contentsOf: protocolFolder.appendingPathComponent("openrpc.json"), encoding: .utf8))
        var safe: Set<String> = []
        for method in committed.objectValue?["methods"]?.arrayValue ?? [] {
            let name = try #require(method.objectValue?["name"]?.stringValue)
            let flag = method.objectValue?["x-retry-safe"]
            #expect(flag == true || flag == false, "\(name) has no x-retry-safe")
            if flag == true { safe.insert(name) }
        }
        // Reads are; anything that changes state (or authenticates a connection) is not.
        #expect(safe.isSuperset(of: ["health_check", "get_task", "list_tasks", "query_logs", "get_metadata", "cache.get"]))
        #expect(safe.isDisjoint(with: ["save_task", "save_log", "delete_task", "cache.set", "begin_transaction", "commit_transaction", "auth"]))
        let script = protocolFolder.deletingLastPathComponent().appendingPathComponent("scripts/generate-client-methods").path
        let run = try runProgram(script, ["--check"])
        #expect(run.status == 0, "\(run.err)")
    }

    @Test("PROTOCOL.md documents every method and every error code")
    func protocolDocIsComplete() throws {
        let doc = try String(contentsOf: protocolFolder.appendingPathComponent("PROTOCOL.md"), encoding: .utf8)
        let served = try JSONParser.parse(try String(contentsOf: protocolFolder.appendingPathComponent("openrpc.json"), encoding: .utf8))
        for method in served.objectValue?["methods"]?.arrayValue ?? [] {
            let name = method.objectValue!["name"]!.stringValue!
            #expect(doc.contains("`\(name)`"), "PROTOCOL.md does not mention \(name)")
        }
        for (code, _) in ProxyError.allCodes { #expect(doc.contains("\(code)"), "PROTOCOL.md does not mention \(code)") }
    }

    @Test("PROTOCOL.md's copy-paste examples answer as written, one connection per command")
    func copyPasteExamples() throws {
        let doc = try String(contentsOf: protocolFolder.appendingPathComponent("PROTOCOL.md"), encoding: .utf8)
        let section = try #require(doc.components(separatedBy: "## Every method, copy-paste").last?
            .components(separatedBy: "```console").dropFirst().first?.components(separatedBy: "```").first)
        let proxy = try ProxyProcess()
        var commands = 0
        var client: LineClient?
        for line in section.split(separator: "\n").map(String.init) {
            if line.hasPrefix("$ ") {
                // The quoted JSON arguments of `echo '…' | nc` or `printf '%s\n' '…' '…' | nc`.
                let quoted = line.components(separatedBy: "'").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
                    .filter { $0 != "%s\\n" }
                client = try proxy.client()
                for request in quoted { try client!.send(request + "\n") }
                commands += 1
            } else if !line.isEmpty {
                let answer = try #require(try client?.readLine(), "no answer for: \(line)")
                // `…` in the documented answer stands for anything.
                let pattern = "^" + NSRegularExpression.escapedPattern(for: line).replacingOccurrences(of: "…", with: ".*") + "$"
                #expect(answer.range(of: pattern, options: .regularExpression) != nil, "documented: \(line)\n got: \(answer)")
            }
        }
        #expect(commands >= 20)
    }
}
