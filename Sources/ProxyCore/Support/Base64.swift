/// Standard base64 (RFC 4648, with padding): bytes in JSON text, such as the
/// embeddings of an export, exact to the bit. ProxyCore has no Foundation.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i]), b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0, b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for text that is not padded base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(bytes: $0) }
    }

    /// The six bits each character stands for; 0xFF: not in the alphabet.
    private static let sextets: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    private static func decode(bytes chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard chars.count % 4 == 0 else { return nil }
        guard !chars.isEmpty else { return [] }
        let pad = chars[chars.count - 1] == UInt8(ascii: "=") ? (chars[chars.count - 2] == UInt8(ascii: "=") ? 2 : 1) : 0
        let body = chars.count - pad  // characters before the padding: each stands for six bits
        return sextets.withUnsafeBufferPointer { table -> [UInt8]? in
            var out = [UInt8]()
            out.reserveCapacity(chars.count / 4 * 3)
            var bad: UInt8 = 0
            var start = 0
            while start + 4 <= body {  // whole quadruples, the hot loop: no branch per character
                let a = table[Int(chars[start])], b = table[Int(chars[start + 1])], c = table[Int(chars[start + 2])], d = table[Int(chars[start + 3])]
                bad |= a | b | c | d
                let n = UInt32(a & 63) << 18 | UInt32(b & 63) << 12 | UInt32(c & 63) << 6 | UInt32(d & 63)
                out.append(UInt8(truncatingIfNeeded: n >> 16))
                out.append(UInt8(truncatingIfNeeded: n >> 8))
                out.append(UInt8(truncatingIfNeeded: n))
                start += 4
            }
            guard bad & 0xC0 == 0 else { return nil }
            if pad > 0 {  // the last quadruple: 2 or 3 characters, then padding
                let a = table[Int(chars[start])], b = table[Int(chars[start + 1])]
                let c = pad == 1 ? table[Int(chars[start + 2])] : 0
                guard (a | b | c) & 0xC0 == 0 else { return nil }
                let n = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                out.append(UInt8(truncatingIfNeeded: n >> 16))
                if pad == 1 { out.append(UInt8(truncatingIfNeeded: n >> 8)) }
            }
            return out
        }
    }
}
