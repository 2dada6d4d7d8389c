/* Reading .nemo archives: one libarchive pass indexes the members; reads go
 * straight to the file for uncompressed tars (data offsets recovered from the
 * tar headers) and through libarchive again for gzip ones. A handle is
 * read-only after opening: members may be read from several threads. */
#include "core/vec.h"
#include "nemoc/nemo_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "io/rsrc.h"
#include "formats/strmap.h"
#include "formats/torch_internal.h"
#include "nemoc/alloc.h"

typedef struct member {
    nc_nemo_member pub;
    char *name;
    uint64_t data_off; /* valid when in_place */
    bool in_place;
} member;

struct nc_nemo {
    char *what;
    int fd; /* -1 for memory */
    nc_rsrc src;
    bool compressed;
    member *m;
    int64_t n, cap;
    nc_strmap *index; /* path -> member (last wins) */
};

/* ---- tar headers (POSIX ustar, pax 'x'/'g', GNU 'L'/'K') ----------------- */

static bool tar_number(const unsigned char *f, size_t len, uint64_t *out) {
    if (f[0] & 0x80) { /* GNU base-256 */
        uint64_t v = f[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v >> 55) return false;
            v = (v << 8) | f[i];
        }
        *out = v;
        return true;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && f[i] == ' ') i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60) return false;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    *out = v;
    return true;
}

static bool tar_checksum_ok(const unsigned char *h) {
    uint64_t want;
    if (!tar_number(h + 148, 8, &want)) return false;
    uint64_t u = 0;
    int64_t s = 0;
    for (int i = 0; i < 512; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        u += c;
        s += (signed char)c;
    }
    return want == u || (int64_t)want == s;
}

/* libarchive reports where a member's first header block starts; its data
 * follows the extension headers (pax, GNU long names) and its own header. */
static bool tar_data_offset(const nc_rsrc *s, uint64_t pos, uint64_t size, uint64_t *off) {
    for (int k = 0; k < 8; k++) {
        unsigned char h[512];
        if (pos > s->size || s->size - pos < 512 || nc_rsrc_read(s, pos, h, 512) != NC_OK) return false;
        uint64_t sz;
        if (!tar_checksum_ok(h) || !tar_number(h + 124, 12, &sz)) return false;
        unsigned char type = h[156];
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K' || type == 'X') {
            if (sz > s->size) return false;
            pos += 512 + ((sz + 511) & ~(uint64_t)511);
            continue;
        }
        if (type != '0' && type != 0 && type != '7') return false; /* sparse etc.: let libarchive read it */
        *off = pos + 512;
        return *off <= s->size && size <= s->size - *off;
    }
    return false;
}

/* ---- indexing ------------------------------------------------------------- */

/* libarchive reads through these callbacks at a private position, so reads
 * of different members may run concurrently on one handle. */
typedef struct feed {
    const nc_rsrc *src;
    uint64_t pos;
    unsigned char buf[1 << 16];
} feed;

static la_ssize_t feed_read(struct archive *a, void *ud, const void **out) {
    (void)a;
    feed *f = ud;
    uint64_t left = f->src->size - f->pos;
    size_t k = left < sizeof f->buf ? (size_t)left : sizeof f->buf;
    if (f->src->mem) {
        *out = f->src->mem + f->pos;
    } else {
        if (k && nc_rsrc_read(f->src, f->pos, f->buf, k) != NC_OK) {
            archive_set_error(a, EIO, "%s", nc_last_error());
            return -1;
        }
        *out = f->buf;
    }
    f->pos += k;
    return (la_ssize_t)k;
}

static la_int64_t feed_skip(struct archive *a, void *ud, la_int64_t request) {
    (void)a;
    feed *f = ud;
    uint64_t left = f->src->size - f->pos;
    uint64_t k = request < 0 ? 0 : (uint64_t)request < left ? (uint64_t)request : left;
    f->pos += k;
    return (la_int64_t)k;
}

static la_int64_t feed_seek(struct archive *a, void *ud, la_int64_t offset, int whence) {
    (void)a;
    feed *f = ud;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)f->pos : (int64_t)f->src->size;
    int64_t to = base + offset;
    if (to < 0 || (uint64_t)to > f->src->size) return ARCHIVE_FATAL;
    f->pos = (uint64_t)to;
    return to;
}

