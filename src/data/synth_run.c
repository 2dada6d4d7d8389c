/* Rendering a whole plan in parallel and writing its NeMo manifests. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/synth.h"

static nc_status make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return NC_OK;
        return nc_error(NC_ERR_IO, "'%s' exists and is not a folder", path);
    }
    return nc_error(NC_ERR_IO, "cannot create folder '%s': %s", path, strerror(errno));
}

/* mkdir -p for out_dir (relative or absolute). */
static nc_status make_dirs(const char *path) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof buf) return nc_error(NC_ERR_INVALID_ARG, "folder path too long: '%s'", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        nc_status st = make_dir(buf);
        *p = '/';
        if (st) return st;
    }
    return make_dir(buf);
}

/* A growing text buffer for the manifests. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) cap *= 2;
        char *np = nc_malloc(cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        if (b->len) memcpy(np, b->p, b->len);
        nc_free(b->p);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string, quoted, with json.dumps' escapes for quote, backslash and
 * control characters. */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* Exact for n/16000 (at most 7 decimals), trailing zeros dropped: "1.2345". */
static void sb_duration(sbuf *b, double d) {
    char num[64];
    snprintf(num, sizeof num, "%.7f", d);
    size_t n = strlen(num);
    while (n > 2 && num[n - 1] == '0' && num[n - 2] != '.') n--;
    sb_put(b, num, n);
}

/* One line per utterance in the style of NeMo's scripts (json.dumps):
 * {"audio_filepath": "audio/train/000000.wav", "duration": 1.2, "text": "...", "speaker": "flite:slt"} */
static nc_status write_manifests(const nc_synth_plan *plan, const char *out_dir, const double *durations) {
    for (int s = 0; s < NC_SPLIT_N; s++) {
        sbuf b = {.p = NULL};
        sb_str(&b, ""); /* an empty split still gets an (empty) file */
        for (int64_t i = 0; i < plan->n_utts; i++) {
            const nc_synth_utt *u = &plan->utts[i];
            if (u->split != (nc_synth_split)s) continue;
            sb_str(&b, "{\"audio_filepath\": ");
            sb_json(&b, u->audio_filepath);
            sb_str(&b, ", \"duration\": ");
            sb_duration(&b, durations[i]);
            sb_str(&b, ", \"text\": ");
            sb_json(&b, u->text);
            sb_str(&b, ", \"speaker\": ");
            sb_json(&b, plan->voices[u->voice].speaker);
            sb_str(&b, "}\n");
        }
        if (b.oom) {
            nc_free(b.p);
            return nc_error(NC_ERR_OOM, "%s manifest", nc_synth_split_name(s));
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_manifest.json", out_dir, nc_synth_split_name(s));
        nc_status st = nc_write_file_atomic(path, b.p, b.len);
        nc_free(b.p);
        if (st) return st;
    }
    return NC_OK;
}

static nc_status make_tmp_dir(char *buf, size_t cap) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    int n = snprintf(buf, cap, "%s/nemoc-synth-XXXXXX", base);
    if (n <= 0 || (size_t)n >= cap) return nc_error(NC_ERR_INVALID_ARG, "TMPDIR path too long");
    if (!mkdtemp(buf)) return nc_error(NC_ERR_IO, "cannot create a temporary folder '%s': %s", buf, strerror(errno));
    return NC_OK;
}

nc_status nc_synth_run(const nc_synth_plan *plan, const nc_synth_run_params *rp) {
    if (!rp || !rp->out_dir || !*rp->out_dir) return nc_error(NC_ERR_CONFIG, "out_dir is not set");
    const char *out_dir = rp->out_dir;
    nc_status st = make_dirs(out_dir);
    if (st) return nc_error_prefix(st, "out_dir");
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/audio", out_dir);
    if ((st = make_dir(sub))) return st;
    for (int s = 0; s < NC_SPLIT_N; s++) {
        if (!plan->n_split[s]) continue;
        snprintf(sub, sizeof sub, "%s/audio/%s", out_dir, nc_synth_split_name(s));
        if ((st = make_dir(sub))) return st;
    }
    char tmp[4096];
    int own_tmp = !rp->tmp_dir;
    if (own_tmp) {
        if ((st = make_tmp_dir(tmp, sizeof tmp))) return st;
    } else {
        snprintf(tmp, sizeof tmp, "%s", rp->tmp_dir);
        if ((st = make_dirs(tmp))) return st;
    }

    double *durations = nc_calloc((size_t)plan->n_utts, sizeof(double));
    if (!durations) {
        if (own_tmp) rmdir(tmp);
        return nc_error(NC_ERR_OOM, "durations of %lld utterances", (long long)plan->n_utts);
    }
    int workers = rp->num_workers > 0 ? rp->num_workers : omp_get_num_procs();
    if (workers < 1) workers = 1;
    int failed = 0;
    int64_t done = 0, failed_at = -1;
    nc_status first_st = NC_OK;
    char *first_msg = NULL;
    /* Each iteration spends its time waiting on a child process, so one
     * thread per worker with dynamic scheduling keeps `workers` engines busy.
     * Every result is tied to its utterance, not to the order of completion:
     * the output does not depend on the number of workers. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers)
    for (int64_t i = 0; i < plan->n_utts; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        double d = 0;
        nc_status s = nc_synth_render(plan, i, tmp, out_dir, &d);
        durations[i] = d;
        if (s) {
#pragma omp critical(nc_synth_error)
            {
                /* Keep the lowest-numbered failure: stable across runs. */
                if (failed_at < 0 || i < failed_at) {
                    failed_at = i;
                    first_st = s;
                    nc_free(first_msg);
                    first_msg = nc_strdup(nc_last_error());
                }
            }
#pragma omp atomic write
            failed = 1;
            continue;
        }
#pragma omp critical(nc_synth_progress)
        {
            done++;
            if (rp->progress) rp->progress(done, plan->n_utts, rp->user_data);
        }
    }
    if (own_tmp) {
        /* Engine outputs are removed as they are read; a failure can leave some. */
        char f[4200];
        for (int64_t i = 0; failed && i < plan->n_utts; i++) {
            snprintf(f, sizeof f, "%s/%06lld.wav", tmp, (long long)i);
            unlink(f);
        }
        rmdir(tmp);
    }
    if (failed) {
        nc_free(durations);
        st = nc_error(first_st, "%s", first_msg ? first_msg : "synthesis failed");
        nc_free(first_msg);
        return st;
    }
    st = write_manifests(plan, out_dir, durations);
    if (!st && rp->durations) memcpy(rp->durations, durations, (size_t)plan->n_utts * sizeof(double));
    nc_free(durations);
    return st;
}
