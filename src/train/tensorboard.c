/* TensorBoard event writer/reader. Record framing (TFRecord):
 *   uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
 * data is a serialized tensorflow.Event:
 *   double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
 *   Summary { repeated Value value = 1 }, Value { string tag = 1; float simple_value = 2 }. */
#include "nemoc/tensorboard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "io/crc32c.h"
#include "nemoc/alloc.h"

struct nc_tb_writer {
    FILE *f;
    char *path;
};

typedef struct pbuf {
    unsigned char b[1024];
    size_t n;
} pbuf;

static void put_varint(pbuf *p, uint64_t v) {
    while (v >= 0x80 && p->n < sizeof p->b) {
        p->b[p->n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    if (p->n < sizeof p->b) p->b[p->n++] = (unsigned char)v;
}

static void put_bytes(pbuf *p, const void *d, size_t n) {
    if (p->n + n > sizeof p->b) n = sizeof p->b - p->n;
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void put_tag(pbuf *p, int field, int wire) { put_varint(p, (uint64_t)(field << 3 | wire)); }

static double wall_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static nc_status write_record(nc_tb_writer *w, const pbuf *ev) {
    unsigned char hdr[12];
    uint64_t len = ev->n;
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)(len >> (8 * i));
    uint32_t c1 = nc_crc32c_masked(hdr, 8);
    for (int i = 0; i < 4; i++) hdr[8 + i] = (unsigned char)(c1 >> (8 * i));
    uint32_t c2 = nc_crc32c_masked(ev->b, ev->n);
    unsigned char tail[4];
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(c2 >> (8 * i));
    if (fwrite(hdr, 1, 12, w->f) != 12 || fwrite(ev->b, 1, ev->n, w->f) != ev->n ||
        fwrite(tail, 1, 4, w->f) != 4)
        return nc_error(NC_ERR_IO, "cannot write '%s': %s", w->path, strerror(errno));
    return NC_OK;
}

static void event_header(pbuf *ev, int64_t step) {
    double t = wall_now();
    put_tag(ev, 1, 1); /* wall_time, fixed64 */
    put_bytes(ev, &t, 8);
    put_tag(ev, 2, 0); /* step, varint */
    put_varint(ev, (uint64_t)step);
}

nc_status nc_tb_open(const char *dir, nc_tb_writer **out) {
    *out = NULL;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/events.out.tfevents.%lld.%s.%ld.0", dir, (long long)wall_now(),
             host, (long)getpid());
    nc_tb_writer *w = nc_calloc(1, sizeof *w);
    if (!w) return nc_error(NC_ERR_OOM, "tensorboard writer");
    w->path = nc_strdup(path);
    w->f = fopen(path, "wb");
    if (!w->f || !w->path) {
        nc_status s = nc_error(NC_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        if (w->f) fclose(w->f);
        nc_free(w->path);
        nc_free(w);
        return s;
    }
    pbuf ev = {.n = 0};
    event_header(&ev, 0);
    put_tag(&ev, 3, 2); /* file_version */
    put_varint(&ev, strlen("brain.Event:2"));
    put_bytes(&ev, "brain.Event:2", strlen("brain.Event:2"));
    nc_status s = write_record(w, &ev);
    if (s) {
        nc_tb_close(w);
        return s;
    }
    *out = w;
    return NC_OK;
}

nc_status nc_tb_scalar(nc_tb_writer *w, const char *tag, double value, int64_t step) {
    size_t tl = strlen(tag);
    if (tl > 512) tl = 512;
    pbuf val = {.n = 0}, sum = {.n = 0}, ev = {.n = 0};
    put_tag(&val, 1, 2);
    put_varint(&val, tl);
    put_bytes(&val, tag, tl);
    float fv = (float)value;
    put_tag(&val, 2, 5); /* simple_value, fixed32 */
    put_bytes(&val, &fv, 4);
    put_tag(&sum, 1, 2);
    put_varint(&sum, val.n);
    put_bytes(&sum, val.b, val.n);
    event_header(&ev, step);
    put_tag(&ev, 5, 2);
    put_varint(&ev, sum.n);
    put_bytes(&ev, sum.b, sum.n);
    return write_record(w, &ev);
}

nc_status nc_tb_flush(nc_tb_writer *w) {
    if (fflush(w->f) != 0) return nc_error(NC_ERR_IO, "cannot flush '%s': %s", w->path, strerror(errno));
    return NC_OK;
}

void nc_tb_close(nc_tb_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    nc_free(w->path);
    nc_free(w);
}

const char *nc_tb_path(const nc_tb_writer *w) { return w->path; }

/* ---- reader ---- */

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    *v = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        unsigned char c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) return 1;
    }
    return 0;
}

