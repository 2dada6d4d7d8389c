/* JSONL -> Megatron indexed datasets: NeMo's
 * scripts/nlp_language_modeling/preprocess_data_for_megatron.py without
 * --split-sentences (one document per JSON line).
 *
 * Per line and per --json-keys key, as Encoder.encode: the text is
 * tokenized (text_to_ids); a text that gives no tokens is skipped (no
 * document); with --append-eod the tokenizer's eos id ends the document.
 * Each key has its own builder, <prefix>_<key>_document.{bin,idx}.
 *
 * Threads: the calling thread reads lines into chunks of a ring; `workers`
 * threads parse and tokenize whole chunks; the calling thread writes chunks
 * strictly in input order, so the output is the same for any worker count
 * (NeMo's pool.imap keeps the order the same way).
 *
 * Bad lines (not JSON, not an object, a missing key, a text that is not a
 * string or not UTF-8) stop NeMo with an exception; here they are an error
 * naming file:line, or, with skip_bad_lines, counted, skipped and reported
 * with the first one's file:line. Blank lines are ignored. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "core/clock.h"
#include "core/utf8.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"

#define CHUNK_BYTES (1 << 20) /* input bytes per chunk of work */
#define READ_BYTES (1 << 20)

typedef struct pp_out { /* one key's documents of a chunk */
    int32_t *ids;
    int64_t n_ids, cap_ids;
    int64_t *lens; /* tokens per document */
    int64_t n_docs, cap_docs;
} pp_out;

enum { SLOT_FREE, SLOT_FILLED, SLOT_WORKING, SLOT_DONE };

typedef struct pp_chunk {
    int state;
    int64_t seq;
    int file;
    int64_t first_line; /* 1-based number of line 0 */
    char *text;
    int64_t text_n, text_cap;
    int64_t *start; /* line k is text[start[k], start[k+1]) */
    int64_t n_lines, cap_lines;
    pp_out *out; /* [n_keys] */
    int64_t lines, empty, bad, bytes;
    nc_status st;
    char err[512];
    char first_bad[256];
} pp_chunk;

typedef struct pp_ctx {
    const nc_llm_preprocess_params *p;
    const char *const *keys;
    int n_keys;
    int32_t eod;
    pp_chunk *ring;
    int n_ring;
    int64_t next_take;
    bool finished, aborted;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
} pp_ctx;

/* ---- line reader (plain or gzip input, via zlib's transparent gzread) --- */

typedef struct line_reader {
    gzFile gz;
    const char *path;
    char *buf;
    int64_t len, pos, cap;
    bool eof;
    int64_t line; /* number of the last line returned */
} line_reader;

static nc_status reader_open(line_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
    int fd;
    nc_status s = nc_open_read(path, "input JSONL", &fd, NULL);
    if (s) return s;
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        return nc_error(NC_ERR_IO, "input JSONL '%s': cannot open", path);
    }
    gzbuffer(r->gz, READ_BYTES);
    return NC_OK;
}

static void reader_close(line_reader *r) {
    if (r->gz) gzclose(r->gz);
    nc_free(r->buf);
    r->gz = NULL;
    r->buf = NULL;
}

/* The next line (without its newline) in line and n; line NULL at the end. Valid
 * until the next call. No cap on line length. */
static nc_status reader_next(line_reader *r, const char **line, int64_t *n) {
    *line = NULL;
    for (;;) {
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', (size_t)(r->len - r->pos)) : NULL;
        if (nl || (r->eof && r->pos < r->len)) {
            int64_t end = nl ? nl - r->buf : r->len;
            *line = r->buf + r->pos;
            *n = end - r->pos;
            r->pos = nl ? end + 1 : end;
            r->line++;
            return NC_OK;
        }
        if (r->eof) return NC_OK;
        if (r->pos > 0) { /* keep the partial line, drop what was returned */
            memmove(r->buf, r->buf + r->pos, (size_t)(r->len - r->pos));
            r->len -= r->pos;
            r->pos = 0;
        }
        nc_status s = nc_vec_reserve(&r->buf, &r->cap, r->len + READ_BYTES, 1);
        if (s) return nc_error_prefix(s, "%s:%lld: a line of %lld bytes", r->path, (long long)r->line + 1, (long long)r->len);
        int got = gzread(r->gz, r->buf + r->len, READ_BYTES);
        if (got < 0) {
            int errnum;
            const char *msg = gzerror(r->gz, &errnum);
            return nc_error(NC_ERR_IO, "input JSONL '%s': read failed after line %lld: %s", r->path,
                            (long long)r->line, msg);
        }
        if (got == 0) r->eof = true;
        r->len += got;
    }
}

