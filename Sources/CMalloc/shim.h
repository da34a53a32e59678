#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H
// glibc's allocator settings (mallopt); part of libc, nothing to link.
#include <malloc.h>

/// A hint that `address` will be read soon (a cache line fetched ahead; never faults).
static inline void ota_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
#endif
