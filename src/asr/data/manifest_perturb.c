/* A perturbed copy of a manifest: every utterance passed through a NeMo
 * `augmentor` pipeline and written as a new WAV next to a new manifest.
 *
 * What it is for: evaluation sets that are honest about the channel (a
 * telephone band, a codec round trip, noise at a fixed SNR, a reverberant
 * room) are the test set run through exactly the augmentations the loader
 * applies in training, with prob 1 and fixed ranges. Writing them out (rather
 * than perturbing on the fly in `asr eval`) makes them listenable, reusable by
 * other tools, and identical between models that are compared on them.
 *
 * Determinism: utterance i draws from its own generator, seeded from (seed,
 * i) the way the loader seeds an utterance, so the output depends on the seed
 * and the manifest, never on the thread count. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "asr_loader_internal.h"
#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/audio.h"

/* One manifest line for utterance i: the original line's keys, in their order,
 * with audio_filepath pointing at the new file and duration set to its length;
 * offset (the new file holds just the segment) and audio_filename (the alias)
 * are dropped. */
static char *perturbed_line(const nc_manifest_entry *e, const char *rel_path, double duration) {
    cJSON *o = e->extra_json ? cJSON_Parse(e->extra_json) : NULL;
    if (!o) o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "offset");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "audio_filename");
    cJSON *path = cJSON_CreateString(rel_path);
    cJSON *dur = cJSON_CreateNumber(round(duration * 1e7) / 1e7);
    int ok = path && dur;
    if (ok && cJSON_GetObjectItemCaseSensitive(o, "audio_filepath"))
        ok = cJSON_ReplaceItemInObjectCaseSensitive(o, "audio_filepath", path);
    else if (ok)
        ok = cJSON_AddItemToObject(o, "audio_filepath", path);
    else
        cJSON_Delete(path);
    if (ok && cJSON_GetObjectItemCaseSensitive(o, "duration"))
        ok = cJSON_ReplaceItemInObjectCaseSensitive(o, "duration", dur);
    else if (ok)
        ok = cJSON_AddItemToObject(o, "duration", dur);
    else
        cJSON_Delete(dur);
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* Reads, perturbs and writes utterance i; *line gets its manifest line and
 * *seconds the length written. */
static nc_status perturb_one(const nc_manifest_perturb_params *p, const nc_asr_loader_params *lp,
                             const nc_manifest_entry *e, int64_t i, char **line, double *seconds) {
    nc_audio_read_params rp = nc_audio_read_default_params();
    rp.target_sr = (int)lp->sample_rate;
    rp.offset = e->offset;
    rp.duration = e->duration;
    nc_audio a = {0};
    nc_status s = nc_audio_read(e->audio_filepath, &rp, &a);
    if (s) return nc_error_prefix(s, "%s", e->source);
    nc_rng rng;
    nc_rng_seed(&rng, asr_seed_hash(p->seed, ASR_STREAM_UTT, 0, (uint64_t)i));
    s = nc_audio_augment(lp->perturb, lp->n_perturb, &a, &rng);
    for (int64_t k = 0; !s && k < a.n_samples; k++)
        if (!isfinite(a.samples[k]))
            s = nc_error(NC_ERR_NUMERIC, "augmentation gave a non-finite sample %lld", (long long)k);
    if (s) {
        nc_audio_free(&a);
        return nc_error_prefix(s, "%s", e->source);
    }
    char rel[64];
    snprintf(rel, sizeof rel, "audio/%06lld.wav", (long long)i);
    char *path = nc_strdupf("%s/%s", p->out_dir, rel);
    s = path ? nc_audio_write_wav(path, a.samples, a.n_samples, 1, a.sample_rate, NC_WAV_PCM16)
             : nc_error(NC_ERR_OOM, "output path");
    double dur = a.sample_rate > 0 ? (double)a.n_samples / a.sample_rate : 0;
    nc_free(path);
    nc_audio_free(&a);
    if (s) return s;
    *seconds = dur;
    *line = perturbed_line(e, rel, dur);
    return *line ? NC_OK : nc_error(NC_ERR_OOM, "%s: manifest line", e->source);
}

nc_status nc_manifest_perturb(const nc_manifest_perturb_params *p, nc_manifest_perturb_stats *stats) {
    if (!p || !p->in_manifest || !p->out_dir || !p->dataset)
        return nc_error(NC_ERR_INVALID_ARG, "manifest perturb: input manifest, output folder and dataset config");
    if (stats) memset(stats, 0, sizeof *stats);
    nc_asr_loader_params lp = nc_asr_loader_default_params();
    nc_status s = nc_asr_loader_params_from_cfg(p->dataset, &lp);
    if (s) return s;
    if (lp.n_perturb == 0) {
        nc_asr_loader_params_clear(&lp);
        return nc_error(NC_ERR_CONFIG, "augmentor: no perturbation given (e.g. augmentor.noise.prob=1.0)");
    }
    nc_manifest m = {0};
    if ((s = nc_manifest_read(p->in_manifest, NULL, false, &m))) {
        nc_asr_loader_params_clear(&lp);
        return s;
    }
    char *audio_dir = nc_strdupf("%s/audio", p->out_dir);
    char **lines = nc_calloc((size_t)(m.n ? m.n : 1), sizeof *lines);
    double *secs = nc_calloc((size_t)(m.n ? m.n : 1), sizeof *secs); /* summed in order: any thread count */
    if (!audio_dir || !lines || !secs) s = nc_error(NC_ERR_OOM, "manifest perturb");
    if (!s) s = nc_mkdir_p(audio_dir);
    int64_t done = 0;
    int failed = s != NC_OK;
    nc_status first = s;
    char why[512] = "";
    /* Utterances are independent; the shared pieces (noise and RIR sets) are
     * read-only and thread-safe. The first error wins and stops the rest. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < m.n; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        nc_status si = perturb_one(p, &lp, &m.entries[i], i, &lines[i], &secs[i]);
#pragma omp critical(nc_manifest_perturb)
        {
            if (si && !failed) { /* the message is thread-local: carry it to this thread */
                failed = 1, first = si;
                snprintf(why, sizeof why, "%s", nc_last_error());
            }
            done++;
            if (!si && p->progress) p->progress(done, m.n, p->user_data);
        }
    }
    s = first;
    if (s && why[0]) s = nc_error(s, "%s", why);
    if (!s) {
        nc_strbuf b = {0};
        double total = 0;
        for (int64_t i = 0; i < m.n; i++) {
            nc_sb_puts(&b, lines[i]);
            nc_sb_putc(&b, '\n');
            total += secs[i];
        }
        char *out = nc_strdupf("%s/manifest.json", p->out_dir);
        s = b.oom || !out ? nc_error(NC_ERR_OOM, "manifest perturb: output manifest")
                          : nc_write_file_atomic(out, b.p, b.n);
        nc_free(out);
        nc_sb_free(&b);
        if (!s && stats) stats->n_utts = m.n, stats->seconds = total;
    }
    for (int64_t i = 0; lines && i < m.n; i++) cJSON_free(lines[i]);
    nc_free(lines);
    nc_free(secs);
    nc_free(audio_dir);
    nc_manifest_free(&m);
    nc_asr_loader_params_clear(&lp);
    return s;
}