/* ---- workers -------------------------------------------------------------- */

/* A bad line: an error for the chunk, or a skip when allowed. Returns true
 * when processing of the chunk must stop. */
static bool bad_line(const pp_ctx *c, pp_chunk *k, int64_t line_no, const char *why) {
    const char *file = c->p->inputs[k->file];
    if (c->p->skip_bad_lines) {
        if (!k->bad) snprintf(k->first_bad, sizeof k->first_bad, "%s:%lld: %s", file, (long long)line_no, why);
        k->bad++;
        return false;
    }
    k->st = NC_ERR_FORMAT;
    snprintf(k->err, sizeof k->err, "%s:%lld: %s (--skip-bad-lines skips such lines)", file, (long long)line_no,
             why);
    return true;
}

static bool is_blank(const char *s, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

static void process(const pp_ctx *c, pp_chunk *k, nc_token_ids *tok) {
    for (int i = 0; i < c->n_keys; i++) k->out[i].n_ids = k->out[i].n_docs = 0;
    k->lines = k->empty = k->bad = 0;
    k->st = NC_OK;
    k->first_bad[0] = 0;
    for (int64_t li = 0; li < k->n_lines; li++) {
        char *line = k->text + k->start[li];
        int64_t n = k->start[li + 1] - k->start[li] - 1; /* less the NUL separator */
        int64_t line_no = k->first_line + li;
        if (is_blank(line, n)) continue;
        k->lines++;
        const char *perr = NULL;
        /* n + 1: the NUL after the line, so that anything after the value
         * ("{...} junk") is an error, as in json.loads. */
        cJSON *obj = cJSON_ParseWithLengthOpts(line, (size_t)n + 1, &perr, true);
        char why[200];
        if (!obj || !cJSON_IsObject(obj)) {
            snprintf(why, sizeof why, "%s", obj ? "not a JSON object" : "not valid JSON");
            cJSON_Delete(obj);
            if (bad_line(c, k, line_no, why)) return;
            continue;
        }
        /* A line is all or nothing: check every key before writing any. */
        const char *key_err = NULL;
        const char *bad_key = NULL;
        for (int i = 0; i < c->n_keys && !key_err; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, c->keys[i]);
            bad_key = c->keys[i];
            size_t at;
            if (!v) key_err = "missing key";
            else if (!cJSON_IsString(v)) key_err = "is not a string";
            else if (!nc_utf8_valid((const unsigned char *)v->valuestring, strlen(v->valuestring), &at))
                key_err = "is not valid UTF-8";
        }
        if (key_err) {
            if (!strcmp(key_err, "missing key")) snprintf(why, sizeof why, "missing key '%s'", bad_key);
            else snprintf(why, sizeof why, "'%s' %s", bad_key, key_err);
            cJSON_Delete(obj);
            if (bad_line(c, k, line_no, why)) return;
            continue;
        }
        for (int i = 0; i < c->n_keys; i++) {
            const char *text = cJSON_GetObjectItemCaseSensitive(obj, c->keys[i])->valuestring;
            nc_status s = nc_tokenizer_encode(c->p->tokenizer, text, -1, tok);
            if (s) {
                k->st = s;
                snprintf(k->err, sizeof k->err, "%s:%lld: key '%s': %s", c->p->inputs[k->file], (long long)line_no,
                         c->keys[i], nc_last_error());
                cJSON_Delete(obj);
                return;
            }
            if (tok->n == 0) { /* NeMo: `if len(sentences) == 0: continue` */
                k->empty++;
                continue;
            }
            pp_out *o = &k->out[i];
            int64_t m = tok->n + (c->p->append_eod ? 1 : 0);
            s = nc_vec_reserve(&o->ids, &o->cap_ids, o->n_ids + m, sizeof *o->ids);
            if (!s) s = nc_vec_reserve(&o->lens, &o->cap_docs, o->n_docs + 1, sizeof *o->lens);
            if (s) {
                k->st = s;
                snprintf(k->err, sizeof k->err, "%s:%lld: %s", c->p->inputs[k->file], (long long)line_no,
                         nc_last_error());
                cJSON_Delete(obj);
                return;
            }
            memcpy(o->ids + o->n_ids, tok->ids, (size_t)tok->n * sizeof *o->ids);
            if (c->p->append_eod) o->ids[o->n_ids + tok->n] = c->eod;
            o->n_ids += m;
            o->lens[o->n_docs++] = m;
        }
        cJSON_Delete(obj);
    }
}

