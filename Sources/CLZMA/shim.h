#ifndef CLZMA_SHIM_H
#define CLZMA_SHIM_H
#include <lzma.h>
// UINT32_C(...) macros are not importable; re-export as constants.
static const uint32_t CLZMA_PRESET_DEFAULT = LZMA_PRESET_DEFAULT;
static const uint32_t CLZMA_PRESET_EXTREME = LZMA_PRESET_EXTREME;
static const uint32_t CLZMA_CONCATENATED = LZMA_CONCATENATED;
static const uint64_t CLZMA_VLI_UNKNOWN = LZMA_VLI_UNKNOWN;
#endif
