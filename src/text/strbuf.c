/* Growable byte string (doubling growth, always NUL-terminated). */
#include "text/strbuf.h"

#include <string.h>

#include "nemoc/alloc.h"
#include "text/unicode.h"

nc_status nc_sb_reserve(nc_strbuf *b, int64_t extra) {
    if (extra < 0) return nc_error(NC_ERR_INVALID_ARG, "strbuf: negative reserve %lld", (long long)extra);
    int64_t need = b->n + extra + 1;
    if (need <= b->cap) return NC_OK;
    int64_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = nc_malloc((size_t)cap);
    if (!p) return nc_error(NC_ERR_OOM, "strbuf: cannot allocate %lld bytes", (long long)cap);
    if (b->p) memcpy(p, b->p, (size_t)b->n);
    p[b->n] = 0;
    nc_free(b->p);
    b->p = p;
    b->cap = cap;
    return NC_OK;
}

nc_status nc_sb_append(nc_strbuf *b, const char *s, int64_t len) {
    nc_status st = nc_sb_reserve(b, len);
    if (st) return st;
    if (len) memcpy(b->p + b->n, s, (size_t)len);
    b->n += len;
    b->p[b->n] = 0;
    return NC_OK;
}

nc_status nc_sb_putc(nc_strbuf *b, char c) { return nc_sb_append(b, &c, 1); }

nc_status nc_sb_put_cp(nc_strbuf *b, uint32_t cp) {
    char u[4];
    int n = nc_utf8_encode(cp, u);
    return nc_sb_append(b, u, n);
}

void nc_sb_clear(nc_strbuf *b) {
    b->n = 0;
    if (b->p) b->p[0] = 0;
}

void nc_sb_free(nc_strbuf *b) {
    nc_free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

char *nc_sb_take(nc_strbuf *b) {
    if (!b->p && nc_sb_reserve(b, 0) != NC_OK) return NULL;
    char *p = b->p;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}
