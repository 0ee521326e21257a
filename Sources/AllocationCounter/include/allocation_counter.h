#pragma once
/// Heap allocations since the process started (only in a process that preloads this library).
unsigned long long storage_proxy_allocations(void);
