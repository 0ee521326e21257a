// h2o (Debian's libh2o-dev, built on libuv) behind a handful of plain C
// functions: Swift sees no macro, no union and no callback table of h2o's.
//
// One `sp_http` is one HTTP/1.1 endpoint on the proxy's loop. The server
// accepts the socket itself (its accept loop counts and refuses clients) and
// hands the descriptor to `sp_http_accept`. Every request becomes one call of
// `on_request(context, req, id)`; the Swift side answers, now or later, with
// `sp_http_respond`. h2o frees a request when its client goes away, answered
// or not: `on_gone(context, id)` says so, after which `req` must not be
// touched. `open_sockets` lets the server wait for the last one at stop.
// The loop is passed as `void *`: Swift would see libuv's types here and in
// CLibUV as two different ones.
#ifndef STORAGE_PROXY_CH2O_SHIM_H
#define STORAGE_PROXY_CH2O_SHIM_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#define H2O_USE_LIBUV 1
#include <h2o.h>

typedef void (*sp_http_request_cb)(void *context, h2o_req_t *req, uint64_t id);
typedef void (*sp_http_gone_cb)(void *context, uint64_t id);
typedef void (*sp_http_idle_cb)(void *context);
typedef void (*sp_http_proceed_cb)(void *context, uint64_t id);

typedef struct sp_http {
    h2o_globalconf_t config;
    h2o_context_t context;
    h2o_accept_ctx_t accept;
    void *swift;
    sp_http_request_cb on_request;
    sp_http_gone_cb on_gone;
    sp_http_idle_cb on_idle;  // the last socket closed
    sp_http_proceed_cb on_proceed;  // a streamed answer's last piece went out: the next may be sent
    uint64_t next_id;
    int open_sockets;
    struct sp_http_socket *sockets;  // every open one, to end them at stop
} sp_http;

typedef struct {
    h2o_handler_t super;
    sp_http *server;
} sp_http_handler;

typedef struct {
    sp_http *server;
    uint64_t id;
} sp_http_request_mark;

static void sp_http_request_disposed(void *p) {
    sp_http_request_mark *mark = (sp_http_request_mark *)p;
    mark->server->on_gone(mark->server->swift, mark->id);
}

static int sp_http_on_req(h2o_handler_t *self, h2o_req_t *req) {
    sp_http *server = ((sp_http_handler *)self)->server;
    // Freed with the request's pool, whichever way the request ends.
    sp_http_request_mark *mark = (sp_http_request_mark *)h2o_mem_alloc_shared(&req->pool, sizeof(*mark), sp_http_request_disposed);
    mark->server = server;
    mark->id = ++server->next_id;
    server->on_request(server->swift, req, mark->id);
    return 0;
}

/// max_body: the largest request body (413 past it). request_timeout_ms: how
/// long a request may take to arrive, and how long a kept-alive connection
/// may stay silent.
static inline sp_http *sp_http_new(void *loop, size_t max_body, uint64_t request_timeout_ms, void *swift,
                                   sp_http_request_cb on_request, sp_http_gone_cb on_gone, sp_http_idle_cb on_idle,
                                   sp_http_proceed_cb on_proceed) {
    sp_http *server = (sp_http *)calloc(1, sizeof(*server));
    if (server == NULL) return NULL;
    server->swift = swift;
    server->on_request = on_request;
    server->on_gone = on_gone;
    server->on_idle = on_idle;
    server->on_proceed = on_proceed;
    h2o_config_init(&server->config);
    server->config.max_request_entity_size = max_body;
    server->config.http1.req_timeout = request_timeout_ms;
    server->config.http1.upgrade_to_http2 = 0;
    server->config.server_name = h2o_iovec_init(H2O_STRLIT("storage-proxy"));
    h2o_hostconf_t *host = h2o_config_register_host(&server->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    sp_http_handler *handler = (sp_http_handler *)h2o_create_handler(path, sizeof(*handler));
    handler->super.on_req = sp_http_on_req;
    handler->server = server;
    h2o_context_init(&server->context, (uv_loop_t *)loop, &server->config);
    server->accept.ctx = &server->context;
    server->accept.hosts = server->config.hosts;
    return server;
}

/// A client's TCP handle, and the server it counts toward (h2o owns the
/// handle's `data`).
typedef struct sp_http_socket {
    uv_tcp_t tcp;
    sp_http *server;
    struct sp_http_socket *prev, *next;
} sp_http_socket;

static void sp_http_socket_closed(uv_handle_t *handle) {
    sp_http_socket *socket = (sp_http_socket *)handle;
    sp_http *server = socket->server;
    if (socket->prev) socket->prev->next = socket->next; else server->sockets = socket->next;
    if (socket->next) socket->next->prev = socket->prev;
    free(socket);
    if (--server->open_sockets == 0) server->on_idle(server->swift);
}

/// Takes a connected, non-blocking TCP descriptor (closed on failure).
static inline int sp_http_accept(sp_http *server, int fd) {
    sp_http_socket *socket = (sp_http_socket *)malloc(sizeof(*socket));
    if (socket == NULL) { close(fd); return UV_ENOMEM; }
    socket->server = server;
    uv_tcp_init(server->context.loop, &socket->tcp);
    int rc = uv_tcp_open(&socket->tcp, fd);
    if (rc != 0) { close(fd); uv_close((uv_handle_t *)&socket->tcp, (uv_close_cb)free); return rc; }
    uv_tcp_nodelay(&socket->tcp, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&socket->tcp, sp_http_socket_closed);
    socket->prev = NULL;
    socket->next = server->sockets;
    if (server->sockets) server->sockets->prev = socket;
    server->sockets = socket;
    server->open_sockets++;
    h2o_accept(&server->accept, sock);
    return 0;
}

/// HTTPS for the connections accepted from now on (h2o takes its own
/// reference per connection, so a context replaced later may then be freed).
static inline void sp_http_use_tls(sp_http *server, SSL_CTX *context) { server->accept.ssl_ctx = context; }

/// The largest request body from now on (h2o reads it per request).
static inline void sp_http_set_max_body(sp_http *server, size_t max_body) { server->config.max_request_entity_size = max_body; }

static inline int sp_http_open_sockets(const sp_http *server) { return server->open_sockets; }

/// Ends every connection through h2o's own path: the kernel shuts the socket
/// (what was written still goes out first), h2o reads the end and closes it.
/// h2o 2.2 keeps an idle kept-alive connection until its timeout otherwise.
static inline void sp_http_end_sockets(sp_http *server) {
    for (sp_http_socket *socket = server->sockets; socket != NULL; socket = socket->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&socket->tcp, &fd) == 0) shutdown(fd, SHUT_RDWR);
    }
}

