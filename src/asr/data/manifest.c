/* NeMo ASR manifests: JSON Lines of {audio_filepath, duration, text, ...}.
 *
 * Field rules follow nemo/collections/common/parts/preprocessing/manifest.py
 * (__parse_item, item_iter, get_full_path) and the duration/max_utts filters
 * of ASRAudioText (nemo/collections/common/parts/preprocessing/collections.py):
 * an utterance is dropped when duration < min_duration or > max_duration, and
 * reading stops counting kept utterances at max_utts. nemoc is stricter than
 * NeMo where NeMo would fail later or silently (negative durations, non-string
 * text): those are errors naming file:line. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/audio.h"
#include "nemoc/jsonl.h"
#include "nemoc/log.h"

/* ---- string pool: entries point into large blocks (millions of short strings) ---- */

#define POOL_BLOCK (1 << 20)

typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    char data[];
} pool_block;

typedef struct str_pool {
    pool_block *head;
} str_pool;

static void pool_free(str_pool *p) {
    if (!p) return;
    for (pool_block *b = p->head, *n; b; b = n) {
        n = b->next;
        nc_free(b);
    }
    nc_free(p);
}

static char *pool_strndup(str_pool *p, const char *s, size_t len) {
    pool_block *b = p->head;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > POOL_BLOCK ? len + 1 : POOL_BLOCK;
        pool_block *nb = nc_malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        /* A block for one big string goes behind the head so the head keeps its free space. */
        if (b && cap > POOL_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            p->head = nb;
        }
        b = nb;
    }
    char *d = b->data + b->used;
    memcpy(d, s, len);
    d[len] = 0;
    b->used += len + 1;
    return d;
}

static char *pool_strdup(str_pool *p, const char *s) { return pool_strndup(p, s, strlen(s)); }

/* ---- paths ---- */

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* `~` and `~/x` expanded as os.path.expanduser does with $HOME. Returns a
 * pool string. */
static char *expand_user(str_pool *pool, const char *p) {
    const char *home = getenv("HOME");
    if (p[0] != '~' || (p[1] && p[1] != '/') || !home) return pool_strdup(pool, p);
    size_t n = strlen(home) + strlen(p);
    char *buf = nc_malloc(n + 1);
    if (!buf) return NULL;
    snprintf(buf, n + 1, "%s%s", home, p + 1);
    char *r = pool_strdup(pool, buf);
    nc_free(buf);
    return r;
}

/* A relative path joined to the manifest's folder; kept as given when only
 * that exists (NeMo's get_full_path looks at the cwd first, then the manifest
 * folder; nemoc prefers the manifest folder so that a manifest means the same
 * wherever it is read from). */
static char *resolve_path(str_pool *pool, const char *dir, const char *p) {
    char *e = expand_user(pool, p);
    if (!e || e[0] == '/') return e;
    size_t n = strlen(dir) + strlen(e) + 2;
    char *full = nc_malloc(n);
    if (!full) return NULL;
    snprintf(full, n, "%s/%s", dir, e);
    char *r = (!is_file(full) && is_file(e)) ? e : pool_strdup(pool, full);
    nc_free(full);
    return r;
}

/* ---- one line ---- */

typedef struct reader_ctx {
    const char *file; /* manifest path as given */
    const char *dir;  /* its folder */
    str_pool *pool;
} reader_ctx;

/* Reads a text_filepath file, newlines removed (NeMo: f.read().replace('\n', '')). */
static nc_status read_text_file(const reader_ctx *c, int64_t line, const char *path, char **out) {
    void *buf;
    size_t len;
    nc_status s = nc_read_file(path, &buf, &len);
    if (s) return nc_error_prefix(s, "%s:%lld: text_filepath", c->file, (long long)line);
    size_t bad;
    if (!nc_utf8_valid(buf, len, &bad)) {
        nc_free(buf);
        return nc_error(NC_ERR_FORMAT, "%s:%lld: text_filepath '%s': invalid UTF-8 at byte %zu", c->file,
                        (long long)line, path, bad + 1);
    }
    char *t = buf;
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (t[i] != '\n') t[k++] = t[i];
    *out = pool_strndup(c->pool, t, k);
    nc_free(buf);
    return *out ? NC_OK : nc_error(NC_ERR_OOM, "%s:%lld", c->file, (long long)line);
}

/* An optional string field: NULL when absent or null; numbers become their text. */
static nc_status opt_string(const reader_ctx *c, int64_t line, const cJSON *o, const char *key, char **out) {
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return NC_OK;
    char num[64];
    const char *s = NULL;
    if (cJSON_IsString(v)) {
        s = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15)
            snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        else
            snprintf(num, sizeof num, "%.17g", v->valuedouble);
        s = num;
    } else {
        return nc_error(NC_ERR_FORMAT, "%s:%lld: \"%s\" must be a string", c->file, (long long)line, key);
    }
    *out = pool_strdup(c->pool, s);
    return *out ? NC_OK : nc_error(NC_ERR_OOM, "%s:%lld", c->file, (long long)line);
}

