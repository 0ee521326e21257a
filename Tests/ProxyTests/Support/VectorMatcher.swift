import Foundation
import ProxyCore

/// Matches a response against a vector's `expect` pattern (see
/// protocol/vectors/README.md), collecting `$capture:NAME` values.
struct VectorMatcher {
    var captures: [String: String] = [:]

    func substitute(_ text: String) -> String {
        var out = text
        for (name, value) in captures { out = out.replacingOccurrences(of: "${\(name)}", with: value) }
        return out
    }

    /// nil when it matches, else where and why not.
    mutating func mismatch(_ actual: JSONValue, _ pattern: JSONValue, path: String = "$") -> String? {
        if case .string(let p) = pattern {
            if p == "$any" { return nil }
            if p == "$string" { return actual.stringValue == nil ? "\(path): expected a string" : nil }
            if p == "$timestamp" {
                guard let s = actual.stringValue, s.count == 27, s.hasSuffix("Z"), Timestamp(rfc3339: s) != nil else { return "\(path): expected a timestamp, got \(actual.jsonText)" }
                return nil
            }
            if p == "$uuid" {
                guard let s = actual.stringValue, s.count == 36, s.split(separator: "-").count == 5 else { return "\(path): expected a uuid, got \(actual.jsonText)" }
                return nil
            }
            if p.hasPrefix("$capture:") {
                guard let s = actual.stringValue else { return "\(path): expected a string to capture" }
                captures[String(p.dropFirst(9))] = s
                return nil
            }
            return actual == .string(substitute(p)) ? nil : "\(path): expected \(substitute(p)), got \(actual.jsonText)"
        }
        switch (actual, pattern) {
        case (.object(let a), .object(let p)):
            if Set(a.keys) != Set(p.keys) { return "\(path): keys \(a.keys.sorted()) != \(p.keys.sorted())" }
            for (k, pv) in p.members {
                if let m = mismatch(a[k]!, pv, path: "\(path).\(k)") { return m }
            }
            return nil
        case (.array(let a), .array(let p)):
            if a.count != p.count { return "\(path): \(a.count) items, expected \(p.count)" }
            for (i, (av, pv)) in zip(a, p).enumerated() {
                if let m = mismatch(av, pv, path: "\(path)[\(i)]") { return m }
            }
            return nil
        default:
            return actual == pattern ? nil : "\(path): expected \(pattern.jsonText), got \(actual.jsonText)"
        }
    }
}
