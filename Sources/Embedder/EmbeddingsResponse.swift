import ProxyCore

/// Reads an `/v1/embeddings` answer, trusting nothing in it: the status, the
/// JSON, the count, each vector's length and every number are checked, and
/// a refusal says why in the embedder's own words (cut short).
enum EmbeddingsResponse {
    static func vectors(_ status: Int, _ body: [UInt8], count: Int, maxDimension: Int) -> Result<[[Float]], ProxyError> {
        let parsed = try? JSONParser.parse(body, maxDepth: 16)
        guard status == 200 else {
            let said = parsed.flatMap(errorMessage) ?? String(decoding: body.prefix(200), as: UTF8.self)
            return .failure(.backendUnavailable("HTTP \(status)\(said.isEmpty ? "" : ": " + String(said.prefix(200)))", retryAfterMs: 1000))
        }
        guard let items = parsed?.objectValue?["data"]?.arrayValue else {
            return garbage("no \"data\" array")
        }
        guard items.count == count else { return garbage("\(items.count) embeddings for \(count) texts") }
        var out = [[Float]?](repeating: nil, count: count)
        for (position, item) in items.enumerated() {
            guard let o = item.objectValue, case .array(let numbers)? = o["embedding"] else { return garbage("an item without an \"embedding\" array") }
            let index = o["index"]?.intValue.map { Int($0) } ?? position
            guard index >= 0, index < count, out[index] == nil else { return garbage("index \(index) out of place") }
            guard !numbers.isEmpty, numbers.count <= maxDimension else {
                return garbage("an embedding of \(numbers.count) components (vector.max_dimension is \(maxDimension))")
            }
            var v = [Float]()
            v.reserveCapacity(numbers.count)
            for n in numbers {
                guard let d = n.doubleValue, d.isFinite, abs(d) <= Double(Float.greatestFiniteMagnitude) else {
                    return garbage("a component that is not a finite number")
                }
                v.append(Float(d))
            }
            out[index] = v
        }
        let vectors = out.map { $0! }
        guard Set(vectors.map(\.count)).count == 1 else { return garbage("embeddings of different lengths") }
        return .success(vectors)
    }

    private static func garbage(_ why: String) -> Result<[[Float]], ProxyError> {
        .failure(.backendUnavailable("answered something that is not an embeddings response (\(why))", retryAfterMs: 1000))
    }

    /// `{"error": {"message": …}}` (OpenAI, vLLM) or `{"error": "…"}` (Ollama).
    private static func errorMessage(_ v: JSONValue) -> String? {
        guard let e = v.objectValue?["error"] else { return nil }
        return e.objectValue?["message"]?.stringValue ?? e.stringValue
    }
}

/// The last `capacity` or so texts' vectors, roughly least recently used
/// first out: two generations, the older dropped whole when the newer fills
/// (O(1) per call, no list to keep).
struct EmbeddingCache {
    let capacity: Int
    private var recent: [String: [Float]] = [:]
    private var older: [String: [Float]] = [:]

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { recent.count + older.count }

    mutating func get(_ text: String) -> [Float]? {
        if let v = recent[text] { return v }
        guard let v = older.removeValue(forKey: text) else { return nil }
        put(text, v)
        return v
    }

    mutating func put(_ text: String, _ v: [Float]) {
        guard capacity > 0 else { return }
        if recent.count >= (capacity + 1) / 2 {
            older = recent
            recent = [:]
        }
        recent[text] = v
    }
}
