import EventLoop
import ProxyConfig
import ProxyCore
import VectorStore

/// Texts to vectors through an OpenAI-compatible `/v1/embeddings` endpoint
/// (OpenAI, Ollama, vLLM, llama.cpp's server, text-embeddings-inference):
/// `{"model": m, "input": [texts]}` → `{"data": [{"index": i, "embedding": [...]}]}`.
/// Texts go in batches of `batchSize`, at most `maxConcurrent` requests at
/// once (the rest wait in order); each text's vector is kept in a
/// least-recently-used cache, so a text is embedded once. Loop thread only.
public final class OpenAIEmbedder: TextEmbedder {
    /// `vector.embedder`; its `apiKey` is sent as `Authorization: Bearer …`, never logged, never in an error.
    public let settings: ProxyConfig.Embedder
    /// `vector.max_dimension`: a longer vector from the endpoint is refused.
    let maxDimension: Int
    public var model: String { settings.model }
    /// The most an answer may hold: a batch of the longest vectors allowed, at
    /// 32 bytes of JSON a number (more than any float needs), plus 64 KiB of
    /// the rest. Past it, libcurl stops reading and the batch fails.
    var maxResponseBytes: Int { settings.batchSize * maxDimension * 32 + (64 << 10) }
    private let http: CurlMulti
    private var cache: EmbeddingCache
    private var waiting: [() -> Void] = []
    private var running = 0
    private(set) public var requests = 0, failures = 0

    public init(loop: UVLoop, settings: ProxyConfig.Embedder, maxDimension: Int) {
        self.settings = settings
        self.maxDimension = maxDimension
        http = CurlMulti(loop: loop)
        cache = EmbeddingCache(capacity: settings.cacheEntries)
    }

    public func close() { http.close() }

    /// The endpoint without credentials, for logs.
    public var address: String { redacted(settings.url) }

    public func embed(_ texts: [String], _ done: @escaping Completion<[[Float]]>) {
        var found = [[Float]?](repeating: nil, count: texts.count)
        var missing: [String] = []
        var seen = Set<String>()
        for (i, text) in texts.enumerated() {
            if let v = cache.get(text) { found[i] = v } else if seen.insert(text).inserted { missing.append(text) }
        }
        guard !missing.isEmpty else { return done(.success(found.map { $0! })) }
        let batches = stride(from: 0, to: missing.count, by: settings.batchSize).map { Array(missing[$0..<min($0 + settings.batchSize, missing.count)]) }
        var left = batches.count
        var failure: ProxyError?
        var fresh: [String: [Float]] = [:]
        for batch in batches {
            request(batch) { [self] result in
                switch result {
                case .success(let vectors):
                    for (text, v) in zip(batch, vectors) {
                        cache.put(text, v)
                        fresh[text] = v
                    }
                case .failure(let e): failure = failure ?? e
                }
                left -= 1
                guard left == 0 else { return }
                if let failure { return done(.failure(failure)) }
                done(.success(texts.indices.map { found[$0] ?? fresh[texts[$0]]! }))
            }
        }
    }

    /// One batch, when a request slot is free.
    private func request(_ batch: [String], _ done: @escaping Completion<[[Float]]>) {
        guard running < settings.maxConcurrent else {
            waiting.append { [self] in request(batch, done) }
            return
        }
        running += 1
        requests += 1
        let body = JSONValue.object(["model": .string(settings.model), "input": .array(batch.map { .string($0) })]).jsonText
        var headers = ["Content-Type: application/json", "Accept: application/json"]
        if let key = settings.apiKey, !key.isEmpty { headers.append("Authorization: Bearer \(key)") }
        http.post(url: settings.url, headers: headers, body: Array(body.utf8), timeoutMs: settings.timeoutMs,
                  maxResponseBytes: maxResponseBytes) { [self] result in
            running -= 1
            let answer = result.flatMap { r in EmbeddingsResponse.vectors(r.status, r.body, count: batch.count, maxDimension: maxDimension) }
            if case .failure = answer { failures += 1 }
            done(answer.mapError { e in .backendUnavailable("embedder \(redacted(settings.url)): \(e.detail)", retryAfterMs: 1000) })
            if !waiting.isEmpty { waiting.removeFirst()() }
        }
    }

    public var status: JSONValue {
        ["model": .string(settings.model), "url": .string(redacted(settings.url)), "requests": .int(Int64(requests)),
         "failures": .int(Int64(failures)), "in_flight": .int(Int64(running)), "cached": .int(Int64(cache.count))]
    }
}

/// A URL without its user information (`user:password@`), for messages.
func redacted(_ url: String) -> String {
    let chars = Array(url)
    guard let colon = chars.indices.first(where: { i in i + 2 < chars.count && chars[i] == ":" && chars[i + 1] == "/" && chars[i + 2] == "/" })
    else { return url }
    let hostStart = colon + 3
    let hostEnd = chars[hostStart...].firstIndex(of: "/") ?? chars.count
    guard let at = chars[hostStart..<hostEnd].lastIndex(of: "@") else { return url }
    return String(chars[..<hostStart]) + "…@" + String(chars[(at + 1)...])
}