static void *worker_main(void *arg) {
    pp_ctx *c = arg;
    nc_token_ids tok = {0};
    pthread_mutex_lock(&c->mu);
    for (;;) {
        pp_chunk *k = NULL;
        while (!c->aborted) {
            pp_chunk *next = &c->ring[c->next_take % c->n_ring];
            if (next->state == SLOT_FILLED && next->seq == c->next_take) {
                k = next;
                break;
            }
            if (c->finished) break;
            pthread_cond_wait(&c->cv_work, &c->mu);
        }
        if (!k) break;
        c->next_take++;
        k->state = SLOT_WORKING;
        pthread_mutex_unlock(&c->mu);
        process(c, k, &tok);
        pthread_mutex_lock(&c->mu);
        k->state = SLOT_DONE;
        pthread_cond_broadcast(&c->cv_done);
    }
    pthread_mutex_unlock(&c->mu);
    nc_token_ids_free(&tok);
    return NULL;
}

/* ---- the driver ----------------------------------------------------------- */

/* Reads lines into k until it holds CHUNK_BYTES or the inputs end. */
static nc_status fill(line_reader *r, int *file, const nc_llm_preprocess_params *p, pp_chunk *k, bool *open) {
    k->n_lines = k->text_n = k->bytes = 0;
    k->start[0] = 0;
    k->file = *file;
    k->first_line = r->line + 1;
    while (k->text_n < CHUNK_BYTES) {
        const char *line;
        int64_t n;
        nc_status s = reader_next(r, &line, &n);
        if (s) return s;
        if (!line) {
            /* This file is done: the next one starts a new chunk, so that a
             * chunk's lines come from one file (for file:line messages). */
            reader_close(r);
            *open = false;
            if (++*file < p->n_inputs) {
                s = reader_open(r, p->inputs[*file]);
                if (s) return s;
                *open = true;
                if (k->n_lines) return NC_OK;
                k->file = *file;
                k->first_line = 1;
                continue;
            }
            return NC_OK;
        }
        s = nc_vec_reserve(&k->text, &k->text_cap, k->text_n + n + 1, 1);
        if (!s) s = nc_vec_reserve(&k->start, &k->cap_lines, k->n_lines + 2, sizeof *k->start);
        if (s) return s;
        memcpy(k->text + k->text_n, line, (size_t)n);
        k->text_n += n;
        k->text[k->text_n++] = 0; /* not part of the line; keeps lines apart */
        k->start[++k->n_lines] = k->text_n;
        k->bytes += n + 1;
    }
    return NC_OK;
}

nc_llm_preprocess_params nc_llm_preprocess_default_params(void) {
    return (nc_llm_preprocess_params){.workers = 1, .log_interval = 100};
}