static nc_status string_utf8(const reader_ctx *c, int64_t line, const char *key, const char *s) {
    size_t bad;
    if (!nc_utf8_valid((const unsigned char *)s, strlen(s), &bad))
        return nc_error(NC_ERR_FORMAT, "%s:%lld: \"%s\" is not valid UTF-8 (byte %zu)", c->file, (long long)line, key,
                        bad + 1);
    return NC_OK;
}

/* Checks the required fields and reads the duration; text is not touched. */
static nc_status parse_head(const reader_ctx *c, int64_t line, const cJSON *o, const cJSON **fp, double *duration) {
    *fp = cJSON_GetObjectItemCaseSensitive(o, "audio_filename");
    if (!*fp) *fp = cJSON_GetObjectItemCaseSensitive(o, "audio_filepath");
    if (!*fp)
        return nc_error(NC_ERR_FORMAT, "%s:%lld: missing \"audio_filepath\" (or \"audio_filename\")", c->file,
                        (long long)line);
    if (!cJSON_IsString(*fp) || !(*fp)->valuestring[0])
        return nc_error(NC_ERR_FORMAT, "%s:%lld: \"audio_filepath\" must be a non-empty string", c->file,
                        (long long)line);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "duration");
    if (!d) return nc_error(NC_ERR_FORMAT, "%s:%lld: missing \"duration\"", c->file, (long long)line);
    if (!cJSON_IsNumber(d))
        return nc_error(NC_ERR_FORMAT, "%s:%lld: \"duration\" must be a number of seconds", c->file, (long long)line);
    if (!isfinite(d->valuedouble) || d->valuedouble < 0)
        return nc_error(NC_ERR_FORMAT, "%s:%lld: \"duration\" must be finite and >= 0, found %g", c->file,
                        (long long)line, d->valuedouble);
    *duration = d->valuedouble;
    return NC_OK;
}

static nc_status parse_entry(const reader_ctx *c, int64_t line, const cJSON *o, const cJSON *fp, double duration,
                             nc_manifest_entry *e) {
    nc_status s = string_utf8(c, line, "audio_filepath", fp->valuestring);
    if (s) return s;
    *e = (nc_manifest_entry){.duration = duration};
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(o, "offset");
    if (off && !cJSON_IsNull(off)) {
        if (!cJSON_IsNumber(off) || !isfinite(off->valuedouble) || off->valuedouble < 0)
            return nc_error(NC_ERR_FORMAT, "%s:%lld: \"offset\" must be a number of seconds >= 0", c->file,
                            (long long)line);
        e->offset = off->valuedouble;
    }
    /* Text: text -> text_filepath -> normalized_text -> "". */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(o, "text_filepath");
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(o, "normalized_text");
    if (t) {
        if (!cJSON_IsString(t))
            return nc_error(NC_ERR_FORMAT, "%s:%lld: \"text\" must be a string", c->file, (long long)line);
        if ((s = string_utf8(c, line, "text", t->valuestring))) return s;
        e->text = pool_strdup(c->pool, t->valuestring);
    } else if (tf) {
        if (!cJSON_IsString(tf) || !tf->valuestring[0])
            return nc_error(NC_ERR_FORMAT, "%s:%lld: \"text_filepath\" must be a non-empty string", c->file,
                            (long long)line);
        char *path = resolve_path(c->pool, c->dir, tf->valuestring);
        if (!path) return nc_error(NC_ERR_OOM, "%s:%lld", c->file, (long long)line);
        if ((s = read_text_file(c, line, path, &e->text))) return s;
    } else if (nt) {
        if (!cJSON_IsString(nt))
            return nc_error(NC_ERR_FORMAT, "%s:%lld: \"normalized_text\" must be a string", c->file, (long long)line);
        if ((s = string_utf8(c, line, "normalized_text", nt->valuestring))) return s;
        e->text = pool_strdup(c->pool, nt->valuestring);
    } else {
        e->text = pool_strdup(c->pool, "");
    }
    if ((s = opt_string(c, line, o, "lang", &e->lang))) return s;
    if ((s = opt_string(c, line, o, "speaker", &e->speaker))) return s;
    e->audio_filepath = resolve_path(c->pool, c->dir, fp->valuestring);
    char *json = cJSON_PrintUnformatted(o);
    if (json) {
        e->extra_json = pool_strdup(c->pool, json);
        cJSON_free(json);
    }
    char *src = nc_strdupf("%s:%lld", c->file, (long long)line);
    e->source = src ? pool_strdup(c->pool, src) : NULL;
    nc_free(src);
    if (!e->text || !e->audio_filepath || !e->extra_json || !e->source)
        return nc_error(NC_ERR_OOM, "%s:%lld", c->file, (long long)line);
    return NC_OK;
}

