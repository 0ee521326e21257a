import ProxyCore
import SQLStore

/// A row as a live-event NOTIFY carries it (a JSON array, see
/// `Schema.postgresEventTriggers`), read like a result row: each value as
/// PostgreSQL's text format would give it, so the shared row codec decodes
/// it exactly as it decodes a query's row.
struct NotifyRow: SQLRow {
    let values: ArraySlice<JSONValue>

    private func value(_ column: Int) -> JSONValue? {
        let i = values.startIndex + column
        return i < values.endIndex ? values[i] : nil
    }

    func text(_ column: Int) -> String? {
        switch value(column) {
        case .string(let s)?: return s
        case .int(let n)?: return String(n)
        case .bool(let b)?: return b ? "t" : "f"
        case .double(let d)?: return String(d)
        default: return nil
        }
    }

    func int(_ column: Int) -> Int64? {
        switch value(column) {
        case .int(let n)?: return n
        case .string(let s)?: return Int64(s)
        default: return nil
        }
    }
}
