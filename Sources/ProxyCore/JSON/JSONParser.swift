/// Why a line could not be read as JSON. The RPC layer maps `.syntax` to
/// -32700 and `.tooDeep` to -32600, as the contract pins.
public enum JSONParseError: Error, Equatable, Sendable {
    case syntax(String, offset: Int)
    case tooDeep(limit: Int)
}

/// A byte-level JSON parser (RFC 8259) working straight on the received bytes.
///
/// Strings must be valid UTF-8 and escapes may not produce lone surrogates;
/// nesting is capped so a line of 100,000 `[` costs nothing but an error.
public struct JSONParser {
    public static let defaultMaxDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private let maxDepth: Int
    private var scratch: [UInt8] = []
    /// Request parsing: the depth of request objects (1: the line is one
    /// object, 2: a batch), the batch element being read, and by element the
    /// literal text of each numeric `id` that re-encoding would change.
    private var requestDepth = 0
    private var element = 0
    private var numericIDs: [Int: String] = [:]

    private init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses exactly one JSON value surrounded by optional white space.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes, maxDepth: maxDepth)
        p.skipWhitespace()
        let value = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.pos != bytes.count { throw p.error("unexpected data after the JSON value") }
        return value
    }

    /// Parses a JSON-RPC line, also returning the literal text of each
    /// request's numeric `id` that re-encoding would change (by batch
    /// element; 0 for a single request), so `1e2`, `-0` or 2^64 are answered
    /// exactly as they were sent.
    public static func parseRequestLine(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth)
        throws(JSONParseError) -> (value: JSONValue, numericIDs: [Int: String])
    {
        var p = JSONParser(bytes, maxDepth: maxDepth)
        p.skipWhitespace()
        if p.pos < bytes.count { p.requestDepth = bytes[p.pos] == UInt8(ascii: "[") ? 2 : 1 }
        let value = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.pos != bytes.count { throw p.error("unexpected data after the JSON value") }
        return (value, p.numericIDs)
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBufferPointer { buf in
            Result { () throws(JSONParseError) in try parse(buf, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    // MARK: - Values

    private func error(_ message: String) -> JSONParseError { .syntax(message, offset: pos) }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard pos < bytes.count else { throw error("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func expectWord(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw error("invalid literal") }
        let w = word.utf8Start
        for i in 0..<n where bytes[pos + i] != w[i] { throw error("invalid literal") }
        pos += n
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw .tooDeep(limit: maxDepth) }
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(8)  // one allocation for a typical request object, not three
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(JSONObject(members)) }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
            pos += 1
            skipWhitespace()
            let valueStart = pos
            let value = try parseValue(depth: depth)
            if depth == requestDepth, key == "id" { recordIDLiteral(of: value, from: valueStart) }
            members.append((key, value))
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(JSONObject(members)) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw .tooDeep(limit: maxDepth) }
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            if depth == 1 { element = items.count }
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    /// Keeps the literal only where re-encoding the value would change it
    /// (a fraction, an exponent, a big integer, `-0`): the common small
    /// integer id costs no dictionary and no string.
    private mutating func recordIDLiteral(of value: JSONValue, from start: Int) {
        switch value {
        case .double: break
        case .int(0) where bytes[start] == UInt8(ascii: "-"): break
        default: return
        }
        numericIDs[element] = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
    }

    // MARK: - Strings

    private mutating func parseString() throws(JSONParseError) -> String {
        pos += 1
        let start = pos
        var ascii = true
        // Fast path: no escapes; ASCII needs no validation.
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<pos])
                pos += 1
                if ascii { return String(decoding: slice, as: UTF8.self) }
                guard let s = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in string") }
            if b >= 0x80 { ascii = false }
            pos += 1
        }
        guard pos < bytes.count else { throw error("unterminated string") }
        // Slow path: unescape into scratch, then validate once.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                guard let s = String(validating: scratch, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") { scratch.append(b); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"): try appendUnicodeEscape()
            default: throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    private mutating func appendUnicodeEscape() throws(JSONParseError) {
        var scalar = try hex4()
        if (0xDC00...0xDFFF).contains(scalar) { throw error("lone surrogate in \\u escape") }
        if (0xD800...0xDBFF).contains(scalar) {
            guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                throw error("lone surrogate in \\u escape")
            }
            pos += 2
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate in \\u escape") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
        scratch.append(contentsOf: UTF8.encode(u)!)
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = pos
        var negative = false
        if bytes[pos] == UInt8(ascii: "-") { negative = true; pos += 1 }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid number") }
        if bytes[pos] == UInt8(ascii: "0"), pos + 1 < bytes.count, isDigit(bytes[pos + 1]) {
            throw error("leading zero in number")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        while pos < bytes.count, isDigit(bytes[pos]) {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[pos] - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            magnitude = m2
            pos += 1
        }
        var isInteger = true
        // The digits as one integer and a power of ten, for the exact fast path below.
        var mantissa = magnitude, exponent = 0, exact = !overflow
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid number") }
            while pos < bytes.count, isDigit(bytes[pos]) {
                let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[pos] - UInt8(ascii: "0")))
                exact = exact && !o1 && !o2
                mantissa = m2
                exponent -= 1
                pos += 1
            }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            var sign = 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") {
                if bytes[pos] == UInt8(ascii: "-") { sign = -1 }
                pos += 1
            }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw error("invalid number") }
            var written = 0, digits = 0
            while pos < bytes.count, isDigit(bytes[pos]) {
                if digits < 6 { written = written * 10 + Int(bytes[pos] - UInt8(ascii: "0")) }
                digits += 1
                pos += 1
            }
            exact = exact && digits < 6
            exponent += sign * written
        }
        if isInteger, !overflow {
            if !negative, magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
            if negative, magnitude <= UInt64(Int64.max) + 1 { return .int(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)) }
        }
        if exact, let d = JSONNumber.double(mantissa: mantissa, exponent: exponent, negative: negative) { return .double(d) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw error("number out of range") }
        return .double(d)
    }

    @inline(__always) private func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
}
