import CLibSSL

/// One TLS connection over memory: ciphertext from the peer goes in through
/// `receive`, which hands out the plaintext; plaintext to send goes in
/// through `seal`; `takeOutput` gives the ciphertext to write, in order
/// (handshake messages included). The owner moves the bytes on its own
/// socket. One owner at a time (the loop; a client under its lock).
public final class TLSSession {
    private let ssl: OpaquePointer
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    private var why = [CChar](repeating: 0, count: 512)

    public init(_ context: TLSContext, server: Bool, hostname: String? = nil) throws(TLSError) {
        guard let ssl = sp_tls_session(context.raw, server ? 1 : 0, hostname) else { throw TLSError("cannot start a TLS session (out of memory)") }
        self.ssl = ssl
    }

    deinit { SSL_free(ssl) }

    public var isHandshakeDone: Bool { sp_tls_handshake_done(ssl) != 0 }

    /// Advances the handshake with what has arrived; true once it is done.
    public func handshake() throws(TLSError) -> Bool {
        switch Int(sp_tls_handshake(ssl, &why, why.count)) {
        case Int(SP_TLS_OK): return true
        case Int(SP_TLS_WANT_MORE): return false
        case Int(SP_TLS_CLOSED): throw TLSError("the peer closed during the TLS handshake")
        default: throw TLSError(String(cString: why))
        }
    }

    /// Takes ciphertext; hands each piece of plaintext it yields to `plaintext`.
    /// Returns false once the peer has closed TLS (close_notify).
    public func receive(_ bytes: UnsafeRawBufferPointer, _ plaintext: (UnsafeRawBufferPointer) -> Void) throws(TLSError) -> Bool {
        if bytes.count > 0 { sp_tls_feed(ssl, bytes.baseAddress, Int32(bytes.count)) }
        while true {
            let n = scratch.withUnsafeMutableBytes { sp_tls_read(ssl, $0.baseAddress, Int32($0.count), &why, why.count) }
            if n > 0 {
                scratch.withUnsafeBytes { plaintext(UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)])) }
                continue
            }
            switch -Int(n) {
            case Int(SP_TLS_WANT_MORE): return true
            case Int(SP_TLS_CLOSED): return false
            default: throw TLSError(String(cString: why))
            }
        }
    }

    /// Encrypts plaintext; the records wait in `takeOutput`. Before the
    /// handshake is done OpenSSL holds nothing back: it is an error to call.
    public func seal(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            let n = sp_tls_write(ssl, bytes.baseAddress! + offset, Int32(min(bytes.count - offset, Int(Int32.max))), &why, why.count)
            guard n > 0 else { throw TLSError(n == -Int32(SP_TLS_WANT_MORE) ? "TLS is not ready to send (handshake unfinished)" : String(cString: why)) }
            offset += Int(n)
        }
    }

    /// The ciphertext waiting to be written, in order.
    public func takeOutput() -> [UInt8] {
        let pending = Int(sp_tls_pending_output(ssl))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let n = out.withUnsafeMutableBytes { sp_tls_take_output(ssl, $0.baseAddress, Int32(pending)) }
        return n == pending ? out : Array(out.prefix(max(0, Int(n))))
    }

    public var hasOutput: Bool { sp_tls_pending_output(ssl) > 0 }
}
