/* Protocol Buffers wire-format reader and writer
 * (https://protobuf.dev/programming-guides/encoding/). */
#include "io/protowire.h"

#include <string.h>

nc_pb_reader nc_pb_reader_init(const void *data, int64_t len, const char *what) {
    const uint8_t *p = data;
    return (nc_pb_reader){.p = p, .end = p + (len > 0 ? len : 0), .what = what};
}

static nc_status read_varint(nc_pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return nc_error(NC_ERR_FORMAT, "%s: truncated varint", r->what);
        uint8_t b = *r->p++;
        if (i == 9 && b > 1) return nc_error(NC_ERR_FORMAT, "%s: varint overflows 64 bits", r->what);
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return NC_OK;
        }
    }
    return nc_error(NC_ERR_FORMAT, "%s: varint longer than 10 bytes", r->what);
}

nc_status nc_pb_next(nc_pb_reader *r, nc_pb_field *f) {
    memset(f, 0, sizeof *f);
    uint64_t key;
    nc_status st = read_varint(r, &key);
    if (st) return st;
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (int)(key & 7);
    if (f->number == 0 || key >> 3 > 0x1FFFFFFF)
        return nc_error(NC_ERR_FORMAT, "%s: invalid field number %llu", r->what,
                        (unsigned long long)(key >> 3));
    int64_t left = r->end - r->p;
    switch (f->wire_type) {
    case NC_PB_VARINT:
        return read_varint(r, &f->varint);
    case NC_PB_I64:
        if (left < 8) return nc_error(NC_ERR_FORMAT, "%s: truncated 64-bit field %u", r->what, f->number);
        for (int i = 7; i >= 0; i--) f->varint = (f->varint << 8) | r->p[i];
        r->p += 8;
        return NC_OK;
    case NC_PB_I32:
        if (left < 4) return nc_error(NC_ERR_FORMAT, "%s: truncated 32-bit field %u", r->what, f->number);
        for (int i = 3; i >= 0; i--) f->varint = (f->varint << 8) | r->p[i];
        r->p += 4;
        return NC_OK;
    case NC_PB_LEN: {
        uint64_t n;
        st = read_varint(r, &n);
        if (st) return st;
        left = r->end - r->p;
        if (n > (uint64_t)left)
            return nc_error(NC_ERR_FORMAT, "%s: field %u claims %llu bytes but %lld remain", r->what,
                            f->number, (unsigned long long)n, (long long)left);
        f->data = r->p;
        f->len = (int64_t)n;
        r->p += n;
        return NC_OK;
    }
    default:
        return nc_error(NC_ERR_FORMAT, "%s: field %u has unsupported wire type %d", r->what, f->number,
                        f->wire_type);
    }
}

nc_pb_reader nc_pb_sub(const nc_pb_field *f, const char *what) {
    return nc_pb_reader_init(f->data, f->len, what);
}

static nc_status want(const nc_pb_reader *r, const nc_pb_field *f, int wt) {
    if (f->wire_type == wt) return NC_OK;
    return nc_error(NC_ERR_FORMAT, "%s: field %u has wire type %d, expected %d", r->what, f->number,
                    f->wire_type, wt);
}

nc_status nc_pb_get_bool(const nc_pb_reader *r, const nc_pb_field *f, bool *out) {
    nc_status st = want(r, f, NC_PB_VARINT);
    if (!st) *out = f->varint != 0;
    return st;
}

/* int32 negatives are sign-extended to 64 bits on the wire; truncation
 * recovers them (protobuf's own rule for int32 fields). */
nc_status nc_pb_get_int32(const nc_pb_reader *r, const nc_pb_field *f, int32_t *out) {
    nc_status st = want(r, f, NC_PB_VARINT);
    if (!st) *out = (int32_t)(uint32_t)f->varint;
    return st;
}

nc_status nc_pb_get_float(const nc_pb_reader *r, const nc_pb_field *f, float *out) {
    nc_status st = want(r, f, NC_PB_I32);
    if (st) return st;
    uint32_t bits = (uint32_t)f->varint;
    memcpy(out, &bits, sizeof *out);
    return NC_OK;
}

nc_status nc_pb_get_bytes(const nc_pb_reader *r, const nc_pb_field *f, const uint8_t **data,
                          int64_t *len) {
    nc_status st = want(r, f, NC_PB_LEN);
    if (st) return st;
    *data = f->data;
    *len = f->len;
    return NC_OK;
}

/* ---- writing ---- */

nc_status nc_pb_put_varint(nc_strbuf *b, uint64_t v) {
    uint8_t out[10];
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return nc_sb_append(b, out, n);
}

nc_status nc_pb_put_key(nc_strbuf *b, uint32_t field, int wire_type) {
    return nc_pb_put_varint(b, (uint64_t)field << 3 | (uint64_t)wire_type);
}

nc_status nc_pb_put_uint(nc_strbuf *b, uint32_t field, uint64_t v) {
    nc_pb_put_key(b, field, NC_PB_VARINT);
    return nc_pb_put_varint(b, v);
}

static nc_status put_le(nc_strbuf *b, uint64_t v, int n) {
    uint8_t out[8];
    for (int i = 0; i < n; i++) out[i] = (uint8_t)(v >> (8 * i));
    return nc_sb_append(b, out, (size_t)n);
}

nc_status nc_pb_put_fixed64(nc_strbuf *b, uint32_t field, uint64_t bits) {
    nc_pb_put_key(b, field, NC_PB_I64);
    return put_le(b, bits, 8);
}

nc_status nc_pb_put_fixed32(nc_strbuf *b, uint32_t field, uint32_t bits) {
    nc_pb_put_key(b, field, NC_PB_I32);
    return put_le(b, bits, 4);
}

nc_status nc_pb_put_len(nc_strbuf *b, uint32_t field, const void *data, size_t len) {
    nc_pb_put_key(b, field, NC_PB_LEN);
    nc_pb_put_varint(b, len);
    return nc_sb_append(b, data, len);
}
