// Transparent huge pages for the vector store's large blocks (the exact
// scan's matrix, the graph's vectors and links). This machine's kernel, as
// Debian's, gives them only to memory that asks (`madvise` mode).
#include "hnsw_shim.h"

#include <cstdint>
#include <sys/mman.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older C headers lack the name
#endif

void vector_memory_prefer_huge_pages(void *start, size_t bytes, bool collapse) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = uintptr_t(2) << 20;
    uintptr_t first = (reinterpret_cast<uintptr_t>(start) + huge - 1) & ~(huge - 1);
    uintptr_t end = (reinterpret_cast<uintptr_t>(start) + bytes) & ~(huge - 1);
    if (start == nullptr || end <= first) return;
    void *aligned = reinterpret_cast<void *>(first);
    if (madvise(aligned, end - first, MADV_HUGEPAGE) != 0) return;
    if (collapse) (void)madvise(aligned, end - first, MADV_COLLAPSE);
#else
    (void)start, (void)bytes, (void)collapse;
#endif
}
