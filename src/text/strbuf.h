/* A growable byte string for the text module. Not public. */
#ifndef NC_TEXT_STRBUF_H
#define NC_TEXT_STRBUF_H

#include <stdint.h>

#include "nemoc/status.h"

typedef struct nc_strbuf {
    char *p;     /* NUL-terminated when non-NULL */
    int64_t n;   /* bytes used, excluding the NUL */
    int64_t cap; /* bytes allocated */
} nc_strbuf;

nc_status nc_sb_reserve(nc_strbuf *b, int64_t extra);
nc_status nc_sb_append(nc_strbuf *b, const char *s, int64_t len);
nc_status nc_sb_putc(nc_strbuf *b, char c);
nc_status nc_sb_put_cp(nc_strbuf *b, uint32_t cp); /* UTF-8 encodes cp */
void nc_sb_clear(nc_strbuf *b);                     /* n = 0, keeps memory */
void nc_sb_free(nc_strbuf *b);
/* Hands the string to the caller (nc_free it); "" when empty. */
char *nc_sb_take(nc_strbuf *b);

#endif
