#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

/* hiredis's libuv adapter (hiredis/adapters/libuv.h), with one fix. In
   hiredis 0.14 (Debian 12) its poll callback ignores a non-zero status, and
   libuv reports a refused or reset socket exactly that way (status UV_EBADF,
   the poll stopped): hiredis never hears of it, and a reconnect to a server
   that is down waits forever. Here an error status hands the events we were
   waiting for to hiredis, whose read or write then finds the error and
   disconnects (as newer hiredis does). The loop is passed as an opaque
   pointer so that Swift sees one uv_loop_t (CLibUV's). */

typedef struct storage_proxy_redis_events {
    redisAsyncContext *context;
    uv_poll_t handle;
    int events;
} storage_proxy_redis_events;

static void storage_proxy_redis_poll(uv_poll_t *handle, int status, int events) {
    storage_proxy_redis_events *p = (storage_proxy_redis_events *)handle->data;
    int ready = status != 0 ? p->events : events;
    if (p->context != NULL && (ready & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ready & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void storage_proxy_redis_update(storage_proxy_redis_events *p) {
    if (p->events) uv_poll_start(&p->handle, p->events, storage_proxy_redis_poll);
    else uv_poll_stop(&p->handle);
}

static void storage_proxy_redis_add_read(void *data) {
    storage_proxy_redis_events *p = data; p->events |= UV_READABLE; storage_proxy_redis_update(p);
}
static void storage_proxy_redis_del_read(void *data) {
    storage_proxy_redis_events *p = data; p->events &= ~UV_READABLE; storage_proxy_redis_update(p);
}
static void storage_proxy_redis_add_write(void *data) {
    storage_proxy_redis_events *p = data; p->events |= UV_WRITABLE; storage_proxy_redis_update(p);
}
static void storage_proxy_redis_del_write(void *data) {
    storage_proxy_redis_events *p = data; p->events &= ~UV_WRITABLE; storage_proxy_redis_update(p);
}

static void storage_proxy_redis_on_close(uv_handle_t *handle) { free(handle->data); }

static void storage_proxy_redis_cleanup(void *data) {
    storage_proxy_redis_events *p = data;
    p->context = NULL; /* the context is being freed */
    uv_close((uv_handle_t *)&p->handle, storage_proxy_redis_on_close);
}

static inline int storage_proxy_redis_attach(redisAsyncContext *ac, void *loop) {
    if (ac->ev.data != NULL) return REDIS_ERR;
    storage_proxy_redis_events *p = calloc(1, sizeof(*p));
    if (p == NULL) return REDIS_ERR;
    if (uv_poll_init((uv_loop_t *)loop, &p->handle, ac->c.fd) != 0) { free(p); return REDIS_ERR; }
    p->handle.data = p;
    p->context = ac;
    ac->ev.addRead = storage_proxy_redis_add_read;
    ac->ev.delRead = storage_proxy_redis_del_read;
    ac->ev.addWrite = storage_proxy_redis_add_write;
    ac->ev.delWrite = storage_proxy_redis_del_write;
    ac->ev.cleanup = storage_proxy_redis_cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
