import ProxyCore

/// The seed's `CacheAdapter` on the application's own key space.
enum CacheMethods {
    /// About 31 years: far beyond any cache entry, far inside every backend's range.
    static let maxTTL = 1e9

    static let all: [MethodSpec] = [
        MethodSpec("cache.get", .read(.key("key")), "The value, or null.", params: [.required("key", Schema.string, "Key.")],
                   result: Schema.any, ordering: .read) { call in
            call.cache.get(try call.params.string("key")) { call.relay($0) }
        },
        MethodSpec("cache.set", .write(.key("key")), "Store a value; without ttl any earlier ttl is cleared (as Redis SET).",
                   params: [.required("key", Schema.string, "Key."), .required("value", Schema.any, "Any JSON value."),
                            .optional("ttl", Schema.number, "Seconds, more than 0 and at most \(Int(maxTTL)).")],
                   result: Schema.boolean, ordering: .write) { call in
            let ttl = try call.params.optionalNumber("ttl", in: 0...maxTTL, exclusiveLowerBound: true)
            call.cache.set(try call.params.string("key"), try call.params.value("value"), ttl: ttl) { call.relay($0) }
        },
        MethodSpec("cache.delete", .write(.key("key")), "true if the key existed.", params: [.required("key", Schema.string, "Key.")],
                   result: Schema.boolean, ordering: .write) { call in
            call.cache.delete(try call.params.string("key")) { call.relay($0) }
        },
        MethodSpec("cache.exists", .read(.key("key")), "true if the key exists.", params: [.required("key", Schema.string, "Key.")],
                   result: Schema.boolean, ordering: .read) { call in
            call.cache.exists(try call.params.string("key")) { call.relay($0) }
        },
        MethodSpec("cache.clear_pattern", .write(.glob("pattern")), "Delete the keys matching a Redis glob. Returns how many.",
                   params: [.required("pattern", Schema.string, "Glob: *, ?, [abc], \\x.")],
                   result: Schema.integer, ordering: .write) { call in
            let pattern = try call.params.string("pattern", maxBytes: call.services.maxPatternBytes)
            call.cache.clearPattern(pattern) { call.relay($0) }
        },
    ]
}
