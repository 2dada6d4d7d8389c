/* Rendering a whole plan in parallel and writing its NeMo manifests. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/synth.h"
#include "synth/synth_internal.h"

/* Exact for n/16000 (at most 7 decimals), trailing zeros dropped: "1.2345". */
static void sb_duration(nc_strbuf *b, double d) {
    char num[64];
    snprintf(num, sizeof num, "%.7f", d);
    size_t n = strlen(num);
    while (n > 2 && num[n - 1] == '0' && num[n - 2] != '.') n--;
    nc_sb_append(b, num, n);
}

/* One line per utterance in the style of NeMo's scripts (json.dumps):
 * {"audio_filepath": "audio/train/000000.wav", "duration": 1.2, "text": "...", "speaker": "flite:slt",
 *  "synth_rate": 1.1, "synth_pitch": 160.2, "synth_pitch_range": 19.2, "synth_word_gap": 0, "synth_gain_db": -3.5} */
static nc_status write_manifests(const nc_synth_plan *plan, const char *out_dir, const double *durations) {
    for (int s = 0; s < NC_SPLIT_N; s++) {
        nc_strbuf b = {0};
        nc_sb_puts(&b, ""); /* an empty split still gets an (empty) file */
        for (int64_t i = 0; i < plan->n_utts; i++) {
            const nc_synth_utt *u = &plan->utts[i];
            if (u->split != (nc_synth_split)s) continue;
            nc_sb_puts(&b, "{\"audio_filepath\": ");
            nc_sb_put_json_str(&b, u->audio_filepath, strlen(u->audio_filepath));
            nc_sb_puts(&b, ", \"duration\": ");
            sb_duration(&b, durations[i]);
            nc_sb_puts(&b, ", \"text\": ");
            nc_sb_put_json_str(&b, u->text, strlen(u->text));
            nc_sb_puts(&b, ", \"speaker\": ");
            nc_sb_put_json_str(&b, plan->voices[u->voice].speaker, strlen(plan->voices[u->voice].speaker));
            /* The prosody the engine was given (extra keys: NeMo's manifest
             * reader and ours skip them), for slicing results by it. */
            nc_sb_appendf(&b,
                          ", \"synth_rate\": %g, \"synth_pitch\": %g, \"synth_pitch_range\": %g, "
                          "\"synth_word_gap\": %g, \"synth_gain_db\": %g}\n",
                          u->rate, u->pitch, u->pitch_range, u->word_gap, u->gain_db);
        }
        char *path = b.oom ? NULL : nc_strdupf("%s/%s_manifest.json", out_dir, nc_synth_split_name(s));
        if (!path) {
            nc_sb_free(&b);
            return nc_error(NC_ERR_OOM, "%s manifest", nc_synth_split_name(s));
        }
        nc_status st = nc_write_file_atomic(path, b.p, b.n);
        nc_free(path);
        nc_sb_free(&b);
        if (st) return st;
    }
    return NC_OK;
}

/* A fresh private folder (mkdtemp: 0700, a name nobody can predict) for the
 * engines' outputs, under `base` (NULL: $TMPDIR or /tmp): the engines write
 * "<n>.wav" names that must not meet a planted link. *out is nc_malloc'd. */
