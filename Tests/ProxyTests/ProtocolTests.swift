import Foundation
import StorageCore
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
            guard let expect = vector["expect"], expect != .null else { continue }
            let answer = try JSONParser.parse(try #require(try c.readLine()))
            let problem = matcher.mismatch(answer, expect)
            #expect(problem == nil, "\(file):\(n + 1): \(problem ?? "")")
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
}