/* ---- files ---- */

typedef struct read_state {
    nc_manifest *m;
    int64_t cap;
    nc_manifest_filter f;
    bool skip_bad;
    double sec_kept, sec_dropped;
} read_state;

static nc_status push_entry(read_state *st, const nc_manifest_entry *e) {
    nc_manifest *m = st->m;
    if (nc_vec_reserve(&m->entries, &st->cap, m->n + 1, sizeof *m->entries))
        return nc_error(NC_ERR_OOM, "manifest of %lld entries", (long long)(m->n + 1));
    m->entries[m->n++] = *e;
    return NC_OK;
}

static nc_status read_one(read_state *st, const char *file) {
    nc_jsonl_reader *r = NULL;
    nc_jsonl_opts opts = nc_jsonl_default_opts();
    opts.max_line_bytes = NC_MANIFEST_MAX_LINE_BYTES;
    nc_status s = nc_jsonl_open(file, &opts, &r);
    if (s) return nc_error_prefix(s, "manifest");
    char *dcopy = nc_strdup(file);
    if (!dcopy) {
        nc_jsonl_close(r);
        return nc_error(NC_ERR_OOM, "manifest '%s'", file);
    }
    char *slash = strrchr(dcopy, '/');
    const char *dir = ".";
    if (slash == dcopy) dir = "/";
    else if (slash) *slash = 0, dir = dcopy;
    reader_ctx c = {.file = file, .dir = dir, .pool = st->m->strings_};
    nc_manifest_stats *ms = &st->m->stats;
    int64_t n_entries = 0;
    for (;;) {
        cJSON *o = NULL;
        s = nc_jsonl_next(r, &o);
        const int64_t line = nc_jsonl_line(r);
        const bool capped = st->f.max_utts > 0 && ms->n_kept >= st->f.max_utts;
        const cJSON *fp = NULL;
        double dur = 0;
        if (!s && o) s = parse_head(&c, line, o, &fp, &dur);
        if (s == NC_ERR_FORMAT && capped) { /* past the cap: NeMo never reads these lines */
            cJSON_Delete(o);
            continue;
        }
        nc_manifest_entry e;
        const bool too_short = !s && o && st->f.min_duration >= 0 && dur < st->f.min_duration;
        const bool too_long = !s && o && st->f.max_duration >= 0 && dur > st->f.max_duration;
        if (!s && o && !capped && !too_short && !too_long) s = parse_entry(&c, line, o, fp, dur, &e);
        if (s == NC_ERR_FORMAT && st->skip_bad) {
            NC_WARN("skipping a bad manifest line: %s", nc_last_error());
            ms->n_bad_lines++;
            cJSON_Delete(o);
            s = NC_OK;
            continue;
        }
        if (s || !o) {
            cJSON_Delete(o);
            break;
        }
        cJSON_Delete(o);
        n_entries++;
        ms->n_read++;
        if (too_short || too_long || capped) {
            if (too_short) ms->n_too_short++;
            else if (too_long) ms->n_too_long++;
            else ms->n_over_max_utts++;
            st->sec_dropped += dur;
            continue;
        }
        if ((s = push_entry(st, &e))) break;
        ms->n_kept++;
        st->sec_kept += dur;
    }
    nc_jsonl_close(r);
    nc_free(dcopy);
    if (!s && n_entries == 0) s = nc_error(NC_ERR_FORMAT, "manifest '%s' has no entries", file);
    return s;
}

nc_manifest_filter nc_manifest_default_filter(void) {
    return (nc_manifest_filter){.min_duration = -1, .max_duration = -1, .max_utts = 0};
}

void nc_manifest_free(nc_manifest *m) {
    if (!m) return;
    nc_free(m->entries);
    pool_free(m->strings_);
    *m = (nc_manifest){0};
}

