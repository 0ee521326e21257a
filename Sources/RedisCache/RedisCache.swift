import ProxyCore
import StoragePorts

/// `cache.*` in Redis: the application's key space, under `{prefix}app:` so
/// that no pattern can reach the proxy's own entries. Values are stored as
/// their JSON text. While Redis is unavailable every call gets the retryable
/// `backend unavailable` error (storage calls are not affected). Loop thread only.
public final class RedisCache: CacheAdapter {
    private let redis: RedisClient
    private let space: String

    public init(redis: RedisClient) {
        self.redis = redis
        space = redis.settings.keyPrefix + "app:"
    }

    public var cacheName: String { "redis" }

    private func key(_ k: String) -> String { space + k }

    /// Runs a command; an error reply becomes a proxy error (never showing
    /// anything but Redis's own message).
    private func run<T>(_ args: RedisCommand, _ done: @escaping Completion<T>, _ map: @escaping (RedisReply) -> T?) {
        redis.command(args) { result in
            switch result {
            case .failure(let error): done(.failure(error))
            case .success(.error(let message)):
                done(.failure(message.hasPrefix("WRONGTYPE") ? .conflict("Redis: \(message)")
                                                              : .backendUnavailable("Redis: \(message)", retryAfterMs: 500)))
            case .success(let reply):
                guard let value = map(reply) else { return done(.failure(.internalError("unexpected Redis reply"))) }
                done(.success(value))
            }
        }
    }

    public func get(_ k: String, _ done: @escaping Completion<JSONValue?>) {
        run(["GET", key(k)], done) { reply -> JSONValue?? in
            switch reply {
            case .null: return .some(nil)
            case .bulk(let bytes):
                let text = String(decoding: bytes, as: UTF8.self)
                // Written by someone else than the proxy and not JSON: the text itself.
                return .some((try? JSONParser.parse(text, maxDepth: 512)) ?? .string(text))
            default: return nil
            }
        }
    }

    public func set(_ k: String, _ value: JSONValue, ttl: Double?, _ done: @escaping Completion<Bool>) {
        var args: RedisCommand = ["SET", key(k), value.jsonText]
        if let ttl {
            let ms = Int64((ttl * 1000).rounded(.up))
            guard ms > 0 else {  // already expired, as the in-process cache treats it
                return run(["DEL", key(k)], done) { _ in true }
            }
            args.append("PX")
            args.append(String(ms))
        }
        run(args, done) { _ in true }
    }

    public func delete(_ k: String, _ done: @escaping Completion<Bool>) {
        run(["DEL", key(k)], done) { $0.integer.map { $0 > 0 } }
    }

    public func exists(_ k: String, _ done: @escaping Completion<Bool>) {
        run(["EXISTS", key(k)], done) { $0.integer.map { $0 > 0 } }
    }

    /// `SCAN … MATCH` in steps (never `KEYS`, which blocks Redis), unlinking
    /// what each step found.
    public func clearPattern(_ pattern: String, _ done: @escaping Completion<Int>) {
        scan(cursor: "0", match: Self.escapeGlob(space) + pattern, removed: 0, done)
    }

    private func scan(cursor: String, match: String, removed: Int, _ done: @escaping Completion<Int>) {
        let args: RedisCommand = ["SCAN", cursor, "MATCH", match, "COUNT", "1000"]
        run(args, { [self] (result: Result<(String, [[UInt8]]), ProxyError>) in
            switch result {
            case .failure(let error): done(.failure(error))
            case .success(let (next, keys)):
                let finish: (Int) -> Void = { [self] n in
                    next == "0" ? done(.success(removed + n)) : scan(cursor: next, match: match, removed: removed + n, done)
                }
                guard !keys.isEmpty else { return finish(0) }
                var unlink: RedisCommand = ["UNLINK"]
                for k in keys { unlink.append(bytes: k) }
                run(unlink, { (r: Result<Int, ProxyError>) in
                    switch r {
                    case .failure(let error): done(.failure(error))
                    case .success(let n): finish(n)
                    }
                }) { $0.integer.map(Int.init) }
            }
        }) { reply in
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text,
                  case .array(let found) = parts[1] else { return nil }
            return (next, found.compactMap { if case .bulk(let b) = $0 { return b } else { return nil } })
        }
    }

    public func ping(_ done: @escaping Completion<Bool>) {
        redis.command(["PING"]) { done(.success((try? $0.get()) == .status("PONG"))) }
    }

    public func statusReport() -> JSONValue { redis.figures }

    public func close() { redis.close() }

    /// The prefix as a literal inside a `MATCH` pattern.
    static func escapeGlob(_ s: String) -> String {
        var out = ""
        for c in s {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
