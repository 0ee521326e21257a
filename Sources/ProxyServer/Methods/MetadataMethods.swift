import ProxyCore
import SQLStore

/// Any JSON value under a key (the seed's metadata), and the keys listed in
/// pages, as operations (`SQLStore.MetadataOperations`).
enum MetadataMethods {
    static let all: [MethodSpec] = [
        MethodSpec("save_metadata", .write(.key("key")), "Store any JSON value under a key.",
                   params: [.required("key", Schema.string, "Key."), .required("value", Schema.any, "Any JSON value.")],
                   result: Schema.null, ordering: .write, transactional: true) { call in
            try call.answer(MetadataOperations.save(key: try call.params.string("key"), value: try call.params.value("value")))
        },
        MethodSpec("get_metadata", .read(.key("key")), "The value stored under a key, or null.",
                   params: [.required("key", Schema.string, "Key.")],
                   result: Schema.any, ordering: .read, transactional: true) { call in
            try call.answer(MetadataOperations.get(key: try call.params.string("key")))
        },
        MethodSpec("list_metadata", .read(.key("prefix")), "Stored keys that start with `prefix`, in byte order: one page.",
                   params: [.required("prefix", Schema.string, "Only keys starting with this (\"\" for every key)."),
                            .optional("after", Schema.string, "Only keys after this one: the last key of the page before."),
                            .integer("limit", 1...10_000, default: 100, "How many keys at most.")],
                   result: Schema.array(Schema.string), ordering: .read, transactional: true) { call in
            let p = call.params, space = call.session.scope.namespace
            let list = MetadataOperations.list(prefix: try p.string("prefix"), after: try p.optionalString("after").map { space + $0 },
                                               limit: try p.int("limit"), budget: AnswerBudget(limit: call.services.maxAnswerBytes))
            guard !space.isEmpty else { return try call.answer(list) }
            // A scoped token's keys live in its namespace (AccessGuard moved `prefix` there); it sees them without it.
            call.services.operations.run(list, in: try call.transaction()) { call.relay($0.map { $0.map { String($0.dropFirst(space.count)) } }) }
        },
        MethodSpec("delete_metadata", .write(.key("key")), "Delete a key. true if it was stored.",
                   params: [.required("key", Schema.string, "Key.")],
                   result: Schema.boolean, ordering: .write, transactional: true) { call in
            try call.answer(MetadataOperations.delete(key: try call.params.string("key")))
        },
    ]
}
