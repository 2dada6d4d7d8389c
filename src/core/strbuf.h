/* The growable byte string: text, JSON, YAML, pickles, protobuf messages and
 * paths are all built in one of these. Not public.
 *
 * Two ways to use it: check every append's status, or append freely and
 * check `oom` once at the end (a failed append marks the buffer, and every
 * later append returns NC_ERR_OOM without writing), which keeps serialisers
 * with hundreds of appends readable. */
#ifndef NC_CORE_STRBUF_H
#define NC_CORE_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

typedef struct nc_strbuf {
    char *p;    /* NUL-terminated when non-NULL (binary content may hold NULs) */
    size_t n;   /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    bool oom;   /* an append failed; the content is incomplete */
} nc_strbuf;

/* Room for `extra` more bytes (and the NUL) without reallocating. */
nc_status nc_sb_reserve(nc_strbuf *b, size_t extra);
nc_status nc_sb_append(nc_strbuf *b, const void *s, size_t len);
nc_status nc_sb_puts(nc_strbuf *b, const char *s);
nc_status nc_sb_putc(nc_strbuf *b, char c);
nc_status nc_sb_put_cp(nc_strbuf *b, uint32_t cp); /* UTF-8 encodes cp */
/* s[0..len) as a quoted JSON string: quote and backslash escaped, every
 * control byte as \u00xx (json.dumps writes \n, \t ... short; both read the
 * same), the rest (UTF-8 included) verbatim, as json.dumps(ensure_ascii=False). */
nc_status nc_sb_put_json_str(nc_strbuf *b, const char *s, size_t len);
nc_status nc_sb_appendf(nc_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nc_status nc_sb_vappendf(nc_strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The text so far (owned by b); "" when nothing was appended. */
const char *nc_sb_str(const nc_strbuf *b);
void nc_sb_clear(nc_strbuf *b); /* n = 0 and oom cleared; keeps the memory */
void nc_sb_free(nc_strbuf *b);
/* Hands the string to the caller (nc_free it) and empties b; "" when
 * nothing was appended, NULL (b freed) when an append failed or when even
 * the empty string cannot be allocated. */
char *nc_sb_take(nc_strbuf *b);

/* A formatted string in a new nc_malloc'd block, any length (paths, tags);
 * NULL on allocation failure (with an NC_ERR_OOM message set). */
char *nc_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
