/* JSON Lines reader (streaming, no line cap) and appending writer.
 * Mirrors how NeMo reads manifests (nemo/collections/common/parts/preprocessing/
 * manifest.py: one json.loads per non-blank line of a UTF-8 file). */
#include "nemoc/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

#define CHUNK (1 << 16)

struct nc_jsonl_reader {
    char *name;
    nc_jsonl_opts opts;
    FILE *fp;                 /* file mode */
    char *chunk;              /* file mode: read buffer */
    size_t pos, len;          /* unread part of chunk */
    bool eof;
    const char *mem;          /* memory mode */
    size_t mem_len, mem_pos;
    nc_strbuf line;           /* file mode: the assembled line */
    int64_t lineno, last;
};

nc_jsonl_opts nc_jsonl_default_opts(void) {
    return (nc_jsonl_opts){.max_line_bytes = 0, .any_value = false};
}

static nc_status new_reader(const char *name, const nc_jsonl_opts *opts, nc_jsonl_reader **out) {
    nc_jsonl_reader *r = nc_calloc(1, sizeof *r);
    if (!r) return nc_error(NC_ERR_OOM, "jsonl reader");
    r->name = nc_strdup(name ? name : "<buffer>");
    if (!r->name) {
        nc_free(r);
        return nc_error(NC_ERR_OOM, "jsonl reader");
    }
    r->opts = opts ? *opts : nc_jsonl_default_opts();
    *out = r;
    return NC_OK;
}

nc_status nc_jsonl_open(const char *path, const nc_jsonl_opts *opts, nc_jsonl_reader **out) {
    *out = NULL;
    FILE *fp;
    nc_status os = nc_fopen_read(path, NULL, &fp);
    if (os) return os;
    nc_jsonl_reader *r;
    nc_status s = new_reader(path, opts, &r);
    if (!s) {
        r->chunk = nc_malloc(CHUNK);
        if (!r->chunk) {
            nc_jsonl_close(r);
            s = nc_error(NC_ERR_OOM, "jsonl reader");
        }
    }
    if (s) {
        fclose(fp);
        return s;
    }
    r->fp = fp;
    *out = r;
    return NC_OK;
}

nc_status nc_jsonl_open_mem(const void *buf, size_t len, const char *name, const nc_jsonl_opts *opts,
                            nc_jsonl_reader **out) {
    *out = NULL;
    nc_jsonl_reader *r;
    nc_status s = new_reader(name, opts, &r);
    if (s) return s;
    r->mem = buf;
    r->mem_len = len;
    *out = r;
    return NC_OK;
}

void nc_jsonl_close(nc_jsonl_reader *r) {
    if (!r) return;
    if (r->fp) fclose(r->fp);
    nc_free(r->chunk);
    nc_sb_free(&r->line);
    nc_free(r->name);
    nc_free(r);
}

int64_t nc_jsonl_line(const nc_jsonl_reader *r) { return r->last; }
const char *nc_jsonl_name(const nc_jsonl_reader *r) { return r->name; }

/* The next physical line without its '\n'. *got is false at the end.
 * *too_long is set (and the line's bytes dropped) past max_line_bytes. */
static nc_status read_line(nc_jsonl_reader *r, const char **line, size_t *len, bool *got, bool *too_long) {
    size_t maxb = r->opts.max_line_bytes > 0 ? (size_t)r->opts.max_line_bytes : SIZE_MAX;
    *got = false;
    *too_long = false;
    if (r->mem) {
        if (r->mem_pos >= r->mem_len) return NC_OK;
        const char *s = r->mem + r->mem_pos;
        const char *nl = memchr(s, '\n', r->mem_len - r->mem_pos);
        size_t k = nl ? (size_t)(nl - s) : r->mem_len - r->mem_pos;
        r->mem_pos += k + (nl ? 1 : 0);
        *line = s;
        *len = k;
        *got = true;
        *too_long = k > maxb;
        return NC_OK;
    }
    nc_sb_clear(&r->line);
    bool any = false;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof) break;
            r->len = fread(r->chunk, 1, CHUNK, r->fp);
            r->pos = 0;
            if (r->len < CHUNK) {
                if (ferror(r->fp)) { /* a directory reads as EISDIR */
                    if (!r->lineno) return nc_error(NC_ERR_IO, "cannot read '%s': %s", r->name, strerror(errno));
                    return nc_error(NC_ERR_IO, "cannot read '%s' after line %lld: %s", r->name,
                                    (long long)r->lineno, strerror(errno));
                }
                r->eof = true;
            }
            if (!r->len) break;
        }
        any = true;
        const char *s = r->chunk + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t k = nl ? (size_t)(nl - s) : r->len - r->pos;
        r->pos += k + (nl ? 1 : 0);
        if (!*too_long && r->line.n + k > maxb) *too_long = true;
        if (!*too_long && nc_sb_append(&r->line, s, k))
            return nc_error(NC_ERR_OOM, "%s: a line of %zu bytes", r->name, r->line.n + k);
        if (nl) break;
    }
    if (!any) return NC_OK;
    *line = nc_sb_str(&r->line);
    *len = *too_long ? 0 : r->line.n;
    *got = true;
    return NC_OK;
}

