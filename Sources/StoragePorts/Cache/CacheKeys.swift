import ProxyCore

/// Names of the proxy's read-through entries, as the seed gives them:
/// `task:{id}` and `tasks:{agent}:{status}`, here with limit and offset
/// appended (they change the answer) and `*` for "any". Each part is
/// escaped, so `agent "a:b"` and `agent "a", status "b:…"` never share a name.
public enum CacheKeys {
    public static func task(_ id: String) -> String { "task:" + escape(id) }

    public static func taskList(_ q: TaskQuery) -> String {
        "tasks:\(q.agentName.map(escape) ?? "*"):\(q.status.map(escape) ?? "*"):\(q.limit):\(q.offset)"
    }

    /// `%`, `:` and `*` as %XX; everything else as is.
    public static func escape(_ part: String) -> String {
        guard part.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "*") }) else { return part }
        var out = ""
        for c in part.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case ":": out += "%3A"
            case "*": out += "%2A"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
