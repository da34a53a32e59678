#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
// zlib, for tests only: it makes the deflate streams the recompressed-streams tests take apart.
#include <zlib.h>
// deflateInit2 is a macro over deflateInit2_, which Swift cannot import.
static inline int czlib_deflate_init2(z_streamp stream, int level, int window_bits, int mem_level, int strategy) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, mem_level, strategy);
}
#endif