nc_status nc_manifest_read_list(const char *const *paths, int64_t n, const nc_manifest_filter *filter,
                                bool skip_bad_lines, nc_manifest *out) {
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "nc_manifest_read: NULL output");
    *out = (nc_manifest){0};
    if (n <= 0 || !paths) return nc_error(NC_ERR_INVALID_ARG, "manifest_filepath is empty");
    read_state st = {.m = out, .f = filter ? *filter : nc_manifest_default_filter(), .skip_bad = skip_bad_lines};
    if (st.f.max_utts < 0) return nc_error(NC_ERR_INVALID_ARG, "max_utts must be >= 0, got %lld", (long long)st.f.max_utts);
    out->strings_ = nc_calloc(1, sizeof(str_pool));
    if (!out->strings_) return nc_error(NC_ERR_OOM, "manifest");
    nc_status s = NC_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        if (!paths[i] || !paths[i][0]) s = nc_error(NC_ERR_INVALID_ARG, "manifest_filepath[%lld] is empty", (long long)i);
        else s = read_one(&st, paths[i]);
    }
    if (!s && out->stats.n_read == 0 && out->stats.n_bad_lines == 0)
        s = nc_error(NC_ERR_INVALID_ARG, "manifest_filepath '%s'%s names no manifest", paths[0],
                     n > 1 ? " (and the rest)" : "");
    if (s) {
        nc_manifest_free(out);
        return s;
    }
    out->stats.hours_kept = st.sec_kept / 3600.0;
    out->stats.hours_dropped = st.sec_dropped / 3600.0;
    const nc_manifest_stats *ms = &out->stats;
    /* The two lines ASRAudioText logs. */
    NC_INFO("Dataset loaded with %lld files totalling %.2f hours", (long long)ms->n_kept, ms->hours_kept);
    NC_INFO("%lld files were filtered totalling %.2f hours (%lld shorter than min_duration, %lld longer than "
            "max_duration, %lld past max_utts)",
            (long long)(ms->n_too_short + ms->n_too_long + ms->n_over_max_utts), ms->hours_dropped,
            (long long)ms->n_too_short, (long long)ms->n_too_long, (long long)ms->n_over_max_utts);
    return NC_OK;
}

nc_status nc_manifest_read(const char *paths, const nc_manifest_filter *filter, bool skip_bad_lines,
                           nc_manifest *out) {
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "nc_manifest_read: NULL output");
    *out = (nc_manifest){0};
    if (!paths || !paths[0]) return nc_error(NC_ERR_INVALID_ARG, "manifest_filepath is empty");
    /* A string is comma-separated, spaces around each path trimmed (NeMo:
     * manifest_filepath.split(',')); a config list keeps its items whole. */
    char *list = nc_strdup(paths);
    const char **items = NULL;
    int64_t n = 0, cap = 0;
    nc_status s = list ? NC_OK : nc_error(NC_ERR_OOM, "manifest");
    for (char *save = NULL, *tok = list ? strtok_r(list, ",", &save) : NULL; tok && !s;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        if (!*tok) continue;
        if ((s = nc_vec_reserve(&items, &cap, n + 1, sizeof *items))) s = nc_error(NC_ERR_OOM, "manifest list");
        else items[n++] = tok;
    }
    if (!s && n == 0) s = nc_error(NC_ERR_INVALID_ARG, "manifest_filepath '%s' names no manifest", paths);
    if (!s) s = nc_manifest_read_list(items, n, filter, skip_bad_lines, out);
    nc_free(items);
    nc_free(list);
    return s;
}

nc_status nc_manifest_from_audio_files(const char *const *paths, int64_t n, nc_manifest *out) {
    *out = (nc_manifest){0};
    read_state st = {.m = out, .f = nc_manifest_default_filter()};
    str_pool *pool = nc_calloc(1, sizeof *pool);
    out->strings_ = pool;
    if (!pool) return nc_error(NC_ERR_OOM, "manifest");
    nc_status s = NC_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        char abs[PATH_MAX];
        const char *path = realpath(paths[i], abs) ? abs : paths[i];
        nc_audio_info info;
        /* An unreadable file gets duration 0 here; the loader reports it. */
        double dur = nc_audio_probe(path, &info) == NC_OK ? info.duration : 0;
        cJSON *o = cJSON_CreateObject();
        char *line = NULL;
        if (o && cJSON_AddStringToObject(o, "audio_filepath", path) && cJSON_AddNumberToObject(o, "duration", dur) &&
            cJSON_AddStringToObject(o, "text", ""))
            line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        nc_manifest_entry e = {.duration = dur};
        if (line) {
            e.audio_filepath = pool_strdup(pool, path);
            e.text = pool_strdup(pool, "");
            e.extra_json = pool_strdup(pool, line);
            e.source = pool_strdup(pool, paths[i]);
        }
        free(line);
        if (!e.audio_filepath || !e.text || !e.extra_json || !e.source)
            s = nc_error(NC_ERR_OOM, "manifest entry of %s", paths[i]);
        else
            s = push_entry(&st, &e);
        out->stats.n_read++;
        out->stats.n_kept++;
        st.sec_kept += dur;
    }
    out->stats.hours_kept = st.sec_kept / 3600.0;
    if (s) nc_manifest_free(out);
    return s;
}