/// Only once no socket is open: h2o's timers and wake-up handle go.
static inline void sp_http_free(sp_http *server) {
    h2o_context_dispose(&server->context);
    h2o_config_dispose(&server->config);
    free(server);
}

// MARK: - A request

static inline h2o_iovec_t sp_http_method(const h2o_req_t *req) { return req->method; }
/// The path without its query string.
static inline h2o_iovec_t sp_http_path(const h2o_req_t *req) {
    h2o_iovec_t path = req->path_normalized;
    return path;
}
static inline h2o_iovec_t sp_http_body(const h2o_req_t *req) { return req->entity; }
static inline int sp_http_has_body(const h2o_req_t *req) { return req->entity.base != NULL; }

/// The first value of a header by its lower-case name; len 0 when absent.
static inline h2o_iovec_t sp_http_header(const h2o_req_t *req, const char *name) {
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0) return h2o_iovec_init(NULL, 0);
    return req->headers.entries[i].value;
}

/// The peer's address as text (for logs).
static inline int sp_http_peer(h2o_req_t *req, char *out, size_t size) {
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (len == 0) return -1;
    if (ss.ss_family == AF_INET) return uv_ip4_name((struct sockaddr_in *)&ss, out, size);
    if (ss.ss_family == AF_INET6) return uv_ip6_name((struct sockaddr_in6 *)&ss, out, size);
    return -1;
}

/// The connection the request came on (h2o numbers them).
static inline uint64_t sp_http_connection_id(const h2o_req_t *req) { return req->conn->id; }

/// The head of an answer. h2o keeps header values by reference until it writes
/// the head (later, for a streamed answer): each is copied into the request's
/// pool, since the caller's strings may be gone by then.
static inline void sp_http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value) {
    h2o_iovec_t copy = h2o_strdup(&req->pool, value, SIZE_MAX);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, copy.base, copy.len);
}

/// A header the head below does not set (`Set-Cookie`, `Content-Security-Policy`, …), by name; copied.
static inline void sp_http_add_named_header(h2o_req_t *req, const char *name, const char *value) {
    h2o_iovec_t n = h2o_strdup(&req->pool, name, SIZE_MAX), v = h2o_strdup(&req->pool, value, SIZE_MAX);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

static inline void sp_http_head(h2o_req_t *req, int status, const char *reason, const char *content_type,
                                const char *allow, const char *authenticate, int close) {
    req->res.status = status;
    req->res.reason = reason;  // a static string (`HTTPBridge.reason`)
    sp_http_add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    if (allow != NULL) sp_http_add_header(req, H2O_TOKEN_ALLOW, allow);
    if (authenticate != NULL) sp_http_add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, authenticate);
    if (close) req->http1_is_persistent = 0;  // h2o says `Connection: close` and closes once the answer is out
}

/// The whole answer at once (h2o copies the body). `allow` names the methods
/// of a 405, `authenticate` asks for a bearer token on a 401; NULL: none.
/// `close`: the connection closes after this answer.
static inline void sp_http_respond(h2o_req_t *req, int status, const char *reason, const char *content_type,
                                   const char *allow, const char *authenticate, int close, const void *body, size_t len) {
    sp_http_head(req, status, reason, content_type, allow, authenticate, close);
    req->res.content_length = len;
    h2o_send_inline(req, (const char *)body, len);
}