static void reader_close(struct archive *a, feed *f) {
    archive_read_free(a);
    nc_free(f);
}

static nc_status reader_open(const nc_nemo *n, struct archive **aout, feed **fout) {
    *aout = NULL;
    *fout = NULL;
    feed *f = nc_calloc(1, sizeof *f);
    struct archive *a = f ? archive_read_new() : NULL;
    if (!a) {
        nc_free(f);
        return nc_error(NC_ERR_OOM, "%s: tar reader", n->what);
    }
    f->src = &n->src;
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    archive_read_set_callback_data(a, f);
    archive_read_set_read_callback(a, feed_read);
    archive_read_set_skip_callback(a, feed_skip);
    archive_read_set_seek_callback(a, feed_seek);
    if (archive_read_open1(a) != ARCHIVE_OK) {
        const char *msg = archive_error_string(a);
        nc_status st = nc_error(NC_ERR_FORMAT, "%s: not a readable tar (%s)", n->what, msg ? msg : "unknown format");
        reader_close(a, f);
        return st;
    }
    *aout = a;
    *fout = f;
    return NC_OK;
}

static const char *strip_dot(const char *s) {
    while (s[0] == '.' && s[1] == '/') {
        s += 2;
        while (*s == '/') s++;
    }
    return strcmp(s, ".") ? s : s + 1;
}

static nc_status add_member(nc_nemo *n, struct archive *a, struct archive_entry *e) {
    const char *name = archive_entry_pathname(e);
    if (!name) return nc_error(NC_ERR_FORMAT, "%s: member %lld has no name", n->what, (long long)n->n);
    if (nc_vec_reserve(&n->m, &n->cap, n->n + 1, sizeof *n->m)) return nc_error(NC_ERR_OOM, "%s: member table", n->what);
    member *m = &n->m[n->n];
    *m = (member){0};
    m->name = nc_strdup(name);
    if (!m->name) return nc_error(NC_ERR_OOM, "%s: member name", n->what);
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    m->pub = (nc_nemo_member){.name = m->name, .path = strip_dot(m->name), .size = size < 0 ? 0 : size,
                              .is_file = archive_entry_filetype(e) == AE_IFREG};
    n->n++;
    if (m->pub.is_file && !n->compressed)
        m->in_place = tar_data_offset(&n->src, (uint64_t)archive_read_header_position(a), (uint64_t)m->pub.size,
                                      &m->data_off);
    return nc_strmap_put(n->index, m->pub.path, strlen(m->pub.path), n->n - 1);
}

static nc_status index_members(nc_nemo *n) {
    feed *f;
    struct archive *a;
    nc_status st = reader_open(n, &a, &f);
    if (st) return st;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            const char *msg = archive_error_string(a);
            st = nc_error(NC_ERR_FORMAT, "%s: not a valid .nemo tar (member %lld: %s)", n->what, (long long)n->n,
                          msg ? msg : "unreadable header");
            break;
        }
        n->compressed = archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE;
        st = add_member(n, a, e);
        if (st) break;
    }
    reader_close(a, f);
    if (!st && n->n == 0) st = nc_error(NC_ERR_FORMAT, "%s: an empty archive, not a .nemo", n->what);
    return st;
}

static nc_status finish_open(nc_nemo *n, nc_nemo **out) {
    nc_status st = nc_strmap_new(&n->index);
    if (!st) st = index_members(n);
    if (st) {
        nc_nemo_close(n);
        return st;
    }
    *out = n;
    return NC_OK;
}

nc_status nc_nemo_open(const char *path, nc_nemo **out) {
    *out = NULL;
    nc_nemo *n = nc_calloc(1, sizeof *n);
    if (!n || !(n->what = nc_strdup(path))) {
        nc_free(n);
        return nc_error(NC_ERR_OOM, "opening '%s'", path);
    }
    int64_t size;
    nc_status st = nc_open_read(path, ".nemo file", &n->fd, &size);
    if (st) {
        nc_nemo_close(n);
        return st;
    }
    n->src = nc_rsrc_file(n->fd, 0, (uint64_t)size, n->what);
    return finish_open(n, out);
}

