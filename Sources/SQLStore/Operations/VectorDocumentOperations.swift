import ProxyCore
import StoragePorts

/// Reads of the vector store's documents by id, straight from storage
/// (`vector.get_documents`). Not read-through entries: documents are written
/// by the vector store, which keeps its own matrices current instead.
public enum VectorDocumentOperations {
    /// The documents with these ids, in the order asked: nil for an id not
    /// stored. Read as a page under the answer budget, so a call naming many
    /// large documents stops (-32005) before it holds more than that.
    public static func get(ids: [String], collection: String, budget: AnswerBudget) -> Operation<StoredDocuments> {
        Operation(.read, page: (budget, 4), statement: { d in
                      let list = d == .sqlite ? "SELECT value FROM json_each($2)" : "SELECT jsonb_array_elements_text($2::jsonb)"
                      var values: [SQLValue] = [.text(collection), VectorStatements.idList(ids), .int(Int64(ids.count))]
                      let sql = d.page(columns: "id, document, \(d.readJSON("metadata")), embedding", table: "vector_documents",
                                       conditions: ["collection = $1", "id IN (\(list))"], order: "id", limit: "LIMIT $3",
                                       budget: budget, &values)
                      return (sql, values)
                  },
                  initial: StoredDocuments(asked: ids),
                  eachRow: { row, _, out in
                      let doc = VectorDocument(id: row.text(0) ?? "", text: row.text(1) ?? "", metadata: row.json(2)?.objectValue,
                                               embedding: row.float32s(3))
                      out.found[doc.id] = doc
                  })
    }
}

/// Documents found by id, answered in the order they were asked for.
public struct StoredDocuments: JSONWritable {
    let asked: [String]
    var found: [String: VectorDocument] = [:]

    public func writeJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, id) in asked.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let doc = found[id] else { JSONWriter.raw("null", into: &out); continue }
            JSONWriter.raw("{\"id\":", into: &out)
            JSONWriter.string(doc.id, into: &out)
            JSONWriter.raw(",\"document\":", into: &out)
            JSONWriter.string(doc.text, into: &out)
            JSONWriter.raw(",\"metadata\":", into: &out)
            doc.metadata.writeJSON(into: &out)
            JSONWriter.raw(",\"embedding\":", into: &out)
            if let embedding = doc.embedding {
                out.append(UInt8(ascii: "["))
                for (j, f) in embedding.enumerated() {
                    if j > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: f.description.utf8)  // the shortest text that reads back as this float32
                }
                out.append(UInt8(ascii: "]"))
            } else {
                JSONWriter.raw("null", into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }
}
