/// Something that can encode itself as JSON straight into an output buffer,
/// so responses never pass through an intermediate tree or Foundation.
public protocol JSONWritable {
    func writeJSON(into out: inout [UInt8])
}

/// Byte-level JSON encoding helpers appending to `[UInt8]`.
public enum JSONWriter {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    public static func raw(_ s: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let b = utf8[i]
                guard b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                runStart = i + 1
                out.append(UInt8(ascii: "\\"))
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(b)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    out.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func int(_ v: Int64, into out: inout [UInt8]) {
        if v >= 0 && v < 10 { out.append(UInt8(ascii: "0") + UInt8(v)); return }
        var magnitude = v.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of stack room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buf in
            var n = 0
            repeat {
                buf[23 - n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            if v < 0 { buf[23 - n] = UInt8(ascii: "-"); n += 1 }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[(24 - n)...]))
        }
    }

    public static func double(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else { raw("null", into: &out); return }
        if d == 0, d.sign == .minus { raw("-0.0", into: &out); return }  // Int64 would lose the sign
        if d.rounded() == d, abs(d) < 1e15 { int(Int64(d), into: &out); raw(".0", into: &out); return }
        out.append(contentsOf: d.description.utf8)
    }

    public static func bool(_ b: Bool, into out: inout [UInt8]) {
        if b { raw("true", into: &out) } else { raw("false", into: &out) }
    }

    /// `"key":` — for hand-written encoders of records.
    @inline(__always)
    public static func key(_ k: StaticString, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        raw(k, into: &out)
        raw("\":", into: &out)
    }

    public static func optionalString(_ s: String?, into out: inout [UInt8]) {
        if let s { string(s, into: &out) } else { raw("null", into: &out) }
    }
}

extension JSONValue: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        switch self {
        case .null: JSONWriter.raw("null", into: &out)
        case .bool(let b): JSONWriter.bool(b, into: &out)
        case .int(let i): JSONWriter.int(i, into: &out)
        case .double(let d): JSONWriter.double(d, into: &out)
        case .string(let s): JSONWriter.string(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.writeJSON(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o): o.writeJSON(into: &out)
        }
    }

    /// The compact encoding as a String (tests, logs, SQL parameters).
    public var jsonText: String {
        var out: [UInt8] = []
        writeJSON(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Indented encoding for people (`storage-proxy call`).
    public func prettyPrinted(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let end = String(repeating: "  ", count: indent)
        switch self {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { pad + $0.prettyPrinted(indent: indent + 1) }.joined(separator: ",\n") + "\n\(end)]"
        case .object(let o) where !o.isEmpty:
            return "{\n" + o.members.map { pad + JSONValue.string($0.key).jsonText + ": " + $0.value.prettyPrinted(indent: indent + 1) }
                .joined(separator: ",\n") + "\n\(end)}"
        default:
            return jsonText
        }
    }
}

extension JSONObject: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, m) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(m.key, into: &out)
            out.append(UInt8(ascii: ":"))
            m.value.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

extension Array: JSONWritable where Element: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, item) in enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            item.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}

extension Optional: JSONWritable where Wrapped: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) {
        if let self { self.writeJSON(into: &out) } else { JSONWriter.raw("null", into: &out) }
    }
}

extension Bool: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) { JSONWriter.bool(self, into: &out) }
}

extension Int: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) { JSONWriter.int(Int64(self), into: &out) }
}

extension String: JSONWritable {
    public func writeJSON(into out: inout [UInt8]) { JSONWriter.string(self, into: &out) }
}
