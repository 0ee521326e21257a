#include "build_info.h"

#ifndef STORAGE_PROXY_COMMIT
#define STORAGE_PROXY_COMMIT "unknown"
#endif

const char *storage_proxy_build_commit(void) { return STORAGE_PROXY_COMMIT; }
