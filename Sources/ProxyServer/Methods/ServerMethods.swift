import ProxyCore

/// The proxy's own methods: authentication, status, self-description.
enum ServerMethods {
    static let all: [MethodSpec] = [
        MethodSpec("auth", .anyone, "Present a token: server.auth_token (everything) or one of server.tokens (its scope); "
                   + "required first on TCP when a token is configured.",
                   params: [.required("token", Schema.string, "server.auth_token, or a token of server.tokens.")],
                   result: Schema.boolean, ordering: .write) { call in
            guard let scope = call.services.scope(forToken: try call.params.string("token")) else {
                // Held back: guessing costs time (and the connection goes after a few).
                let closing = call.session.authFailed()
                call.services.authFailed(client: call.session.origin)
                let error = ProxyError.unauthorized(closing ? "wrong token; too many wrong tokens, the connection closes" : "wrong token")
                return call.services.after(call.services.authFailureDelayMs) { call.reply(.failure(error)) }
            }
            call.session.authenticated(scope)
            call.reply(.success(true))
        },
        MethodSpec("server.status", .admin(writes: false), "Connections, requests and errors per method, latency percentiles, storage and cache state.",
                   result: Schema.object, ordering: .read) { call in
            call.reply(.success(call.services.status()))
        },
        MethodSpec("server.reload_preview", .admin(writes: false), "What a SIGHUP would change now: the configuration file as it reads now "
                   + "against the configuration in effect, key by key ({key, now, after, applies: reload or restart}); secrets only as whether set.",
                   result: Schema.object, ordering: .read) { call in
            call.reply(.success(call.services.reloadPreview()))
        },
        MethodSpec("rpc.discover", .anyone, "This API as an OpenRPC document.", result: Schema.object, ordering: .read) { call in
            call.reply(.success(OpenRPC.document(for: MethodTable.standard)))
        },
    ]
}
