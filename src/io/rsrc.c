/* Random-access reads from memory or a file window (pread, no shared offset). */
#include "io/rsrc.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

nc_rsrc nc_rsrc_mem(const void *buf, size_t len, const char *what) {
    return (nc_rsrc){.mem = buf, .fd = -1, .base = 0, .size = len, .what = what};
}

nc_rsrc nc_rsrc_file(int fd, uint64_t base, uint64_t size, const char *what) {
    return (nc_rsrc){.mem = NULL, .fd = fd, .base = base, .size = size, .what = what};
}

nc_status nc_rsrc_read(const nc_rsrc *s, uint64_t off, void *buf, size_t len) {
    if (off > s->size || len > s->size - off)
        return nc_error(NC_ERR_FORMAT, "%s: truncated (need bytes %llu..%llu of %llu)", s->what,
                        (unsigned long long)off, (unsigned long long)(off + len),
                        (unsigned long long)s->size);
    if (s->mem) {
        if (len) memcpy(buf, s->mem + off, len);
        return NC_OK;
    }
    unsigned char *p = buf;
    uint64_t pos = s->base + off;
    while (len) {
        /* Linux caps one read at ~2 GiB; ask for at most 1 GiB at a time. */
        size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        ssize_t r = pread(s->fd, p, chunk, (off_t)pos);
        if (r < 0) {
            if (errno == EINTR) continue;
            return nc_error(NC_ERR_IO, "%s: read failed at offset %llu: %s", s->what,
                            (unsigned long long)pos, strerror(errno));
        }
        if (r == 0)
            return nc_error(NC_ERR_FORMAT, "%s: file ended early at offset %llu", s->what,
                            (unsigned long long)pos);
        p += r;
        pos += (uint64_t)r;
        len -= (size_t)r;
    }
    return NC_OK;
}
