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

#include "core/strbuf.h"
#include "io/crc32c.h"
#include "io/fileutil.h"
#include "io/protowire.h"
#include "nemoc/alloc.h"

struct nc_tb_writer {
    FILE *f;
    char *path;
};

static double wall_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static nc_status write_record(nc_tb_writer *w, const nc_strbuf *ev) {
    if (ev->oom) return nc_error(NC_ERR_OOM, "tensorboard event for '%s'", w->path);
    unsigned char hdr[12];
    uint64_t len = ev->n;
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)(len >> (8 * i));
    uint32_t c1 = nc_crc32c_masked(hdr, 8);
    for (int i = 0; i < 4; i++) hdr[8 + i] = (unsigned char)(c1 >> (8 * i));
    uint32_t c2 = nc_crc32c_masked(ev->p, ev->n);
    unsigned char tail[4];
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(c2 >> (8 * i));
    if (fwrite(hdr, 1, 12, w->f) != 12 || fwrite(ev->p, 1, ev->n, w->f) != ev->n ||
        fwrite(tail, 1, 4, w->f) != 4)
        return nc_error(NC_ERR_IO, "cannot write '%s': %s", w->path, strerror(errno));
    return NC_OK;
}

static void event_header(nc_strbuf *ev, int64_t step) {
    double t = wall_now();
    uint64_t bits;
    memcpy(&bits, &t, 8);
    nc_pb_put_fixed64(ev, 1, bits); /* wall_time */
    nc_pb_put_uint(ev, 2, (uint64_t)step);
}

nc_status nc_tb_open(const char *dir, nc_tb_writer **out) {
    *out = NULL;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    nc_tb_writer *w = nc_calloc(1, sizeof *w);
    if (!w) return nc_error(NC_ERR_OOM, "tensorboard writer");
    w->path = nc_strdupf("%s/events.out.tfevents.%lld.%s.%ld.0", dir, (long long)wall_now(), host, (long)getpid());
    if (!w->path) {
        nc_free(w);
        return nc_error(NC_ERR_OOM, "tensorboard file name in '%s'", dir);
    }
    nc_status os = nc_fopen_write(w->path, "TensorBoard event file", false, &w->f);
    if (os) {
        nc_status s = os;
        nc_free(w->path);
        nc_free(w);
        return s;
    }
    nc_strbuf ev = {0};
    event_header(&ev, 0);
    nc_pb_put_len(&ev, 3, "brain.Event:2", strlen("brain.Event:2")); /* file_version */
    nc_status s = write_record(w, &ev);
    nc_sb_free(&ev);
    if (s) {
        nc_tb_close(w);
        return s;
    }
    *out = w;
    return NC_OK;
}

nc_status nc_tb_scalar(nc_tb_writer *w, const char *tag, double value, int64_t step) {
    nc_strbuf val = {0}, sum = {0}, ev = {0};
    nc_pb_put_len(&val, 1, tag, strlen(tag)); /* Value.tag, any length */
    float fv = (float)value;
    uint32_t bits;
    memcpy(&bits, &fv, 4);
    nc_pb_put_fixed32(&val, 2, bits); /* Value.simple_value */
    nc_pb_put_len(&sum, 1, val.p, val.n); /* Summary.value */
    event_header(&ev, step);
    nc_pb_put_len(&ev, 5, sum.p, sum.n); /* Event.summary */
    if (val.oom || sum.oom) ev.oom = true;
    nc_status s = write_record(w, &ev);
    nc_sb_free(&val);
    nc_sb_free(&sum);
    nc_sb_free(&ev);
    return s;
}

nc_status nc_tb_flush(nc_tb_writer *w) {
    if (fflush(w->f) != 0) return nc_error(NC_ERR_IO, "cannot flush '%s': %s", w->path, strerror(errno));
    return NC_OK;
}

nc_status nc_tb_close(nc_tb_writer *w) {
    if (!w) return NC_OK;
    nc_status s = NC_OK;
    if (w->f && fclose(w->f) != 0) s = nc_error(NC_ERR_IO, "cannot write '%s': %s", w->path, strerror(errno));
    nc_free(w->path);
    nc_free(w);
    return s;
}

const char *nc_tb_path(const nc_tb_writer *w) { return w->path; }

/* ---- reader ---- */

/* One Summary.Value: tag (1, string) and simple_value (2, float). A
 * malformed value ends the parse quietly with what was read, as before. */
static nc_status parse_value(nc_pb_reader r, nc_strbuf *tag, double *value) {
    nc_sb_clear(tag);
    nc_pb_field f;
    while (!nc_pb_done(&r) && nc_pb_next(&r, &f) == NC_OK) {
        if (f.number == 1 && f.wire_type == NC_PB_LEN) {
            nc_sb_clear(tag);
            if (nc_sb_append(tag, f.data, (size_t)f.len)) return NC_ERR_OOM;
        } else if (f.number == 2 && f.wire_type == NC_PB_I32) {
            float v;
            uint32_t bits = (uint32_t)f.varint;
            memcpy(&v, &bits, 4);
            *value = v;
        }
    }
    return NC_OK;
}

/* Summary: repeated Value (any field number, length-delimited). */
static nc_status parse_summary(nc_pb_reader r, nc_tb_scalar_fn fn, void *ud, int64_t step, double wall,
                               nc_strbuf *tag) {
    nc_pb_field f;
    while (!nc_pb_done(&r) && nc_pb_next(&r, &f) == NC_OK && f.wire_type == NC_PB_LEN) {
        double value = 0;
        if (parse_value(nc_pb_sub(&f, "Summary.Value"), tag, &value)) return NC_ERR_OOM;
        fn(nc_sb_str(tag), value, step, wall, ud);
    }
    return NC_OK;
}

nc_status nc_tb_read(const char *path, nc_tb_scalar_fn fn, void *ud, int64_t *n_records) {
    FILE *f;
    nc_status os = nc_fopen_read(path, "TensorBoard event file", &f);
    if (os) return os;
    int64_t nrec = 0;
    nc_status st = NC_OK;
    unsigned char hdr[12];
    unsigned char *buf = NULL;
    size_t cap = 0;
    nc_strbuf tag = {0};
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
        nc_pb_reader ev = nc_pb_reader_init(buf, (int64_t)len, "Event");
        double wall = 0;
        int64_t step = 0;
        nc_pb_field fl;
        while (!st && !nc_pb_done(&ev) && nc_pb_next(&ev, &fl) == NC_OK) {
            if (fl.number == 1 && fl.wire_type == NC_PB_I64) {
                memcpy(&wall, &fl.varint, 8);
            } else if (fl.number == 2 && fl.wire_type == NC_PB_VARINT) {
                step = (int64_t)fl.varint;
            } else if (fl.number == 5 && fl.wire_type == NC_PB_LEN && fn &&
                       parse_summary(nc_pb_sub(&fl, "Summary"), fn, ud, step, wall, &tag)) {
                st = nc_error(NC_ERR_OOM, "%s: record %lld: a tag", path, (long long)nrec);
            }
        }
    }
    nc_sb_free(&tag);
    nc_free(buf);
    fclose(f);
    if (n_records) *n_records = nrec;
    return st;
}
