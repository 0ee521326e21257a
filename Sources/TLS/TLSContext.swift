import CLibSSL

/// Why TLS could not be set up or went wrong (a file, a certificate check, a
/// broken record). Never holds key material.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Certificates and trust from PEM files, loaded once and shared by every
/// session made from it (each session holds its own reference: a context
/// replaced on reload stays alive for the sessions already using it).
public final class TLSContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is not changed after it is made; OpenSSL allows sessions from any thread.
    let raw: OpaquePointer
    /// The SSL_CTX, for a library that runs TLS itself (h2o); alive as long as this object.
    public var opaque: OpaquePointer { raw }

    /// A server: its certificate chain and key; `clientCA` asks every client
    /// for a certificate signed by one of those authorities (mutual TLS).
    public convenience init(certificate: String, key: String, clientCA: String?) throws(TLSError) {
        try self.init(server: true, certificate: certificate, key: key, ca: clientCA)
    }

    /// A client: the authorities it trusts (nil: the system's), and its own
    /// certificate and key when the server asks for one.
    public convenience init(trusting ca: String?, certificate: String? = nil, key: String? = nil) throws(TLSError) {
        try self.init(server: false, certificate: certificate, key: key, ca: ca)
    }

    private init(server: Bool, certificate: String?, key: String?, ca: String?) throws(TLSError) {
        var why = [CChar](repeating: 0, count: 512)
        guard let ctx = sp_tls_context(server ? 1 : 0, certificate, key, ca, &why, why.count) else {
            throw TLSError(String(cString: why))
        }
        raw = ctx
    }

    deinit { SSL_CTX_free(raw) }

    /// For a server context another library handshakes with (h2o): counts the
    /// handshakes that fail from now on (`handshakeFailures`).
    public func countHandshakeFailures() { _ = sp_tls_count_handshake_failures(raw) }

    /// Failed handshakes since `countHandshakeFailures` (on the thread that runs them).
    public var handshakeFailures: UInt64 { sp_tls_handshake_failures(raw) }
}
