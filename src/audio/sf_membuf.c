/* libsndfile virtual I/O on a growable memory buffer (see sf_membuf.h).
 * Seekable, because libsndfile seeks back to patch headers. */
#include "audio/sf_membuf.h"

#include <string.h>

static sf_count_t mb_len(void *u) { return (sf_count_t)((nc_sf_membuf *)u)->s.n; }

static sf_count_t mb_seek(sf_count_t off, int whence, void *u) {
    nc_sf_membuf *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : (sf_count_t)m->s.n;
    sf_count_t np = base + off;
    if (np < 0) return -1;
    m->pos = np;
    return np;
}

static sf_count_t mb_read(void *ptr, sf_count_t count, void *u) {
    nc_sf_membuf *m = u;
    sf_count_t avail = (sf_count_t)m->s.n - m->pos;
    if (count > avail) count = avail > 0 ? avail : 0;
    if (count) memcpy(ptr, m->s.p + m->pos, (size_t)count);
    m->pos += count;
    return count;
}

static sf_count_t mb_write(const void *ptr, sf_count_t count, void *u) {
    nc_sf_membuf *m = u;
    if (count <= 0) return 0;
    sf_count_t end = m->pos + count;
    if (end > (sf_count_t)m->s.n) {
        /* Grow the file to `end`, zero-filling a hole left by a seek past it. */
        size_t grow = (size_t)(end - (sf_count_t)m->s.n);
        if (nc_sb_reserve(&m->s, grow)) return 0;
        memset(m->s.p + m->s.n, 0, grow);
        m->s.n = (size_t)end;
        m->s.p[m->s.n] = 0;
    }
    memcpy(m->s.p + m->pos, ptr, (size_t)count);
    m->pos = end;
    return count;
}

static sf_count_t mb_tell(void *u) { return ((nc_sf_membuf *)u)->pos; }

SF_VIRTUAL_IO nc_sf_membuf_io(void) {
    return (SF_VIRTUAL_IO){
        .get_filelen = mb_len, .seek = mb_seek, .read = mb_read, .write = mb_write, .tell = mb_tell};
}