/* Up to 60 bytes of the line around `at`, control bytes shown as '?'. */
static void excerpt(const char *s, size_t len, size_t at, char *out, size_t cap) {
    size_t start = at > 30 ? at - 30 : 0;
    size_t end = start + 60 < len ? start + 60 : len;
    size_t o = 0;
    if (start && o + 3 < cap) o += (size_t)snprintf(out + o, cap - o, "...");
    for (size_t i = start; i < end && o + 4 < cap; i++) out[o++] = ((unsigned char)s[i] < 0x20) ? '?' : s[i];
    if (end < len && o + 4 < cap) o += (size_t)snprintf(out + o, cap - o, "...");
    out[o] = 0;
}

/* Strings that cJSON would take but Python's json.loads (NeMo's reader) or
 * a C string cannot: a raw control character (json.loads refuses it, cJSON
 * keeps it; a raw NUL would cut the text short) and the escape \u0000 (cJSON
 * decodes it into a NUL, truncating the string: a path would open another
 * file). Returns the column (1-based) of the first one, 0 if none. */
static size_t bad_string_char(const char *s, size_t len, bool *is_nul_escape) {
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (!in_str) {
            if (c == '"') in_str = true;
            else if (c == 0) return i + 1; /* cJSON would stop here and miss the rest */
            continue;
        }
        if (c == '"') {
            in_str = false;
        } else if (c < 0x20) {
            *is_nul_escape = false;
            return i + 1;
        } else if (c == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && !memcmp(s + i + 2, "0000", 4)) {
                *is_nul_escape = true;
                return i + 1;
            }
            i++; /* the escaped character */
        }
    }
    return 0;
}

typedef struct member {
    cJSON *item;
    int64_t pos;
} member;

