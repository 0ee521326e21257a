extension String {
    /// `%XX` decoded (a URL's password may hold `@` or `:`, a console query any
    /// character); malformed escapes kept as written, bytes that are not UTF-8
    /// replaced. No recursion, one pass.
    public var removingPercentEncodingSimple: String {
        var bytes: [UInt8] = []
        var it = Array(utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
