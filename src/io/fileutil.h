/* Whole-file reads, atomic writes and a bounded memory sink. Not public. */
#ifndef NC_IO_FILEUTIL_H
#define NC_IO_FILEUTIL_H

#include <stddef.h>

#include "nemoc/status.h"

/* Reads a whole file into nc_malloc'd memory (NUL-terminated for text use). */
nc_status nc_read_file(const char *path, void **buf, size_t *len);
/* Writes `path` via a temp file in the same folder, fsync, rename, and an
 * fsync of the folder: the file is either the old or the new one, never torn. */
nc_status nc_write_file_atomic(const char *path, const void *buf, size_t len);

/* Creates the folder `path` (mkdir 0755); one that already exists is fine,
 * any other file in its place is an NC_ERR_IO. */
nc_status nc_mkdir(const char *path);
/* mkdir -p: creates `path` and every missing parent (any length). */
nc_status nc_mkdir_p(const char *path);

/* Test hook: when set, the n-th write chunk from nc_write_file_atomic and
 * nc_atomic_* fails with ENOSPC (simulates a full disk). 0 disables. */
void nc_io_fail_write_after(long n_chunks);

/* Incremental atomic writer for large files. */
typedef struct nc_atomic_file nc_atomic_file;
nc_status nc_atomic_open(const char *path, nc_atomic_file **out);
nc_status nc_atomic_write(nc_atomic_file *f, const void *buf, size_t len);
/* Flushes, fsyncs and renames into place; frees f either way. */
nc_status nc_atomic_commit(nc_atomic_file *f);
/* Removes the temp file; frees f. */
void nc_atomic_abort(nc_atomic_file *f);

/* A byte sink (nc_byte_sink's signature) into a buffer of known size: bytes
 * past `cap` fail with `overflow` and the message `overflow_msg` (a format
 * error for data whose header promised a size, an internal one for sizes
 * computed beforehand). */
typedef struct nc_mem_sink {
    unsigned char *b;
    size_t n, cap;
    nc_status overflow;
    const char *overflow_msg;
} nc_mem_sink;
nc_status nc_mem_sink_write(void *mem_sink, const void *buf, size_t len);

#endif
