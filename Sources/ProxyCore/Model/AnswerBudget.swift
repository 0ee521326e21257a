/// The bytes one answer may take (`server.max_answer_bytes`), counted by a
/// backend as it reads rows: a page of big rows is refused with -32005
/// before it is held in memory whole, not after it has been encoded.
/// Counts the rows' stored bytes, which the encoded answer never undercuts
/// (escaping only adds), so nothing the encoder would accept is refused.
public struct AnswerBudget: Hashable, Sendable {
    public let limit: Int
    public private(set) var used = 0

    public init(limit: Int) { self.limit = limit }

    public static let unlimited = AnswerBudget(limit: .max)

    public mutating func spend(_ bytes: Int) throws(ProxyError) {
        used += bytes
        if used > limit { throw .requestTooLarge(limit: limit, subject: "answer") }
    }
}