static nc_status make_tmp_dir(const char *base, char **out) {
    if (!base || !*base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *buf = nc_strdupf("%s/nemoc-synth-XXXXXX", base);
    if (!buf) return nc_error(NC_ERR_OOM, "temporary folder name");
    if (!mkdtemp(buf)) {
        nc_status st = nc_error(NC_ERR_IO, "cannot create a temporary folder '%s': %s", buf, strerror(errno));
        nc_free(buf);
        return st;
    }
    *out = buf;
    return NC_OK;
}

/* out_dir/audio and one folder per split that has utterances. */
static nc_status make_audio_dirs(const nc_synth_plan *plan, const char *out_dir) {
    char *sub = nc_strdupf("%s/audio", out_dir);
    nc_status st = sub ? nc_mkdir(sub) : NC_ERR_OOM;
    nc_free(sub);
    for (int s = 0; !st && s < NC_SPLIT_N; s++) {
        if (!plan->n_split[s]) continue;
        sub = nc_strdupf("%s/audio/%s", out_dir, nc_synth_split_name(s));
        st = sub ? nc_mkdir(sub) : NC_ERR_OOM;
        nc_free(sub);
    }
    return st;
}

/* The work of a run: job j renders order[start[j] .. start[j+1]), either
 * one utterance (batch[j] == 0) or a batch of one festival voice's
 * utterances for one festival process. */
typedef struct jobs {
    int64_t n_jobs;
    int64_t *order; /* (n_utts,) utterance ids */
    int64_t *start; /* (n_jobs + 1,) */
    unsigned char *batch; /* (n_jobs,) */
} jobs;

static void jobs_free(jobs *J) {
    nc_free(J->order);
    nc_free(J->start);
    nc_free(J->batch);
}

/* Festival batches first (the longest jobs, so the dynamic schedule ends
 * with short ones), then one job per other utterance. A voice's utterances
 * are cut into batches of near-equal size, at most `batch` (0: 32) each,
 * and small enough that every worker gets one when there are fewer
 * festival utterances than workers x 32. batch == 1 keeps text2wave, one
 * process per utterance (the path batches are tested against). Batching
 * changes no byte of the output, so the cut may depend on `workers`. */
static nc_status plan_jobs(const nc_synth_plan *plan, int batch, int workers, jobs *J) {
    const int64_t N = plan->n_utts;
    *J = (jobs){0};
    J->order = nc_malloc((size_t)(N > 0 ? N : 1) * sizeof(int64_t));
    J->start = nc_malloc((size_t)(N + 1) * sizeof(int64_t));
    J->batch = nc_calloc((size_t)(N > 0 ? N : 1), 1);
    if (!J->order || !J->start || !J->batch) {
        jobs_free(J);
        return nc_error(NC_ERR_OOM, "job list of %lld utterances", (long long)N);
    }
    int64_t cap = batch > 0 ? batch : 32, n_fest = 0, k = 0;
    for (int64_t i = 0; i < N; i++) n_fest += plan->voices[plan->utts[i].voice].engine == NC_SYNTH_FESTIVAL;
    int64_t fair = (n_fest + workers - 1) / workers;
    if (fair < cap) cap = fair > 1 ? fair : 1;
    const int batches = batch != 1;
    for (int64_t v = 0; batches && v < plan->n_voices; v++) {
        const nc_synth_voice *vo = &plan->voices[v];
        if (vo->engine != NC_SYNTH_FESTIVAL || vo->n_utts == 0) continue;
        int64_t first = k;
        for (int64_t i = 0; i < N; i++)
            if (plan->utts[i].voice == v) J->order[k++] = i;
        int64_t m = k - first, nb = (m + cap - 1) / cap;
        for (int64_t b = 0; b < nb; b++) {
            J->start[J->n_jobs] = first + m * b / nb;
            J->batch[J->n_jobs++] = 1;
        }
    }
    for (int64_t i = 0; i < N; i++) {
        if (batches && plan->voices[plan->utts[i].voice].engine == NC_SYNTH_FESTIVAL) continue;
        J->start[J->n_jobs++] = k;
        J->order[k++] = i;
    }
    J->start[J->n_jobs] = k;
    return NC_OK;
}

nc_status nc_synth_run(const nc_synth_plan *plan, const nc_synth_run_params *rp) {
    if (!rp || !rp->out_dir || !*rp->out_dir) return nc_error(NC_ERR_CONFIG, "out_dir is not set");
    const char *out_dir = rp->out_dir;
    nc_status st = nc_mkdir_p(out_dir);
    if (st) return nc_error_prefix(st, "out_dir");
    if ((st = make_audio_dirs(plan, out_dir))) return st;
    char *tmp = NULL;
    if (rp->tmp_dir && (st = nc_mkdir_p(rp->tmp_dir))) return st;
    /* Always a private folder, inside tmp_dir when one is given. */
    if ((st = make_tmp_dir(rp->tmp_dir, &tmp))) return st;

    double *durations = nc_calloc((size_t)plan->n_utts, sizeof(double));
    if (!durations) {
        rmdir(tmp);
        nc_free(tmp);
        return nc_error(NC_ERR_OOM, "durations of %lld utterances", (long long)plan->n_utts);
    }
    int workers = rp->num_workers > 0 ? rp->num_workers : omp_get_num_procs();
    if (workers < 1) workers = 1;
    jobs J;
    if ((st = plan_jobs(plan, rp->festival_batch, workers, &J))) {
        nc_free(durations);
        rmdir(tmp);
        nc_free(tmp);
        return st;
    }
    int failed = 0;
    int64_t done = 0, failed_at = -1;
    nc_status first_st = NC_OK;
    char *first_msg = NULL;
    /* Each job spends its time waiting on a child process, so one thread
     * per worker with dynamic scheduling keeps `workers` engines busy.
     * Every result is tied to its utterance, not to the order of completion:
     * the output does not depend on the number of workers. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers)
    for (int64_t j = 0; j < J.n_jobs; j++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        const int64_t *idx = J.order + J.start[j];
        int64_t n = J.start[j + 1] - J.start[j], bad = -1;
        nc_status s;
        if (J.batch[j]) {
            s = nc_synth_render_festival_batch(plan, idx, n, tmp, out_dir, durations, &bad);
        } else {
            double d = 0;
            s = nc_synth_render(plan, idx[0], tmp, out_dir, &d);
            durations[idx[0]] = d;
            bad = idx[0];
        }
        if (s) {
#pragma omp critical(nc_synth_error)
            {
                /* Keep the lowest-numbered failure: stable across runs. */
                if (failed_at < 0 || bad < failed_at) {
                    failed_at = bad;
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
            for (int64_t k = 0; k < n; k++) {
                done++;
                if (rp->progress) rp->progress(done, plan->n_utts, rp->user_data);
            }
        }
    }
    jobs_free(&J);
    /* Engine outputs are removed as they are read; a failure can leave some. */
    for (int64_t i = 0; failed && i < plan->n_utts; i++) {
        char *f = nc_strdupf("%s/%06lld.wav", tmp, (long long)i);
        char *t = f ? nc_strdupf("%s.txt", f) : NULL; /* festival's text file */
        char *b = nc_strdupf("%s/batch-%06lld.scm", tmp, (long long)i); /* a festival batch's script */
        if (f) unlink(f);
        if (t) unlink(t);
        if (b) unlink(b);
        nc_free(f);
        nc_free(t);
        nc_free(b);
    }
    rmdir(tmp);
    nc_free(tmp);
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