nc_status nc_nemo_open_mem(const void *buf, size_t len, const char *what, nc_nemo **out) {
    *out = NULL;
    nc_nemo *n = nc_calloc(1, sizeof *n);
    if (!n || !(n->what = nc_strdup(what ? what : "memory .nemo"))) {
        nc_free(n);
        return nc_error(NC_ERR_OOM, "opening a .nemo image");
    }
    n->fd = -1;
    n->src = nc_rsrc_mem(buf, len, n->what);
    return finish_open(n, out);
}

void nc_nemo_close(nc_nemo *n) {
    if (!n) return;
    if (n->fd >= 0) close(n->fd);
    for (int64_t i = 0; i < n->n; i++) nc_free(n->m[i].name);
    nc_free(n->m);
    nc_strmap_free(n->index);
    nc_free(n->what);
    nc_free(n);
}

bool nc_nemo_compressed(const nc_nemo *n) { return n->compressed; }
int64_t nc_nemo_count(const nc_nemo *n) { return n->n; }
const nc_nemo_member *nc_nemo_member_at(const nc_nemo *n, int64_t i) {
    return i >= 0 && i < n->n ? &n->m[i].pub : NULL;
}

static const member *find(const nc_nemo *n, const char *name) {
    const char *p = strip_dot(name);
    int64_t i = nc_strmap_get(n->index, p, strlen(p));
    if (i < 0 && !strncmp(name, "nemo:", 5)) { /* a config reference to an artifact */
        p = strip_dot(name + 5);
        i = nc_strmap_get(n->index, p, strlen(p));
    }
    return i < 0 ? NULL : &n->m[i];
}

const nc_nemo_member *nc_nemo_find(const nc_nemo *n, const char *name) {
    const member *m = find(n, name);
    return m ? &m->pub : NULL;
}

static nc_status readable(const nc_nemo *n, const char *name, const member **out) {
    const member *m = find(n, name);
    if (!m) return nc_error(NC_ERR_NOT_FOUND, "%s: no member '%s'", n->what, name);
    if (!m->pub.is_file) return nc_error(NC_ERR_FORMAT, "%s: member '%s' is not a regular file", n->what, m->pub.name);
    /* A member read through libarchive (gzip, sparse) is bounded by deflate's
     * ~1032x expansion; a larger header claim would only waste memory. */
    if (!m->in_place && (uint64_t)m->pub.size / 1032 > n->src.size + 1)
        return nc_error(NC_ERR_FORMAT, "%s: member '%s' claims %lld bytes in a %llu-byte archive", n->what,
                        m->pub.name, (long long)m->pub.size, (unsigned long long)n->src.size);
    *out = m;
    return NC_OK;
}

/* ---- reading members ------------------------------------------------------ */

/* Feeds member m to sink in pieces: in place, or by decompressing again. */
static nc_status stream_member(const nc_nemo *n, const member *m, nc_byte_sink sink, void *user) {
    if (m->in_place) {
        enum { CH = 1 << 20 };
        unsigned char *buf = nc_malloc(CH);
        if (!buf) return nc_error(NC_ERR_OOM, "%s: read buffer", n->what);
        nc_status st = NC_OK;
        for (uint64_t done = 0; done < (uint64_t)m->pub.size && !st;) {
            size_t k = (uint64_t)m->pub.size - done < CH ? (size_t)((uint64_t)m->pub.size - done) : CH;
            st = nc_rsrc_read(&n->src, m->data_off + done, buf, k);
            if (!st) st = sink(user, buf, k);
            done += k;
        }
        nc_free(buf);
        return st;
    }
    feed *f;
    struct archive *a;
    nc_status st = reader_open(n, &a, &f);
    if (st) return st;
    int64_t idx = m - n->m;
    uint64_t got = 0;
    for (int64_t i = 0; i <= idx && !st; i++) {
        struct archive_entry *e;
        if (archive_read_next_header(a, &e) < ARCHIVE_WARN)
            st = nc_error(NC_ERR_FORMAT, "%s: member %lld unreadable on second pass", n->what, (long long)i);
    }
    while (!st) {
        const void *blk;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(a, &blk, &len, &off);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            const char *msg = archive_error_string(a);
            st = nc_error(NC_ERR_FORMAT, "%s: reading '%s': %s", n->what, m->pub.name, msg ? msg : "data error");
        } else if (off < 0 || (uint64_t)off != got || len > (uint64_t)m->pub.size - got) {
            st = nc_error(NC_ERR_FORMAT, "%s: '%s' is sparse or longer than its header says", n->what, m->pub.name);
        } else {
            st = sink(user, blk, len);
            got += len;
        }
    }
    if (!st && got != (uint64_t)m->pub.size)
        st = nc_error(NC_ERR_FORMAT, "%s: '%s' holds %llu of %lld bytes (truncated)", n->what, m->pub.name,
                      (unsigned long long)got, (long long)m->pub.size);
    reader_close(a, f);
    return st;
}

