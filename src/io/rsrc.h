/* Random-access byte sources: a memory image or a window of an open file.
 *
 * Zip archives (PyTorch checkpoints) can only be read through their central
 * directory at the end, so they need random access. A checkpoint may be a
 * file of its own, a member of an uncompressed .nemo tar (a window of the tar
 * file, read in place), or bytes in memory. Not public. */
#ifndef NC_IO_RSRC_H
#define NC_IO_RSRC_H

#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

typedef struct nc_rsrc {
    const unsigned char *mem; /* memory image, or NULL for a file */
    int fd;                   /* file descriptor when mem is NULL */
    uint64_t base;            /* offset of byte 0 of the source in the file */
    uint64_t size;            /* bytes in the source */
    const char *what;         /* name for messages (file path, member name) */
} nc_rsrc;

nc_rsrc nc_rsrc_mem(const void *buf, size_t len, const char *what);
nc_rsrc nc_rsrc_file(int fd, uint64_t base, uint64_t size, const char *what);

/* Reads exactly len bytes at off; a range past the end is NC_ERR_FORMAT
 * ("truncated"), a failing read NC_ERR_IO. */
nc_status nc_rsrc_read(const nc_rsrc *s, uint64_t off, void *buf, size_t len);

#endif
