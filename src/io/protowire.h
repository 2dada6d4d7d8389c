/* A minimal Protocol Buffers wire-format reader and writer (no schema, no
 * library): enough to walk messages field by field and to build small ones
 * (TensorBoard events). Not public.
 *
 * Wire format: each field is a varint key (field_number << 3 | wire_type)
 * followed by a varint (type 0), 8 bytes (type 1), a varint length and that
 * many bytes (type 2) or 4 bytes (type 5). Groups (types 3, 4) are obsolete
 * and rejected. Every read checks the remaining length, so truncated or
 * corrupt input yields NC_ERR_FORMAT, never an out-of-bounds read. */
#ifndef NC_IO_PROTOWIRE_H
#define NC_IO_PROTOWIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "nemoc/status.h"

typedef struct nc_pb_reader {
    const uint8_t *p;   /* next unread byte */
    const uint8_t *end; /* one past the last byte of this message */
    const char *what;   /* message name for error text, e.g. "ModelProto" */
} nc_pb_reader;

enum { NC_PB_VARINT = 0, NC_PB_I64 = 1, NC_PB_LEN = 2, NC_PB_I32 = 5 };

typedef struct nc_pb_field {
    uint32_t number;
    int wire_type;
    uint64_t varint;       /* NC_PB_VARINT, NC_PB_I64 (raw bits), NC_PB_I32 (raw bits) */
    const uint8_t *data;   /* NC_PB_LEN */
    int64_t len;           /* NC_PB_LEN */
} nc_pb_field;

nc_pb_reader nc_pb_reader_init(const void *data, int64_t len, const char *what);
static inline bool nc_pb_done(const nc_pb_reader *r) { return r->p >= r->end; }

/* Reads the next field (key and payload). */
nc_status nc_pb_next(nc_pb_reader *r, nc_pb_field *f);

/* A sub-reader over a length-delimited field's bytes. */
nc_pb_reader nc_pb_sub(const nc_pb_field *f, const char *what);

/* Typed views of a field, checking its wire type. */
nc_status nc_pb_get_bool(const nc_pb_reader *r, const nc_pb_field *f, bool *out);
nc_status nc_pb_get_int32(const nc_pb_reader *r, const nc_pb_field *f, int32_t *out);
nc_status nc_pb_get_float(const nc_pb_reader *r, const nc_pb_field *f, float *out);
nc_status nc_pb_get_bytes(const nc_pb_reader *r, const nc_pb_field *f, const uint8_t **data,
                          int64_t *len);

/* ---- writing: each appends one field to b (sticky out-of-memory, see
 * core/strbuf.h). Fixed-width fields are little-endian, as the format says. */
nc_status nc_pb_put_varint(nc_strbuf *b, uint64_t v); /* a bare varint */
nc_status nc_pb_put_key(nc_strbuf *b, uint32_t field, int wire_type);
nc_status nc_pb_put_uint(nc_strbuf *b, uint32_t field, uint64_t v);
nc_status nc_pb_put_fixed64(nc_strbuf *b, uint32_t field, uint64_t bits);
nc_status nc_pb_put_fixed32(nc_strbuf *b, uint32_t field, uint32_t bits);
/* A length-delimited field: bytes, a string or an embedded message. */
nc_status nc_pb_put_len(nc_strbuf *b, uint32_t field, const void *data, size_t len);

#endif
