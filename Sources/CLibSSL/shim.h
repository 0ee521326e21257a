// OpenSSL (Debian's libssl-dev, 3.x) as the TLS module uses it: contexts
// from PEM files, and sessions over a pair of memory BIOs, so the bytes move
// through the proxy's own sockets (libuv on the server, blocking on the
// client) and OpenSSL never touches a descriptor. Macros and error queues
// are wrapped here; Swift sees plain functions.
#ifndef STORAGE_PROXY_CLIBSSL_SHIM_H
#define STORAGE_PROXY_CLIBSSL_SHIM_H

#include <string.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/// The oldest error on this thread's queue as text (then the queue is cleared).
static inline void sp_tls_last_error(char *out, size_t size) {
    unsigned long e = ERR_get_error();
    if (e == 0) snprintf(out, size, "unknown TLS failure");
    else ERR_error_string_n(e, out, size);
    ERR_clear_error();
}

/// A context with TLS 1.2 at least. `cert`/`key`: PEM files (a server's, or a
/// client's for mutual TLS; NULL: none). `ca`: PEM file of the authorities
/// to trust (NULL on a client: the system's; on a server: no client
/// certificate is asked for). `server`: accept (1) or connect (0).
static inline SSL_CTX *sp_tls_context(int server, const char *cert, const char *key, const char *ca, char *err, size_t errlen) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) { sp_tls_last_error(err, errlen); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (cert != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "cannot use the certificate %s: ", cert);
        sp_tls_last_error(err + strlen(err), errlen - strlen(err));
        SSL_CTX_free(ctx); return NULL;
    }
    if (key != NULL && (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
        snprintf(err, errlen, "cannot use the key %s: ", key);
        sp_tls_last_error(err + strlen(err), errlen - strlen(err));
        SSL_CTX_free(ctx); return NULL;
    }
    if (ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            snprintf(err, errlen, "cannot read the authorities in %s: ", ca);
            sp_tls_last_error(err + strlen(err), errlen - strlen(err));
            SSL_CTX_free(ctx); return NULL;
        }
        if (server) {
            SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(ca));
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    } else if (!server) {
        SSL_CTX_set_default_verify_paths(ctx);
    }
    if (!server) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

// MARK: - Failed handshakes of a context another library runs (h2o)

/// Each context's count lives in its ex_data and is freed with it (a context
/// outlives its owner while connections still hold it).
static void sp_tls_free_counter(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) { free(ptr); }

/// One index for the process (static: this module is its only user).
static inline int sp_tls_counter_index(void) {
    static int index = -1;
    if (index < 0) index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sp_tls_free_counter);
    return index;
}

/// At the end of every SSL in the process: one of a counting context whose
/// handshake had begun (bytes came) and never finished failed: refused (an
/// untrusted or missing client certificate, no common version), broken off
/// by the client (it does not trust us), or not TLS at all. A connection that
/// closed before sending anything is not counted.
static void sp_tls_session_freed(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    SSL *ssl = (SSL *)parent;
    if (ssl == NULL || SSL_in_before(ssl) || SSL_is_init_finished(ssl)) return;
    uint64_t *count = (uint64_t *)SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), sp_tls_counter_index());
    if (count != NULL) ++*count;
}

static inline int sp_tls_session_index(void) {
    static int index = -1;
    if (index < 0) index = SSL_get_ex_new_index(0, NULL, NULL, NULL, sp_tls_session_freed);
    return index;
}

/// Counts this server context's failed handshakes from now on.
static inline int sp_tls_count_handshake_failures(SSL_CTX *ctx) {
    if (sp_tls_session_index() < 0) return -1;
    uint64_t *count = (uint64_t *)calloc(1, sizeof(uint64_t));
    if (count == NULL || SSL_CTX_set_ex_data(ctx, sp_tls_counter_index(), count) != 1) { free(count); return -1; }
    return 0;
}

static inline uint64_t sp_tls_handshake_failures(SSL_CTX *ctx) {
    uint64_t *count = (uint64_t *)SSL_CTX_get_ex_data(ctx, sp_tls_counter_index());
    return count != NULL ? *count : 0;
}

/// A session over two fresh memory BIOs. `hostname`: what a client checks
/// the server's certificate against (and sends as SNI); NULL on a server.
static inline SSL *sp_tls_session(SSL_CTX *ctx, int server, const char *hostname) {
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) return NULL;
    SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (hostname != NULL) {
            // An IP address is checked against the certificate's IP names; a name is also sent as SNI.
            unsigned char ip[16];
            if (inet_pton(AF_INET, hostname, ip) == 1 || inet_pton(AF_INET6, hostname, ip) == 1) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hostname);
            } else {
                SSL_set_tlsext_host_name(ssl, hostname);
                SSL_set1_host(ssl, hostname);
            }
        }
    }
    return ssl;
}

/// Ciphertext that arrived from the peer.
static inline void sp_tls_feed(SSL *ssl, const void *bytes, int count) { BIO_write(SSL_get_rbio(ssl), bytes, count); }

/// Ciphertext waiting to go to the peer: how much, and taking it.
static inline int sp_tls_pending_output(SSL *ssl) { return (int)BIO_ctrl_pending(SSL_get_wbio(ssl)); }
static inline int sp_tls_take_output(SSL *ssl, void *out, int size) { return BIO_read(SSL_get_wbio(ssl), out, size); }

enum { SP_TLS_OK = 0, SP_TLS_WANT_MORE = 1, SP_TLS_CLOSED = 2, SP_TLS_FAILED = 3 };

/// Classifies the result of SSL_read/SSL_write/SSL_do_handshake; on failure
/// writes why (a certificate the other side refused names the check).
static inline int sp_tls_outcome(SSL *ssl, int rc, char *err, size_t errlen) {
    if (rc > 0) return SP_TLS_OK;
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ: case SSL_ERROR_WANT_WRITE: return SP_TLS_WANT_MORE;
    case SSL_ERROR_ZERO_RETURN: return SP_TLS_CLOSED;
    default: {
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
            snprintf(err, errlen, "certificate verify failed: %s", X509_verify_cert_error_string(verify));
            ERR_clear_error();
        } else {
            sp_tls_last_error(err, errlen);
        }
        return SP_TLS_FAILED;
    }
    }
}

static inline int sp_tls_handshake(SSL *ssl, char *err, size_t errlen) {
    ERR_clear_error();
    return sp_tls_outcome(ssl, SSL_do_handshake(ssl), err, errlen);
}

/// Plaintext out: > 0 bytes read, or -(SP_TLS_*) when none.
static inline int sp_tls_read(SSL *ssl, void *out, int size, char *err, size_t errlen) {
    ERR_clear_error();
    int rc = SSL_read(ssl, out, size);
    return rc > 0 ? rc : -sp_tls_outcome(ssl, rc, err, errlen);
}

/// Plaintext in: > 0 bytes taken, or -(SP_TLS_*).
static inline int sp_tls_write(SSL *ssl, const void *bytes, int count, char *err, size_t errlen) {
    ERR_clear_error();
    int rc = SSL_write(ssl, bytes, count);
    return rc > 0 ? rc : -sp_tls_outcome(ssl, rc, err, errlen);
}

static inline int sp_tls_handshake_done(SSL *ssl) { return SSL_is_init_finished(ssl); }

#endif
