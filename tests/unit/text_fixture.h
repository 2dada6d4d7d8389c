/* Line-oriented fixture files for the text tests (header-only helpers). */
#ifndef NC_TEXT_FIXTURE_H
#define NC_TEXT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"

typedef struct fx_lines {
    char *buf;
    char **line;   /* NUL-terminated, without the '\n' */
    int64_t *len;
    int64_t n;
} fx_lines;

/* Splits a file at '\n' only (like std::getline: a '\r' stays in the line).
 * Records a test failure and returns false when the file cannot be read. */
static inline bool fx_read_lines(const char *path, fx_lines *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        nc_test_fail(__FILE__, __LINE__, "cannot open %s", path);
        return false;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->buf = malloc((size_t)size + 1);
    if (fread(out->buf, 1, (size_t)size, f) != (size_t)size) size = 0;
    fclose(f);
    out->buf[size] = 0;
    int64_t cap = 1;
    for (long i = 0; i < size; i++) cap += out->buf[i] == '\n';
    out->line = malloc((size_t)cap * sizeof *out->line);
    out->len = malloc((size_t)cap * sizeof *out->len);
    for (char *s = out->buf, *end = out->buf + size; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl ? nl : end;
        out->line[out->n] = s;
        out->len[out->n++] = e - s;
        *e = 0;
        s = e + 1;
    }
    return true;
}

static inline void fx_free_lines(fx_lines *l) {
    free(l->buf);
    free(l->line);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* Formats ids as "1 2 3" into buf (truncated to cap). */
static inline const char *fx_ids_str(const int32_t *ids, int64_t n, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (int64_t k = 0; k < n && o + 16 < cap; k++) o += (size_t)snprintf(buf + o, cap - o, k ? " %d" : "%d", ids[k]);
    return buf;
}

#endif