// MARK: - An answer in pieces (chunked), under backpressure

/// h2o asks for the next piece (`proceed`) once the last one went out; until
/// then the piece's bytes must stay put: the stream owns a copy, freed at the
/// next piece or with the request.
typedef struct {
    h2o_generator_t super;
    sp_http *server;
    uint64_t id;
    void *piece;
} sp_http_stream;

static void sp_http_stream_proceed(h2o_generator_t *generator, h2o_req_t *req) {
    sp_http_stream *stream = (sp_http_stream *)generator;
    free(stream->piece);
    stream->piece = NULL;
    stream->server->on_proceed(stream->server->swift, stream->id);
}

static void sp_http_stream_stop(h2o_generator_t *generator, h2o_req_t *req) {}  // the request's disposal says it (`on_gone`)

static void sp_http_stream_disposed(void *p) { free(((sp_http_stream *)p)->piece); }

/// Starts an answer whose length is not known: h2o sends it chunked.
static inline int sp_http_stream_start(sp_http *server, h2o_req_t *req, uint64_t id, int status, const char *reason,
                                       const char *content_type) {
    sp_http_stream *stream = (sp_http_stream *)h2o_mem_alloc_shared(&req->pool, sizeof(*stream), sp_http_stream_disposed);
    if (stream == NULL) return -1;
    stream->super.proceed = sp_http_stream_proceed;
    stream->super.stop = sp_http_stream_stop;
    stream->server = server;
    stream->id = id;
    stream->piece = NULL;
    sp_http_head(req, status, reason, content_type, NULL, NULL, 0);
    h2o_start_response(req, &stream->super);
    return 0;
}

/// Sends the next piece (copied); `final`: the last. Only after `on_proceed`
/// for the previous one (or right after the start).
static inline int sp_http_stream_send(h2o_req_t *req, const void *bytes, size_t len, int final) {
    sp_http_stream *stream = (sp_http_stream *)req->_generator;
    void *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL) { h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR); return -1; }
        memcpy(copy, bytes, len);
    }
    stream->piece = copy;
    h2o_iovec_t buf = h2o_iovec_init(copy, len);
    h2o_send(req, &buf, len > 0 ? 1 : 0, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
    return 0;
}

/// Ends a streamed answer early: the connection closes (the client sees a cut answer).
static inline void sp_http_stream_abort(h2o_req_t *req) { h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR); }

// MARK: - Framing h2o 2.2 accepts and RFC 9112 refuses

/// picohttpparser, inside libh2o (its header is not installed).
struct sp_phr_header { const char *name; size_t name_len; const char *value; size_t value_len; };
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct sp_phr_header *headers, size_t *num_headers, size_t last_len);

/// h2o 2.2's HTTP/1 connection begins so (lib/http1.c, st_h2o_http1_conn_t):
/// its socket's input still starts with the request's head while the request
/// is handled (it is consumed once the answer is out).
typedef struct { h2o_conn_t super; h2o_socket_t *sock; } sp_http1_conn_head;

/// Why the request's framing is ambiguous (RFC 9112 §6.1, §6.3), or NULL:
/// both `Transfer-Encoding` and `Content-Length` (h2o goes by the first, a
/// proxy in front may go by the other: smuggling), or two different
/// `Content-Length`s (h2o takes the first). h2o drops both headers from
/// `req->headers`, so the head is read again from the socket's input.
static inline const char *sp_http_framing_problem(h2o_req_t *req) {
    if (req->version >= 0x200) return NULL;
    h2o_socket_t *sock = ((sp_http1_conn_head *)req->conn)->sock;
    if (sock == NULL || sock->input == NULL || sock->input->size == 0) return NULL;
    const char *method, *path;
    size_t method_len, path_len, num_headers = 100;
    int minor;
    struct sp_phr_header headers[100];
    if (phr_parse_request(sock->input->bytes, sock->input->size, &method, &method_len, &path, &path_len, &minor, headers,
                          &num_headers, 0) <= 0) return NULL;
    const char *length = NULL;
    size_t length_len = 0;
    int lengths = 0, encodings = 0;
    for (size_t i = 0; i != num_headers; ++i) {
        if (headers[i].name == NULL) continue;  // a folded line continues the header before it
        if (h2o_lcstris(headers[i].name, headers[i].name_len, H2O_STRLIT("transfer-encoding"))) {
            ++encodings;
        } else if (h2o_lcstris(headers[i].name, headers[i].name_len, H2O_STRLIT("content-length"))) {
            if (lengths++ > 0 && !(headers[i].value_len == length_len && memcmp(headers[i].value, length, length_len) == 0))
                return "two different Content-Length headers";
            length = headers[i].value;
            length_len = headers[i].value_len;
        }
    }
    if (encodings > 0 && lengths > 0) return "both Transfer-Encoding and Content-Length";
    return NULL;
}

#endif
