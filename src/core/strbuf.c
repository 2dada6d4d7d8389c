/* Growable byte string (doubling growth, always NUL-terminated, sticky
 * out-of-memory flag). */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc_note.h"
#include "core/utf8.h"
#include "nemoc/alloc.h"

nc_status nc_sb_reserve(nc_strbuf *b, size_t extra) {
    if (b->oom) return NC_ERR_OOM;
    /* used + extra + NUL, refused rather than wrapped around */
    if (extra > SIZE_MAX - 1 - b->n) {
        b->oom = true;
        return nc_error(NC_ERR_OOM, "string buffer: %zu + %zu bytes overflow the address space", b->n, extra);
    }
    size_t need = b->n + extra + 1;
    if (need <= b->cap) return NC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : 2 * cap;
    char *p = nc_realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        nc_error(NC_ERR_OOM, "string buffer: cannot grow to %zu bytes", cap);
        /* Keep the size for the caller's own message ("safetensors: header
         * (an allocation of N bytes failed)"): nc_error consumed the note. */
        nc_note_failed_alloc(cap);
        return NC_ERR_OOM;
    }
    if (!b->p) p[0] = 0;
    b->p = p;
    b->cap = cap;
    return NC_OK;
}

nc_status nc_sb_append(nc_strbuf *b, const void *s, size_t len) {
    nc_status st = nc_sb_reserve(b, len);
    if (st) return st;
    if (len) memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
    return NC_OK;
}

nc_status nc_sb_puts(nc_strbuf *b, const char *s) { return nc_sb_append(b, s, strlen(s)); }

nc_status nc_sb_putc(nc_strbuf *b, char c) { return nc_sb_append(b, &c, 1); }

nc_status nc_sb_put_cp(nc_strbuf *b, uint32_t cp) {
    char u[4];
    int n = nc_utf8_encode(cp, u);
    return nc_sb_append(b, u, (size_t)n);
}

nc_status nc_sb_put_json_str(nc_strbuf *b, const char *s, size_t len) {
    nc_sb_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            nc_sb_putc(b, '\\');
            nc_sb_putc(b, (char)c);
        } else if (c < 0x20) {
            nc_sb_appendf(b, "\\u%04x", c);
        } else {
            nc_sb_putc(b, (char)c);
        }
    }
    return nc_sb_putc(b, '"');
}

nc_status nc_sb_vappendf(nc_strbuf *b, const char *fmt, va_list ap) {
    if (b->oom) return NC_ERR_OOM;
    va_list ap2;
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (len < 0) return nc_error(NC_ERR_INVALID_ARG, "string buffer: bad format '%s'", fmt);
    nc_status st = nc_sb_reserve(b, (size_t)len);
    if (st) return st;
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    b->n += (size_t)len;
    return NC_OK;
}

nc_status nc_sb_appendf(nc_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    nc_status st = nc_sb_vappendf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *nc_strdupf(const char *fmt, ...) {
    nc_strbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    nc_status st = nc_sb_vappendf(&b, fmt, ap);
    va_end(ap);
    if (st) {
        nc_sb_free(&b);
        return NULL;
    }
    return nc_sb_take(&b);
}

const char *nc_sb_str(const nc_strbuf *b) { return b->p ? b->p : ""; }

void nc_sb_clear(nc_strbuf *b) {
    b->n = 0;
    b->oom = false;
    if (b->p) b->p[0] = 0;
}

void nc_sb_free(nc_strbuf *b) {
    nc_free(b->p);
    *b = (nc_strbuf){0};
}

char *nc_sb_take(nc_strbuf *b) {
    if (b->oom || (!b->p && nc_sb_reserve(b, 0) != NC_OK)) {
        nc_sb_free(b);
        return NULL;
    }
    char *p = b->p;
    *b = (nc_strbuf){0};
    return p;
}
