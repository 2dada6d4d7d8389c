/* Whole-file reads, atomic writes and a bounded memory sink. Not public. */
#ifndef NC_IO_FILEUTIL_H
#define NC_IO_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nemoc/status.h"

/* Every file a user names goes through these, never a bare open/fopen:
 * nemoc reads and appends to regular files only. A FIFO would block the
 * open (or stream without end), a device such as /dev/zero never ends, a
 * directory has no bytes; each is refused with "<what> '<path>' is a FIFO
 * (named pipe), not a regular file". `what` names the file for a person
 * ("manifest", "config file"; NULL: "file"). */

/* Opens `path` read-only (O_NONBLOCK for the open only, so a FIFO cannot
 * block it; O_CLOEXEC) and refuses anything but a regular file. On success
 * *fd is a blocking descriptor and *size (optional) the file's size. */
nc_status nc_open_read(const char *path, const char *what, int *fd, int64_t *size);
/* The same as a stdio stream. */
nc_status nc_fopen_read(const char *path, const char *what, FILE **f);
/* Checks that `path` is a readable regular file (for paths handed to
 * another program, such as spm_train's --input). */
nc_status nc_check_readable(const char *path, const char *what);
/* Opens `path` for writing in place (created 0644 if missing; appended to,
 * or truncated once it is known to be a regular file). A FIFO, device,
 * socket or directory in its place is refused. For logs that grow; whole
 * outputs use the atomic writer below. */
nc_status nc_open_write(const char *path, const char *what, bool append, int *fd);
nc_status nc_fopen_write(const char *path, const char *what, bool append, FILE **f);
/* A new, empty temp file "<dir>/<prefix>XXXXXX" (mkostemp: a fresh
 * unpredictable name, O_EXCL, mode 0600, O_CLOEXEC); dir NULL means $TMPDIR
 * or /tmp. *path is nc_malloc'd; the caller removes the file on every path. */
nc_status nc_temp_file(const char *dir, const char *prefix, char **path, int *fd);
/* "a directory", "a FIFO (named pipe)", "a character device", ... for a
 * st_mode. */
const char *nc_file_kind(unsigned mode);

/* Reads a whole regular file into nc_malloc'd memory (NUL-terminated for
 * text use). */
nc_status nc_read_file(const char *path, void **buf, size_t *len);
/* Writes `path` via a temp file in the same folder, fsync, rename, and an
 * fsync of the folder: the file is either the old or the new one, never torn.
 * Only a regular file is replaced (or a new one created): a device, FIFO,
 * socket or directory at `path` is refused (/dev/null stays a device); a
 * symbolic link to a regular file is written through, the link kept; a
 * dangling link or one to anything else is refused. The temp file is
 * "<path>.tmp.<pid>.<16 random hex digits>", created O_EXCL | O_NOFOLLOW. */
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
/* Unlinks the temp files of every atomic write in progress, and only that
 * (async-signal-safe: for a SIGINT/SIGTERM handler that then ends the
 * process, so an interrupted run leaves no "<out>.tmp.*" behind). */
void nc_atomic_remove_temps(void);

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