nc_status nc_nemo_read(const nc_nemo *n, const char *name, void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    const member *m;
    nc_status st = readable(n, name, &m);
    if (st) return st;
    nc_mem_sink f = {.cap = (size_t)m->pub.size, .overflow = NC_ERR_FORMAT,
                     .overflow_msg = "member larger than its header says"};
    f.b = nc_malloc(f.cap + 1);
    if (!f.b) return nc_error(NC_ERR_OOM, "%s: %zu bytes for '%s'", n->what, f.cap + 1, m->pub.name);
    st = stream_member(n, m, nc_mem_sink_write, &f);
    if (st) {
        nc_free(f.b);
        return st;
    }
    f.b[f.n] = 0;
    *buf = f.b;
    *len = f.n;
    return NC_OK;
}

nc_status nc_nemo_read_config(const nc_nemo *n, char **yaml, size_t *len) {
    void *b;
    nc_status st = nc_nemo_read(n, "model_config.yaml", &b, len);
    *yaml = st ? NULL : b;
    return st;
}

static nc_status file_sink(void *ud, const void *buf, size_t len) { return nc_atomic_write(ud, buf, len); }

nc_status nc_nemo_extract(const nc_nemo *n, const char *name, const char *dir) {
    const member *m;
    nc_status st = readable(n, name, &m);
    if (st) return st;
    const char *p = m->pub.path;
    if (!*p || strchr(p, '/') || !strcmp(p, "..") || !strcmp(p, "."))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: member '%s' is not a plain file name; not extracting it", n->what,
                        m->pub.name);
    size_t plen = strlen(dir) + strlen(p) + 2;
    char *dest = nc_malloc(plen);
    if (!dest) return nc_error(NC_ERR_OOM, "%s: path", n->what);
    snprintf(dest, plen, "%s/%s", dir, p);
    nc_atomic_file *f = NULL;
    st = nc_atomic_open(dest, &f);
    if (!st) {
        st = stream_member(n, m, file_sink, f);
        if (st) nc_atomic_abort(f);
        else st = nc_atomic_commit(f);
    }
    if (st) nc_error_prefix(st, "extracting '%s' to '%s'", m->pub.name, dest);
    nc_free(dest);
    return st;
}

nc_status nc_nemo_load_weights(const nc_nemo *n, const char *member_name, const nc_torch_read_params *params,
                               nc_tensor_list *out) {
    const char *name = member_name ? member_name : "model_weights.ckpt";
    const member *m = find(n, name);
    if (!m) {
        if (find(n, "mp_rank_00/model_weights.ckpt"))
            return nc_error(NC_ERR_NOT_FOUND, "%s: a model-parallel .nemo: weights are per rank "
                            "(mp_rank_00/model_weights.ckpt, ...); name the member", n->what);
        for (int64_t i = 0; i < n->n; i++)
            if (!strncmp(n->m[i].pub.path, "model_weights/", 14))
                return nc_error(NC_ERR_UNSUPPORTED, "%s: weights are a distributed checkpoint folder (model_weights/), "
                                "which nemoc does not read", n->what);
    }
    nc_status st = readable(n, name, &m);
    if (st) return st;
    char what[512];
    snprintf(what, sizeof what, "%s:%s", n->what, m->pub.path);
    if (m->in_place) {
        nc_rsrc win = n->src;
        if (win.mem) {
            win.mem += m->data_off;
        } else {
            win.base += m->data_off;
        }
        win.size = (uint64_t)m->pub.size;
        win.what = what;
        return nc_torch_ckpt_load_src(&win, params, out);
    }
    void *buf;
    size_t len;
    st = nc_nemo_read(n, name, &buf, &len);
    if (st) return st;
    st = nc_torch_ckpt_load_mem(buf, len, what, params, out);
    nc_free(buf);
    return st;
}
