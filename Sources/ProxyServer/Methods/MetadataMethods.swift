import ProxyCore
import SQLStore

/// Any JSON value under a key (the seed's metadata), as operations
/// (`SQLStore.MetadataOperations`).
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
    ]
}
