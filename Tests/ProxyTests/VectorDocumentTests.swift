import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// `vector.get_documents` on every backend alike.
@Suite("Vector documents by id (every backend)")
struct VectorDocumentTests {
    /// Floats that a careless encoding would change: 0.1 (no exact binary
    /// form), -0, the smallest subnormal, float32's largest.
    static let tricky: [Float] = [0.1, -0.0, Float.leastNonzeroMagnitude, Float.greatestFiniteMagnitude]

    static func floats(_ v: JSONValue?) -> [Float]? { v?.arrayValue?.map { Float($0.doubleValue ?? .nan) } }

    @Test("answers the stored documents in the order asked, null for an id not stored, embeddings bit for bit",
          arguments: TestBackend.allCases)
    func getByID(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        _ = try c.result("vector.create_collection", ["name": "kb", "dimension": 4, "metric": "cosine"])
        _ = try c.result("vector.add_documents", ["collection": "kb", "ids": ["d1", "d2"], "documents": ["first text", "second"],
                                                  "metadata": [["kind": "a", "n": 1], .null],
                                                  "embeddings": [.array(Self.tricky.map { .double(Double($0)) }), [1, 2, 3, 4]]])
        let got = try #require(try c.result("vector.get_documents", ["collection": "kb", "ids": ["d2", "missing", "d1", "d2"]]).arrayValue)
        #expect(got.count == 4)
        #expect(got[1] == .null)
        #expect(got[0] == got[3])
        #expect(got[0]["id"] == "d2" && got[0]["document"] == "second" && got[0]["metadata"] == .null)
        #expect(Self.floats(got[0]["embedding"]) == [1, 2, 3, 4])
        #expect(got[2]["id"] == "d1" && got[2]["document"] == "first text" && got[2]["metadata"] == ["kind": "a", "n": 1])
        let first = try #require(Self.floats(got[2]["embedding"]))
        #expect(first.map(\.bitPattern) == Self.tricky.map(\.bitPattern))
        // Another collection holds none of them; the default one is empty.
        #expect(try c.result("vector.get_documents", ["ids": ["d1"]]) == [.null])
        // A document without an embedding (no embedder configured) reads with embedding null.
        _ = try c.result("vector.add_documents", ["ids": ["plain"], "documents": ["no vector"]])
        #expect(try c.result("vector.get_documents", ["ids": ["plain"]]).arrayValue?[0]["embedding"] == .null)
        // After a delete, the id is not stored.
        _ = try c.result("vector.delete_documents", ["collection": "kb", "ids": ["d1"]])
        #expect(try c.result("vector.get_documents", ["collection": "kb", "ids": ["d1", "d2"]]).arrayValue?[0] == .null)
        #expect(try c.call("vector.get_documents", ["ids": []])["error"]?["data"]?["field"] == "ids")
        #expect(try c.call("vector.get_documents", ["ids": [""]])["error"]?["data"]?["field"] == "ids[0]")
    }

    @Test("inside a transaction it sees the transaction's own adds; outside, only once committed", arguments: TestBackend.allCases)
    func inTransaction(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client(), other = try proxy.client()
        let tx = try #require(try c.result("begin_transaction").stringValue)
        _ = try c.result("vector.add_documents", ["ids": ["t1"], "documents": ["in a transaction"], "transaction": .string(tx)])
        #expect(try c.result("vector.get_documents", ["ids": ["t1"], "transaction": .string(tx)]).arrayValue?[0]["document"] == "in a transaction")
        #expect(try other.result("vector.get_documents", ["ids": ["t1"]]) == [.null])
        _ = try c.result("commit_transaction", ["transaction": .string(tx)])
        #expect(try other.result("vector.get_documents", ["ids": ["t1"]]).arrayValue?[0]["id"] == "t1")
    }

    @Test("a call naming more than server.max_answer_bytes of documents is refused (-32005) on both backends", arguments: TestBackend.allCases)
    func answerBudget(backend: TestBackend) throws {
        let config = try writeConfig("server:\n  max_answer_bytes: 65536\n")
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", config])
        let c = try proxy.client()
        let text = String(repeating: "x", count: 10_000)
        let ids: [JSONValue] = (0..<20).map { .string("big\($0)") }
        _ = try c.result("vector.add_documents", ["ids": .array(ids), "documents": .array(ids.map { _ in .string(text) })])
        #expect(try c.result("vector.get_documents", ["ids": .array(Array(ids.prefix(3)))]).arrayValue?.count == 3)
        #expect(try c.errorCode("vector.get_documents", ["ids": .array(ids)]) == -32005)
    }
}