/* Finds field `want` (length-delimited) or scalar fields in one message level. */
static void parse_value(const unsigned char *p, const unsigned char *end, char *tag, size_t tagcap,
                        double *value) {
    while (p < end) {
        uint64_t key;
        if (!get_varint(&p, end, &key)) return;
        int field = (int)(key >> 3), wire = (int)(key & 7);
        if (wire == 2) {
            uint64_t n;
            if (!get_varint(&p, end, &n) || n > (uint64_t)(end - p)) return;
            if (field == 1) {
                size_t c = n < tagcap - 1 ? (size_t)n : tagcap - 1;
                memcpy(tag, p, c);
                tag[c] = 0;
            }
            p += n;
        } else if (wire == 5) {
            if (end - p < 4) return;
            float f;
            memcpy(&f, p, 4);
            if (field == 2) *value = f;
            p += 4;
        } else if (wire == 1) {
            p += 8;
        } else if (wire == 0) {
            uint64_t dummy;
            if (!get_varint(&p, end, &dummy)) return;
        } else {
            return;
        }
    }
}

nc_status nc_tb_read(const char *path, nc_tb_scalar_fn fn, void *ud, int64_t *n_records) {
    FILE *f = fopen(path, "rb");
    if (!f) return nc_error(NC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    int64_t nrec = 0;
    nc_status st = NC_OK;
    unsigned char hdr[12];
    unsigned char *buf = NULL;
    size_t cap = 0;
    while (fread(hdr, 1, 12, f) == 12) {
        uint64_t len = 0;
        for (int i = 0; i < 8; i++) len |= (uint64_t)hdr[i] << (8 * i);
        uint32_t c1 = 0;
        for (int i = 0; i < 4; i++) c1 |= (uint32_t)hdr[8 + i] << (8 * i);
        if (c1 != nc_crc32c_masked(hdr, 8) || len > (1u << 26)) {
            st = nc_error(NC_ERR_FORMAT, "%s: record %lld: bad length CRC", path, (long long)nrec);
            break;
        }
        if (len + 4 > cap) {
            nc_free(buf);
            cap = (size_t)len + 4;
            buf = nc_malloc(cap);
            if (!buf) {
                st = nc_error(NC_ERR_OOM, "%s: record of %llu bytes", path, (unsigned long long)len);
                break;
            }
        }
        if (fread(buf, 1, (size_t)len + 4, f) != len + 4) {
            st = nc_error(NC_ERR_FORMAT, "%s: record %lld truncated", path, (long long)nrec);
            break;
        }
        uint32_t c2 = 0;
        for (int i = 0; i < 4; i++) c2 |= (uint32_t)buf[len + (size_t)i] << (8 * i);
        if (c2 != nc_crc32c_masked(buf, (size_t)len)) {
            st = nc_error(NC_ERR_FORMAT, "%s: record %lld: bad data CRC", path, (long long)nrec);
            break;
        }
        nrec++;
        /* Event: wall_time(1, fixed64), step(2, varint), summary(5, bytes) */
        const unsigned char *p = buf, *end = buf + len;
        double wall = 0;
        int64_t step = 0;
        while (p < end) {
            uint64_t key;
            if (!get_varint(&p, end, &key)) break;
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (wire == 1) {
                if (end - p < 8) break;
                if (field == 1) memcpy(&wall, p, 8);
                p += 8;
            } else if (wire == 0) {
                uint64_t v;
                if (!get_varint(&p, end, &v)) break;
                if (field == 2) step = (int64_t)v;
            } else if (wire == 2) {
                uint64_t n;
                if (!get_varint(&p, end, &n) || n > (uint64_t)(end - p)) break;
                if (field == 5 && fn) {
                    /* Summary: repeated Value (field 1) */
                    const unsigned char *q = p, *qe = p + n;
                    while (q < qe) {
                        uint64_t k2, n2;
                        if (!get_varint(&q, qe, &k2) || (k2 & 7) != 2 || !get_varint(&q, qe, &n2) ||
                            n2 > (uint64_t)(qe - q))
                            break;
                        char tag[513] = {0};
                        double value = 0;
                        parse_value(q, q + n2, tag, sizeof tag, &value);
                        fn(tag, value, step, wall, ud);
                        q += n2;
                    }
                }
                p += n;
            } else {
                break;
            }
        }
    }
    nc_free(buf);
    fclose(f);
    if (n_records) *n_records = nrec;
    return st;
}