static int cmp_members(const void *a, const void *b) {
    const member *x = a, *y = b;
    int c = strcmp(x->item->string, y->item->string);
    if (c) return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Duplicate keys of every object under v: the last one wins, as in Python's
 * json (cJSON's lookups would find the first). Sorting keeps this
 * O(n log n) for hostile lines with millions of keys. */
static nc_status dedupe(cJSON *v, int depth) {
    if (depth > CJSON_NESTING_LIMIT || (!cJSON_IsObject(v) && !cJSON_IsArray(v))) return NC_OK;
    int64_t n = 0;
    for (cJSON *c = v->child; c; c = c->next) n++;
    if (cJSON_IsObject(v) && n > 1) {
        member *m = nc_malloc((size_t)n * sizeof *m);
        if (!m) return nc_error(NC_ERR_OOM, "JSON object of %lld keys", (long long)n);
        int64_t k = 0;
        for (cJSON *c = v->child; c; c = c->next, k++) m[k] = (member){.item = c, .pos = k};
        qsort(m, (size_t)n, sizeof *m, cmp_members);
        for (int64_t i = 0; i + 1 < n; i++)
            if (!strcmp(m[i].item->string, m[i + 1].item->string))
                cJSON_Delete(cJSON_DetachItemViaPointer(v, m[i].item));
        nc_free(m);
    }
    for (cJSON *c = v->child; c; c = c->next) {
        nc_status s = dedupe(c, depth + 1);
        if (s) return s;
    }
    return NC_OK;
}

static const char *kind_name(const cJSON *v) {
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "a value";
}

nc_status nc_jsonl_next(nc_jsonl_reader *r, cJSON **obj) {
    *obj = NULL;
    for (;;) {
        const char *s = NULL;
        size_t len = 0;
        bool got, too_long;
        nc_status st = read_line(r, &s, &len, &got, &too_long);
        if (st) return st;
        if (!got) return NC_OK;
        r->lineno++;
        r->last = r->lineno;
        if (too_long)
            return nc_error(NC_ERR_FORMAT, "%s:%lld: line is longer than the limit of %lld bytes", r->name,
                            (long long)r->lineno, (long long)r->opts.max_line_bytes);
        if (r->lineno == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, len -= 3;
        if (len && s[len - 1] == '\r') len--;
        size_t i = 0;
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
        if (i == len) continue; /* blank line */
        char ex[80];
        size_t bad;
        if (!nc_utf8_valid((const unsigned char *)s, len, &bad)) {
            excerpt(s, len, bad, ex, sizeof ex);
            return nc_error(NC_ERR_FORMAT, "%s:%lld: invalid UTF-8 at column %zu: '%s'", r->name, (long long)r->lineno,
                            bad + 1, ex);
        }
        bool nul_escape = false;
        size_t col = bad_string_char(s, len, &nul_escape);
        if (col) {
            if (nul_escape)
                return nc_error(NC_ERR_FORMAT, "%s:%lld: \\u0000 (NUL) in a string at column %zu: nemoc cannot hold "
                                "a NUL inside a string (a path or text would be cut short there)",
                                r->name, (long long)r->lineno, col);
            return nc_error(NC_ERR_FORMAT, "%s:%lld: raw control character 0x%02X at column %zu (JSON strings need "
                            "it escaped, e.g. \\n or \\t; Python's json refuses it too)",
                            r->name, (long long)r->lineno, (unsigned)(unsigned char)s[col - 1], col);
        }
        const char *end = NULL;
        cJSON *v = cJSON_ParseWithLengthOpts(s, len, &end, 0);
        size_t at = (end && end >= s && end <= s + len) ? (size_t)(end - s) : 0;
        if (v) {
            while (at < len && (s[at] == ' ' || s[at] == '\t' || s[at] == '\r')) at++;
            if (at < len) {
                cJSON_Delete(v);
                excerpt(s, len, at, ex, sizeof ex);
                return nc_error(NC_ERR_FORMAT, "%s:%lld: unexpected text after the JSON value at column %zu: '%s'",
                                r->name, (long long)r->lineno, at + 1, ex);
            }
            if (!r->opts.any_value && !cJSON_IsObject(v)) {
                const char *k = kind_name(v);
                cJSON_Delete(v);
                return nc_error(NC_ERR_FORMAT, "%s:%lld: expected a JSON object, found %s", r->name,
                                (long long)r->lineno, k);
            }
            nc_status ds = dedupe(v, 0);
            if (ds) {
                cJSON_Delete(v);
                return ds;
            }
            *obj = v;
            return NC_OK;
        }
        if (len > 0 && at >= len) at = len - 1;
        /* Python's json.dumps writes float nan/inf as these bare words. */
        const char *hint = "", *t = s + at;
        size_t left = len - at;
        if (left && (*t == '-' || *t == '+')) t++, left--;
        if ((left >= 3 && !memcmp(t, "NaN", 3)) || (left >= 8 && !memcmp(t, "Infinity", 8)))
            hint = " (NaN and Infinity are not JSON: write a finite number)";
        excerpt(s, len, at, ex, sizeof ex);
        if (!ex[0]) snprintf(ex, sizeof ex, "(empty)");
        return nc_error(NC_ERR_FORMAT, "%s:%lld: malformed JSON at column %zu: '%s'%s", r->name, (long long)r->lineno,
                        at + 1, ex, hint);
    }
}

/* ---- writer ----------------------------------------------------------------- */

struct nc_jsonl_writer {
    int fd;
    char *path;
};

nc_status nc_jsonl_writer_open(const char *path, bool append, nc_jsonl_writer **out) {
    *out = NULL;
    int fd;
    nc_status os = nc_open_write(path, NULL, append, &fd);
    if (os) return os;
    nc_jsonl_writer *w = nc_calloc(1, sizeof *w);
    char *p = nc_strdup(path);
    if (!w || !p) {
        close(fd);
        nc_free(w);
        nc_free(p);
        return nc_error(NC_ERR_OOM, "jsonl writer");
    }
    w->fd = fd;
    w->path = p;
    *out = w;
    return NC_OK;
}

nc_status nc_jsonl_write(nc_jsonl_writer *w, const cJSON *value) {
    char *text = cJSON_PrintUnformatted(value);
    if (!text) return nc_error(NC_ERR_OOM, "%s: cannot format a JSON line", w->path);
    size_t n = strlen(text);
    char *line = nc_malloc(n + 1);
    if (!line) {
        cJSON_free(text);
        return nc_error(NC_ERR_OOM, "%s: a JSON line of %zu bytes", w->path, n);
    }
    /* cJSON escapes newlines inside strings, so the value is one line. */
    memcpy(line, text, n);
    line[n] = '\n';
    cJSON_free(text);
    nc_status s = NC_OK;
    size_t done = 0;
    while (done < n + 1) {
        ssize_t k = write(w->fd, line + done, n + 1 - done);
        if (k < 0) {
            if (errno == EINTR) continue;
            s = nc_error(NC_ERR_IO, "cannot write '%s': %s", w->path, strerror(errno));
            break;
        }
        done += (size_t)k;
    }
    nc_free(line);
    return s;
}

nc_status nc_jsonl_writer_sync(nc_jsonl_writer *w) {
    if (fsync(w->fd) != 0) return nc_error(NC_ERR_IO, "cannot sync '%s': %s", w->path, strerror(errno));
    return NC_OK;
}

nc_status nc_jsonl_writer_close(nc_jsonl_writer *w) {
    if (!w) return NC_OK;
    nc_status s = NC_OK;
    if (close(w->fd) != 0) s = nc_error(NC_ERR_IO, "cannot close '%s': %s", w->path, strerror(errno));
    nc_free(w->path);
    nc_free(w);
    return s;
}

nc_status nc_jsonl_append(const char *path, const cJSON *value) {
    nc_jsonl_writer *w;
    nc_status s = nc_jsonl_writer_open(path, true, &w);
    if (s) return s;
    s = nc_jsonl_write(w, value);
    nc_status c = nc_jsonl_writer_close(w);
    return s ? s : c;
}
