import CHiredis

/// A Redis reply, copied out of hiredis (which frees its own after the callback).
public enum RedisReply: Equatable, Sendable {
    case bulk([UInt8])
    case status(String)
    case integer(Int64)
    case null
    case array([RedisReply])
    case error(String)

    init(_ r: UnsafeMutablePointer<redisReply>) {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            self = .bulk(Array(UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len))))
        case REDIS_REPLY_STATUS:
            self = .status(String(cString: reply.str))
        case REDIS_REPLY_ERROR:
            self = .error(String(cString: reply.str))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            self = .array((0..<Int(reply.elements)).map { RedisReply(reply.element[$0]!) })
        default:
            self = .null
        }
    }

    public var text: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk, .status: return text.flatMap { Int64($0) }
        default: return nil
        }
    }
}

/// A reply read in place, during the callback that receives it (hiredis
/// frees it afterwards): the hot path takes only the bytes it keeps.
struct RedisReplyView {
    let raw: UnsafeMutablePointer<redisReply>

    var isArray: Bool { raw.pointee.type == REDIS_REPLY_ARRAY }
    var count: Int { isArray ? Int(raw.pointee.elements) : 0 }
    subscript(i: Int) -> RedisReplyView { RedisReplyView(raw: raw.pointee.element[i]!) }

    /// A bulk string's bytes (nil for anything else, including a missing key).
    var bytes: UnsafeRawBufferPointer? {
        guard raw.pointee.type == REDIS_REPLY_STRING else { return nil }
        return UnsafeRawBufferPointer(start: raw.pointee.str, count: Int(raw.pointee.len))
    }
}