static nc_status write_chunk(pp_ctx *c, pp_chunk *k, nc_indexed_builder **b, nc_llm_preprocess_stats *st) {
    if (k->st) return nc_error(k->st, "%s", k->err);
    for (int i = 0; i < c->n_keys; i++) {
        const pp_out *o = &k->out[i];
        int64_t at = 0;
        for (int64_t d = 0; d < o->n_docs; d++) {
            nc_status s = nc_indexed_builder_add(b[i], o->ids + at, o->lens[d]);
            if (!s) s = nc_indexed_builder_end_document(b[i]);
            if (s) return s;
            at += o->lens[d];
        }
        st->docs += o->n_docs;
        st->tokens += o->n_ids;
    }
    if (k->bad && !st->bad) snprintf(st->first_bad, sizeof st->first_bad, "%s", k->first_bad);
    st->bad += k->bad;
    st->empty += k->empty;
    int64_t before = st->lines;
    st->lines += k->lines;
    st->bytes += k->bytes;
    if (c->p->progress && c->p->log_interval > 0 && st->lines / c->p->log_interval != before / c->p->log_interval)
        c->p->progress(st->lines, st->bytes, nc_now_s() - st->seconds, c->p->user_data);
    k->state = SLOT_FREE;
    return NC_OK;
}

static void free_ring(pp_ctx *c) {
    for (int r = 0; c->ring && r < c->n_ring; r++) {
        pp_chunk *k = &c->ring[r];
        nc_free(k->text);
        nc_free(k->start);
        for (int i = 0; k->out && i < c->n_keys; i++) {
            nc_free(k->out[i].ids);
            nc_free(k->out[i].lens);
        }
        nc_free(k->out);
    }
    nc_free(c->ring);
}

static nc_status check_params(const nc_llm_preprocess_params *p, int32_t *eod) {
    if (!p->tokenizer) return nc_error(NC_ERR_INVALID_ARG, "preprocess: no tokenizer");
    if (p->n_inputs < 1 || !p->inputs) return nc_error(NC_ERR_INVALID_ARG, "--input: no input files");
    if (!p->output_prefix || !*p->output_prefix) return nc_error(NC_ERR_INVALID_ARG, "--output-prefix is required");
    if (p->workers < 1 || p->workers > 1024)
        return nc_error(NC_ERR_INVALID_ARG, "--workers %d: must be in [1, 1024]", p->workers);
    for (int i = 0; i < p->n_keys; i++)
        if (!p->json_keys[i] || !*p->json_keys[i] || strchr(p->json_keys[i], '/'))
            return nc_error(NC_ERR_INVALID_ARG, "--json-keys: '%s' cannot be part of a file name",
                            p->json_keys[i] ? p->json_keys[i] : "");
    *eod = nc_tokenizer_special_ids(p->tokenizer).eos_id;
    if (p->append_eod && *eod < 0)
        return nc_error(NC_ERR_INVALID_ARG,
                        "--append-eod: the tokenizer has no end-of-document (eos) token to append");
    return NC_OK;
}

/* Runs the ring until the inputs end or a chunk fails. */
static nc_status run(pp_ctx *c, nc_indexed_builder **b, nc_llm_preprocess_stats *st) {
    const nc_llm_preprocess_params *p = c->p;
    line_reader r;
    int file = 0;
    nc_status s = reader_open(&r, p->inputs[0]);
    if (s) return s;
    bool open = true;
    int64_t seq = 0;
    while (open && !s) {
        pp_chunk *k = &c->ring[seq % c->n_ring];
        pthread_mutex_lock(&c->mu);
        while (k->state == SLOT_FILLED || k->state == SLOT_WORKING) pthread_cond_wait(&c->cv_done, &c->mu);
        pthread_mutex_unlock(&c->mu);
        if (k->state == SLOT_DONE) s = write_chunk(c, k, b, st);
        if (!s) s = fill(&r, &file, p, k, &open);
        if (s || !k->n_lines) break;
        pthread_mutex_lock(&c->mu);
        k->seq = seq++;
        k->state = SLOT_FILLED;
        pthread_cond_broadcast(&c->cv_work);
        pthread_mutex_unlock(&c->mu);
    }
    if (open) reader_close(&r);
    pthread_mutex_lock(&c->mu);
    c->finished = true;
    pthread_cond_broadcast(&c->cv_work);
    pthread_mutex_unlock(&c->mu);
    /* The chunks still out, oldest first. */
    for (int64_t q = seq - c->n_ring < 0 ? 0 : seq - c->n_ring; q < seq && !s; q++) {
        pp_chunk *k = &c->ring[q % c->n_ring];
        pthread_mutex_lock(&c->mu);
        while (k->state == SLOT_FILLED || k->state == SLOT_WORKING) pthread_cond_wait(&c->cv_done, &c->mu);
        pthread_mutex_unlock(&c->mu);
        if (k->state == SLOT_DONE) s = write_chunk(c, k, b, st);
    }
    return s;
}

