import ProxyCore

/// A request's named parameters with typed, checked access. Every failure
/// is `-32602` naming the field.
struct Params {
    let object: JSONObject
    let spec: MethodSpec

    /// Rejects names the method does not take (a typo must not be ignored)
    /// and strings holding U+0000 (no backend can store them alike).
    init(_ object: JSONObject, spec: MethodSpec) throws(ProxyError) {
        for member in object.members where !spec.params.contains(where: { $0.name == member.key }) {  // (not `keys`: no array)
            throw ProxyError.invalidParams(field: member.key, reason: "is not a parameter of \(spec.name)")
        }
        for p in spec.params where p.required && object[p.name] == nil {
            throw ProxyError.invalidParams(field: p.name, reason: "is required")
        }
        if let path = JSONValue.object(object).pathOfNULString(prefix: "") {
            throw ProxyError.invalidParams(field: path, reason: "must not contain U+0000")
        }
        self.object = object
        self.spec = spec
    }

    private func present(_ name: String) -> JSONValue? {
        guard let v = object[name], v != .null else { return nil }
        return v
    }

    /// A parameter that must be present, read with one of the optional readers.
    private func required<T>(_ name: String, _ read: (String) throws(ProxyError) -> T?) throws(ProxyError) -> T {
        guard let value = try read(name) else { throw ProxyError.invalidParams(field: name, reason: "is required") }
        return value
    }

    func string(_ name: String) throws(ProxyError) -> String { try required(name, optionalString) }
    func timestamp(_ name: String) throws(ProxyError) -> Timestamp { try required(name, optionalTimestamp) }
    func objectParam(_ name: String) throws(ProxyError) -> JSONObject { try required(name, optionalObject) }
    func logLevel(_ name: String) throws(ProxyError) -> LogLevel { try required(name, optionalLogLevel) }

    func optionalString(_ name: String) throws(ProxyError) -> String? {
        guard let v = present(name) else { return nil }
        guard case .string(let s) = v else { throw ProxyError.invalidParams(field: name, reason: "must be a string, got \(v.typeName)") }
        return s
    }

    /// An integer parameter declared with `ParamSpec.integer`: its range and default are the row's.
    func int(_ name: String) throws(ProxyError) -> Int {
        guard let p = spec.params.first(where: { $0.name == name }), let range = p.range else {
            preconditionFailure("\(spec.name): \(name) is not declared with ParamSpec.integer")
        }
        guard let def = p.defaultInt else {
            guard present(name) != nil else { throw ProxyError.invalidParams(field: name, reason: "is required") }
            return try int(name, default: range.lowerBound, in: range)
        }
        return try int(name, default: def, in: range)
    }

    func int(_ name: String, default def: Int, in range: ClosedRange<Int>) throws(ProxyError) -> Int {
        guard let v = present(name) else { return def }
        guard let i = v.intValue, let n = Int(exactly: i), range.contains(n) else {
            throw ProxyError.invalidParams(field: name, reason: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func optionalInt(_ name: String, in range: ClosedRange<Int>) throws(ProxyError) -> Int? {
        guard present(name) != nil else { return nil }
        return try int(name, default: range.lowerBound, in: range)
    }

    func optionalBool(_ name: String) throws(ProxyError) -> Bool? {
        guard let v = present(name) else { return nil }
        guard case .bool(let b) = v else { throw ProxyError.invalidParams(field: name, reason: "must be true or false, got \(v.typeName)") }
        return b
    }

    /// A number inside `range` (open at 0 when `range` starts above it):
    /// every number reaches a backend only after this check, so none can
    /// overflow a conversion there.
    func optionalNumber(_ name: String, in range: ClosedRange<Double>, exclusiveLowerBound: Bool = false) throws(ProxyError) -> Double? {
        guard let v = present(name) else { return nil }
        guard let d = v.doubleValue else { throw ProxyError.invalidParams(field: name, reason: "must be a number, got \(v.typeName)") }
        guard range.contains(d), !(exclusiveLowerBound && d == range.lowerBound) else {
            let low = exclusiveLowerBound ? "more than \(range.lowerBound.formatted)" : "from \(range.lowerBound.formatted)"
            throw ProxyError.invalidParams(field: name, reason: "must be a number \(low) up to \(range.upperBound.formatted)")
        }
        return d
    }

    /// A string of at most `maxBytes` UTF-8 bytes.
    func string(_ name: String, maxBytes: Int) throws(ProxyError) -> String {
        let s = try string(name)
        guard s.utf8.count <= maxBytes else {
            throw ProxyError.invalidParams(field: name, reason: "is longer than \(maxBytes) bytes")
        }
        return s
    }

    func optionalTimestamp(_ name: String) throws(ProxyError) -> Timestamp? {
        guard let v = present(name) else { return nil }
        guard case .string(let s) = v, let t = Timestamp(rfc3339: s) else {
            throw ProxyError.invalidParams(field: name, reason: "must be an RFC 3339 timestamp string")
        }
        return t
    }

    func optionalObject(_ name: String) throws(ProxyError) -> JSONObject? {
        guard let v = present(name) else { return nil }
        guard case .object(let o) = v else { throw ProxyError.invalidParams(field: name, reason: "must be an object, got \(v.typeName)") }
        return o
    }

    /// DEBUG, INFO, WARNING, ERROR or CRITICAL, in any case.
    func optionalLogLevel(_ name: String) throws(ProxyError) -> LogLevel? {
        guard let text = try optionalString(name) else { return nil }
        guard let level = LogLevel(loose: text) else {
            throw ProxyError.invalidParams(field: name, reason: "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        }
        return level
    }

    /// Any JSON value, `null` included (it must be present).
    func value(_ name: String) throws(ProxyError) -> JSONValue {
        guard let v = object[name] else { throw ProxyError.invalidParams(field: name, reason: "is required") }
        return v
    }
}

extension Double {
    /// `1e9` as `1000000000`, `0.5` as `0.5`: for error messages.
    fileprivate var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}
