// Counts the process's heap allocations, for `storage-proxy bench`: built
// as libAllocationCounter.so and preloaded (LD_PRELOAD) into the bench's own
// proxy only, never linked into the binary. Every allocator entry point
// counts one and forwards to glibc's own; `server.status` finds the counter
// by name (dlsym) and reports it when present.
#include <stddef.h>
#include <stdatomic.h>
#include <errno.h>
#include "allocation_counter.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic unsigned long long allocations;

static inline void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t alignment, size_t n) { count(); return __libc_memalign(alignment, n); }
void *memalign(size_t alignment, size_t n) { count(); return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    count();
    void *p = __libc_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

unsigned long long storage_proxy_allocations(void) {
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}
