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
                if (ferror(r->fp)) return nc_error(NC_ERR_IO, "%s: read error after line %lld", r->name, (long long)r->lineno);
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
