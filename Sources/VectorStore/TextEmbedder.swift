import ProxyCore

/// What turns texts into vectors for the vector store (`vector.embedder`):
/// the documents an add brings without embeddings, and the text of a search.
public protocol TextEmbedder: AnyObject {
    /// Recorded with each vector it made (`embedded_by`).
    var model: String { get }
    /// One vector per text, in order; `-32003` when it cannot.
    func embed(_ texts: [String], _ done: @escaping Completion<[[Float]]>)
    /// Figures for `server.status`.
    var status: JSONValue { get }
    /// Fails what is in flight and lets go of the loop's handles.
    func close()
}