nc_status nc_llm_preprocess(const nc_llm_preprocess_params *p, nc_llm_preprocess_stats *stats) {
    nc_llm_preprocess_stats st = {0};
    static const char *const default_keys[] = {"text"};
    pp_ctx c = {.p = p, .keys = p->n_keys ? p->json_keys : default_keys, .n_keys = p->n_keys ? p->n_keys : 1};
    nc_status s = check_params(p, &c.eod);
    if (s) return s;
    st.seconds = nc_now_s(); /* the start, until the end */
    c.n_ring = 2 * p->workers + 1;
    c.ring = nc_calloc((size_t)c.n_ring, sizeof *c.ring);
    nc_indexed_builder **b = nc_calloc((size_t)c.n_keys, sizeof *b);
    pthread_t *th = nc_calloc((size_t)p->workers, sizeof *th);
    if (!c.ring || !b || !th) s = nc_error(NC_ERR_OOM, "preprocess: buffers");
    for (int r = 0; !s && r < c.n_ring; r++) {
        c.ring[r].out = nc_calloc((size_t)c.n_keys, sizeof *c.ring[r].out);
        if (!c.ring[r].out) s = nc_error(NC_ERR_OOM, "preprocess: buffers");
        if (!s) s = nc_vec_reserve(&c.ring[r].start, &c.ring[r].cap_lines, 2, sizeof *c.ring[r].start);
    }
    /* <output-prefix>_<key>_document.bin, in the dtype __best_fitting_dtype picks. */
    nc_idx_dtype dtype = nc_idx_best_dtype(nc_tokenizer_vocab_size(p->tokenizer));
    for (int i = 0; !s && i < c.n_keys; i++) {
        char *path = nc_malloc(strlen(p->output_prefix) + strlen(c.keys[i]) + 32);
        if (!path) {
            s = nc_error(NC_ERR_OOM, "preprocess: paths");
            break;
        }
        sprintf(path, "%s_%s_document.bin", p->output_prefix, c.keys[i]);
        s = nc_indexed_builder_new(path, dtype, &b[i]);
        nc_free(path);
    }
    int started = 0;
    if (!s) {
        pthread_mutex_init(&c.mu, NULL);
        pthread_cond_init(&c.cv_work, NULL);
        pthread_cond_init(&c.cv_done, NULL);
        for (; started < p->workers; started++)
            if (pthread_create(&th[started], NULL, worker_main, &c)) {
                s = nc_error(NC_ERR_INTERNAL, "preprocess: cannot start worker thread %d", started);
                break;
            }
        if (!s) s = run(&c, b, &st);
        pthread_mutex_lock(&c.mu);
        c.aborted = s != NC_OK;
        c.finished = true;
        pthread_cond_broadcast(&c.cv_work);
        pthread_mutex_unlock(&c.mu);
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
        pthread_cond_destroy(&c.cv_work);
        pthread_cond_destroy(&c.cv_done);
        pthread_mutex_destroy(&c.mu);
    }
    for (int i = 0; b && i < c.n_keys; i++) {
        if (!b[i]) continue;
        if (s) {
            nc_indexed_builder_abort(b[i]);
            continue;
        }
        char *path = nc_malloc(strlen(p->output_prefix) + strlen(c.keys[i]) + 32);
        if (!path) {
            s = nc_error(NC_ERR_OOM, "preprocess: paths");
            nc_indexed_builder_abort(b[i]);
            continue;
        }
        sprintf(path, "%s_%s_document.idx", p->output_prefix, c.keys[i]);
        s = nc_indexed_builder_finalize(b[i], path);
        nc_free(path);
    }
    free_ring(&c);
    nc_free(b);
    nc_free(th);
    st.seconds = nc_now_s() - st.seconds;
    if (stats) *stats = st;
    return s;
}
