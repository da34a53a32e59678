#ifndef CARCHIVE_SHIM_H
#define CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
// archive_set_error is printf-style variadic: Swift cannot call it.
static inline void CArchive_set_error(struct archive *a, int err, const char *message) {
    archive_set_error(a, err, "%s", message);
}
// AE_IF* are cast macros ((__LA_MODE_T)0100000): not importable.
static const unsigned int CArchive_AE_IFREG = AE_IFREG;
static const unsigned int CArchive_AE_IFDIR = AE_IFDIR;
static const unsigned int CArchive_AE_IFLNK = AE_IFLNK;
static const unsigned int CArchive_AE_IFMT = AE_IFMT;
#endif
