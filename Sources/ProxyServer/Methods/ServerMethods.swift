import ProxyCore

/// The proxy's own methods: authentication, status, self-description.
enum ServerMethods {
    static let all: [MethodSpec] = [
        MethodSpec("auth", "Present the server's auth token; required first on TCP when a token is configured.",
                   params: [.required("token", Schema.string, "The configured server.auth_token.")],
                   result: Schema.boolean, ordering: .write) { call in
            guard call.services.checkToken(try call.params.string("token")) else {
                // Held back: guessing costs time (and the connection goes after a few).
                let closing = call.session.authFailed()
                call.services.authFailed(client: call.session.origin)
                let error = ProxyError.unauthorized(closing ? "wrong token; too many wrong tokens, the connection closes" : "wrong token")
                return call.services.after(call.services.authFailureDelayMs) { call.reply(.failure(error)) }
            }
            call.session.authenticated()
            call.reply(.success(true))
        },
        MethodSpec("server.status", "Connections, requests and errors per method, latency percentiles, storage and cache state.",
                   result: Schema.object, ordering: .read) { call in
            call.reply(.success(call.services.status()))
        },
        MethodSpec("rpc.discover", "This API as an OpenRPC document.", result: Schema.object, ordering: .read) { call in
            call.reply(.success(OpenRPC.document(for: MethodTable.standard)))
        },
    ]
}
