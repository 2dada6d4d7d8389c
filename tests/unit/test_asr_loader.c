/* The ASR loader on a small generated dataset (WAVs at 16 and 8 kHz, a
 * segment read with an offset, plus a missing, a corrupt, a shorter than
 * declared and a zero-length file):
 *  - padded batches equal to decoding and featurising the same utterances
 *    directly (audio, features, lengths, tokens, texts);
 *  - every utterance exactly once per epoch, bad audio skipped, warned
 *    about (manifest file:line) and counted, or an error when not skipping;
 *  - the sampler: torch DistributedSampler's permutation and sharding,
 *    equal counts on every rank, epochs differ, a seed repeats;
 *  - identical batches with 0, 1 and 3 workers in training mode (dither,
 *    SpecAugment, speed and gain perturbation on);
 *  - resuming mid-epoch with skip, duration bucketing, bos/eos tokens and
 *    the refusals at creation. The dataset config keys: test_asr_loader_cfg.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/audio.h"
#include "nemoc/config.h"
#include "nemoc/log.h"
#include "nemoc/rng.h"

enum { GOOD = 0, MISSING, CORRUPT, SHORT, EMPTY };

typedef struct spec {
    int kind;
    double dur;    /* manifest duration */
    int sr;
    double offset; /* manifest offset; the file is offset + dur (+ 0.3 s) long */
    const char *text;
} spec;

/* Manifest order; lines 7, 8 (indices 6, 7) are bad audio next to each other. */
static const spec SPECS[] = {
    {GOOD, 0.30, 16000, 0, "hello world"},
    {GOOD, 0.95, 8000, 0, "the quick brown fox"},
    {GOOD, 0.50, 16000, 0, "jumps over"},
    {GOOD, 1.10, 16000, 0.30, "the lazy dog"},
    {GOOD, 0.70, 16000, 0, "a b c"},
    {GOOD, 1.60, 8000, 0, "speech recognition in c"},
    {MISSING, 0.80, 16000, 0, "missing file"},
    {CORRUPT, 0.60, 16000, 0, "corrupt file"},
    {GOOD, 0.40, 16000, 0, "don't panic"},
    {GOOD, 1.30, 16000, 0, "forty two"},
    {SHORT, 0.90, 16000, 0, "shorter than declared"},
    {GOOD, 0.80, 16000, 0, "it's fine"},
    {GOOD, 0.60, 8000, 0, "numbers are words"},
    {EMPTY, 0.50, 16000, 0, "zero length"},
    {GOOD, 1.00, 16000, 0, "last but one"},
    {GOOD, 1.45, 16000, 0, "the end"},
};
#define N_SPECS ((int)(sizeof SPECS / sizeof SPECS[0]))
#define N_GOOD 12

static char g_dir[2048];
static char g_all[2200], g_good[2200], g_good13[2200];
static nc_tokenizer *g_char;
static nc_feature_config g_feat;

static int n_warnings;
static char last_warning[4096];
static void on_log(nc_log_level level, const char *msg, void *ud) {
    (void)ud;
    if (level != NC_LOG_WARN || !strstr(msg, "skipping an utterance")) return;
    n_warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
}

static void write_wav(const char *path, double seconds, int sr, int i) {
    const int64_t n = (int64_t)llround(seconds * sr);
    float *x = nc_malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    nc_rng rng;
    nc_rng_seed(&rng, 100 + (uint64_t)i);
    nc_rng_normal(&rng, x, n, 0.0f, 0.01f);
    const double f0 = 150.0 + 40.0 * i;
    for (int64_t t = 0; t < n; t++) x[t] += (float)(0.3 * sin(2 * M_PI * f0 * (double)t / sr) * (1 + 0.5 * sin(3.0 * t / sr)));
    CHECK_OK(nc_audio_write_wav(path, x, n, 1, sr, NC_WAV_PCM16));
    nc_free(x);
}

static void make_dataset(void) {
    snprintf(g_dir, sizeof g_dir, "%s", nc_test_tmpdir("asr_loader"));
    snprintf(g_all, sizeof g_all, "%s/all.json", g_dir);
    snprintf(g_good, sizeof g_good, "%s/good.json", g_dir);
    snprintf(g_good13, sizeof g_good13, "%s/good13.json", g_dir);
    FILE *all = fopen(g_all, "w"), *good = fopen(g_good, "w");
    CHECK(all && good);
    if (!all || !good) exit(1);
    for (int i = 0; i < N_SPECS; i++) {
        const spec *s = &SPECS[i];
        char name[64], path[4400];
        snprintf(name, sizeof name, "u%02d.wav", i);
        snprintf(path, sizeof path, "%s/%s", g_dir, name);
        if (s->kind == GOOD) write_wav(path, s->offset + s->dur + (s->offset > 0 ? 0.3 : 0), s->sr, i);
        if (s->kind == SHORT) write_wav(path, s->dur - 0.5, s->sr, i);
        if (s->kind == EMPTY) write_wav(path, 0, s->sr, i);
        if (s->kind == CORRUPT) {
            FILE *f = fopen(path, "wb");
            fputs("RIFF\x10\x00\x00\x00WAVEfmt garbage, not audio at all", f);
            fclose(f);
        }
        char line[512];
        /* Relative paths: resolved against the manifest's folder. */
        snprintf(line, sizeof line, "{\"audio_filepath\": \"%s\", \"duration\": %.2f, \"offset\": %.2f, \"text\": \"%s\"}\n",
                 name, s->dur, s->offset, s->text);
        fputs(line, all);
        if (s->kind == GOOD) fputs(line, good);
    }
    fclose(all);
    fclose(good);
    /* 13 lines (the 12 good utterances and the first once more): an odd count, for
     * DistributedSampler's padding. */
    FILE *g13 = fopen(g_good13, "w");
    int k = 0;
    for (int i = 0; i < N_SPECS && k < 13; i++) {
        if (SPECS[i].kind != GOOD) continue;
        fprintf(g13, "{\"audio_filepath\": \"u%02d.wav\", \"duration\": %.2f, \"offset\": %.2f, \"text\": \"%s\"}\n", i,
                SPECS[i].dur, SPECS[i].offset, SPECS[i].text);
        k++;
    }
    fprintf(g13, "{\"audio_filepath\": \"u00.wav\", \"duration\": 0.30, \"text\": \"hello world\"}\n");
    fclose(g13);
}

static nc_asr_loader_params base_params(const char *manifest) {
    nc_asr_loader_params p = nc_asr_loader_default_params();
    p.manifest_filepath = manifest;
    p.sample_rate = 16000;
    p.batch_size = 4;
    p.shuffle = false;
    p.num_workers = 2;
    p.features = &g_feat;
    p.tokenizer = g_char;
    p.seed = 1234;
    return p;
}

/* ---- eval mode: batches against a direct computation ---- */

static void check_batch_direct(const nc_asr_loader *l, const nc_asr_batch *b) {
    const nc_manifest *m = nc_asr_loader_manifest(l);
    const nc_featurizer *fz = nc_asr_loader_featurizer(l);
    const int64_t B = b->batch_size;
    nc_audio *au = nc_calloc((size_t)B, sizeof *au);
    int64_t *lens = nc_malloc((size_t)B * sizeof(int64_t)), T = 0;
    for (int64_t i = 0; i < B; i++) {
        const nc_manifest_entry *e = &m->entries[b->sample_index[i]];
        nc_audio_read_params rp = nc_audio_read_default_params();
        rp.target_sr = 16000;
        rp.offset = e->offset;
        rp.duration = e->duration;
        CHECK_OK(nc_audio_read(e->audio_filepath, &rp, &au[i]));
        lens[i] = au[i].n_samples;
        if (lens[i] > T) T = lens[i];
        CHECK(b->audio_len[i] == lens[i]);
        CHECK(b->texts[i] == e->text);
    }
    CHECK(b->max_samples == T);
    float *x = nc_calloc((size_t)(B * T), sizeof(float));
    for (int64_t i = 0; i < B; i++) memcpy(x + i * T, au[i].samples, (size_t)lens[i] * sizeof(float));
    CHECK(b->audio != NULL);
    if (b->audio) CHECK(nc_test_allclose("audio", b->audio, x, B * T, 0, 0));
    const int64_t F = nc_featurizer_n_features(fz), Tf = nc_featurizer_out_frames(fz, T);
    CHECK(b->n_feats == F && b->max_frames == Tf);
    CHECK(Tf % 16 == 0); /* pad_to 16 */
    float *want = nc_malloc((size_t)(B * F * Tf) * sizeof(float));
    int64_t *wl = nc_malloc((size_t)B * sizeof(int64_t));
    CHECK_OK(nc_featurizer_compute(fz, x, lens, B, T, false, NULL, want, wl));
    for (int64_t i = 0; i < B; i++) CHECK(b->feat_len[i] == wl[i]);
    CHECK(nc_test_allclose("features", b->feats, want, B * F * Tf, 1e-5, 1e-5));
    /* Tokens: the char tokenizer's ids, no bos/eos (none in a char vocabulary), padded with 0. */
    nc_token_ids ids = {0};
    for (int64_t i = 0; i < B; i++) {
        CHECK_OK(nc_tokenizer_encode(g_char, b->texts[i], -1, &ids));
        CHECK(b->token_len[i] == ids.n && ids.n > 0);
        for (int64_t t = 0; t < b->max_tokens; t++)
            CHECK(b->tokens[i * b->max_tokens + t] == (t < ids.n ? ids.ids[t] : 0));
    }
    nc_token_ids_free(&ids);
    for (int64_t i = 0; i < B; i++) nc_audio_free(&au[i]);
    nc_free(au);
    nc_free(lens);
    nc_free(x);
    nc_free(want);
    nc_free(wl);
}

static void test_eval(void) {
    nc_asr_loader_params p = base_params(g_all);
    p.keep_audio = true;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) return;
    CHECK(nc_asr_loader_manifest(l)->n == N_SPECS);
    CHECK(nc_asr_loader_num_batches(l) == 4);
    n_warnings = 0;
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    int seen[N_SPECS] = {0};
    const nc_asr_batch *b;
    int64_t nb = 0;
    double seconds = 0;
    for (;;) {
        CHECK_OK(nc_asr_loader_next(l, &b));
        if (!b) break;
        CHECK(b->batch_index == nb && b->epoch == 0);
        nb++;
        for (int64_t i = 0; i < b->batch_size; i++) seen[b->sample_index[i]]++;
        seconds += b->audio_seconds;
        check_batch_direct(l, b);
    }
    CHECK(nb == 4);
    double want_s = 0;
    for (int i = 0; i < N_SPECS; i++) {
        CHECK(seen[i] == (SPECS[i].kind == GOOD ? 1 : 0));
        if (SPECS[i].kind == GOOD) want_s += SPECS[i].dur;
    }
    CHECK_NEAR(seconds, want_s, 1e-3);
    nc_asr_loader_stats st = nc_asr_loader_get_stats(l);
    CHECK(st.n_skipped_audio == 4 && st.n_utterances == N_GOOD && st.n_batches == 4);
    CHECK(st.n_skipped_batches == 0);
    CHECK_NEAR(st.audio_seconds, want_s, 1e-3);
    CHECK(n_warnings == 4);
    char want[4800];
    snprintf(want, sizeof want, "%s:14: audio '%s/u13.wav'", g_all, g_dir); /* the zero-length one, last */
    CHECK(strstr(last_warning, want) != NULL);
    CHECK_OK(nc_asr_loader_next(l, &b)); /* stays at the end */
    CHECK(b == NULL);
    nc_asr_loader_free(l);

    /* Without features: the padded audio only. With batch_size 2 the planned batch of lines 7
     * and 8 is all bad audio and is passed over. */
    p.features = NULL;
    p.batch_size = 2;
    p.num_workers = 0;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) return;
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    int64_t last_index = -1, n_utts = 0;
    bool jumped = false;
    for (;;) {
        CHECK_OK(nc_asr_loader_next(l, &b));
        if (!b) break;
        CHECK(b->feats == NULL && b->audio != NULL && b->n_feats == 0);
        if (b->batch_index != last_index + 1) jumped = b->batch_index == 4 && last_index == 2;
        last_index = b->batch_index;
        n_utts += b->batch_size;
    }
    CHECK(jumped && n_utts == N_GOOD);
    st = nc_asr_loader_get_stats(l);
    CHECK(st.n_skipped_batches == 1 && st.n_skipped_audio == 4 && st.n_batches == 7);
    CHECK(st.seconds_waiting == 0); /* no workers: nothing to wait for */
    nc_asr_loader_free(l);
}

static void test_bad_audio_error(void) {
    nc_asr_loader_params p = base_params(g_all);
    p.skip_bad_audio = false;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) return;
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    const nc_asr_batch *b;
    CHECK_OK(nc_asr_loader_next(l, &b)); /* lines 1-4 are fine */
    char want[4800];
    snprintf(want, sizeof want, "%s:7: audio '%s/u06.wav'", g_all, g_dir);
    CHECK_ERR(nc_asr_loader_next(l, &b), NC_ERR_NOT_FOUND, want);
    CHECK(b == NULL);
    nc_asr_loader_free(l);
}

/* ---- sampler ---- */

static void collect(nc_asr_loader *l, int64_t epoch, int64_t *idx, int64_t *n) {
    *n = 0;
    CHECK_OK(nc_asr_loader_begin_epoch(l, epoch, 0));
    const nc_asr_batch *b;
    for (;;) {
        CHECK_OK(nc_asr_loader_next(l, &b));
        if (!b) break;
        for (int64_t i = 0; i < b->batch_size; i++) idx[(*n)++] = b->sample_index[i];
    }
}

static void test_sharding(void) {
    /* torch: g.manual_seed(3 + 1); torch.randperm(13, generator=g) */
    static const int64_t perm_e1[13] = {6, 7, 10, 0, 1, 5, 8, 11, 2, 3, 4, 9, 12};
    nc_asr_loader_params p = base_params(g_good13);
    p.shuffle = true;
    p.seed = 3;
    p.features = NULL;
    p.tokenizer = NULL;
    p.batch_size = 3;
    p.world_size = 2;
    int64_t got[2][32], n[2];
    for (int r = 0; r < 2; r++) {
        p.rank = r;
        nc_asr_loader *l = NULL;
        CHECK_OK(nc_asr_loader_create(&p, &l));
        if (!l) return;
        CHECK(nc_asr_loader_manifest(l)->n == 13);
        CHECK(nc_asr_loader_num_batches(l) == 3); /* ceil(7 / 3) */
        collect(l, 1, got[r], &n[r]);
        nc_asr_loader_free(l);
    }
    CHECK(n[0] == 7 && n[1] == 7);
    /* DistributedSampler: the permutation padded by wrapping, rank r takes r, r+2, ... */
    for (int64_t k = 0; k < 7; k++) {
        CHECK(got[0][k] == perm_e1[(2 * k) % 13]);
        CHECK(got[1][k] == perm_e1[(2 * k + 1) % 13]);
    }
    int cover[13] = {0};
    for (int r = 0; r < 2; r++)
        for (int64_t k = 0; k < n[r]; k++) cover[got[r][k]]++;
    int dups = 0;
    for (int i = 0; i < 13; i++) {
        CHECK(cover[i] >= 1);
        dups += cover[i] - 1;
    }
    CHECK(dups == 1);

    /* One rank: every utterance exactly once, same seed same order, epochs differ. */
    p.world_size = 1;
    p.rank = 0;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) return;
    int64_t a[32], na, c[32], nc_, d[32], nd;
    collect(l, 1, a, &na);
    collect(l, 2, c, &nc_);
    collect(l, 1, d, &nd);
    CHECK(na == 13 && nc_ == 13 && nd == 13);
    for (int i = 0; i < 13; i++) CHECK(a[i] == perm_e1[i] && d[i] == a[i]);
    int once[13] = {0};
    for (int i = 0; i < 13; i++) once[c[i]]++;
    for (int i = 0; i < 13; i++) CHECK(once[i] == 1);
    CHECK(memcmp(a, c, 13 * sizeof(int64_t)) != 0);
    nc_asr_loader_free(l);
}

/* ---- determinism across worker counts, and resuming ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static uint64_t batch_hash(const nc_asr_batch *b) {
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, &b->batch_size, sizeof b->batch_size);
    h = fnv(h, b->sample_index, (size_t)b->batch_size * sizeof(int64_t));
    h = fnv(h, b->feat_len, (size_t)b->batch_size * sizeof(int64_t));
    h = fnv(h, b->audio_len, (size_t)b->batch_size * sizeof(int64_t));
    h = fnv(h, b->feats, (size_t)(b->batch_size * b->n_feats * b->max_frames) * sizeof(float));
    h = fnv(h, b->tokens, (size_t)(b->batch_size * b->max_tokens) * sizeof(int64_t));
    return h;
}

#define MAX_B 16

/* Hashes of every batch of `epoch` from batch `skip` on; returns the count. */
static int run_hashes(const nc_asr_loader_params *p, int64_t epoch, int64_t skip, uint64_t *h, int64_t *first_index) {
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(p, &l));
    if (!l) return 0;
    CHECK_OK(nc_asr_loader_begin_epoch(l, epoch, skip));
    int n = 0;
    const nc_asr_batch *b;
    for (;;) {
        CHECK_OK(nc_asr_loader_next(l, &b));
        if (!b || n >= MAX_B) break;
        if (n == 0 && first_index) *first_index = b->batch_index;
        h[n++] = batch_hash(b);
    }
    nc_asr_loader_free(l);
    return n;
}

static void test_determinism(void) {
    nc_spec_augment_config sa = nc_spec_augment_default_config();
    CHECK_OK(nc_spec_augment_config_set(&sa, "freq_masks", "2"));
    CHECK_OK(nc_spec_augment_config_set(&sa, "time_masks", "2"));
    CHECK_OK(nc_spec_augment_config_set(&sa, "time_width", "0.05"));
    nc_perturb_step steps[2] = {
        {.prob = 0.5, .kind = NC_PERTURB_SPEED, .u.speed = {.min_speed_rate = 0.9, .max_speed_rate = 1.1, .num_rates = 3}},
        {.prob = 0.5, .kind = NC_PERTURB_GAIN, .u.gain = {.min_gain_dbfs = -6, .max_gain_dbfs = 6}},
    };
    nc_asr_loader_params p = base_params(g_all);
    p.shuffle = true;
    p.training = true;
    p.spec_augment = &sa;
    p.perturb = steps;
    p.n_perturb = 2;
    p.batch_size = 3;
    uint64_t ref[MAX_B], h[MAX_B], e1[MAX_B];
    p.num_workers = 1;
    const int n = run_hashes(&p, 5, 0, ref, NULL);
    CHECK(n >= 5);
    const int workers[] = {0, 3, 1};
    for (int w = 0; w < 3; w++) {
        p.num_workers = workers[w];
        p.prefetch = 1 + w;
        CHECK(run_hashes(&p, 5, 0, h, NULL) == n);
        for (int i = 0; i < n; i++) CHECK(h[i] == ref[i]);
    }
    /* Every waveform perturbation nemoc reads from train_ds.augmentor, drawn per
     * utterance: still the same batches for 1, 0 and 3 workers. */
    char yaml[4096];
    const char *rir = nc_test_src("tests/ref/augment_wave/rir_manifest.json");
    const int ny = snprintf(yaml, sizeof yaml,
                            "train_ds:\n  manifest_filepath: x.json\n  augmentor:\n"
                            "    speed: {prob: 0.5, min_speed_rate: 0.9, max_speed_rate: 1.1, num_rates: 3}\n"
                            "    gain: {prob: 0.5, min_gain_dbfs: -6, max_gain_dbfs: 6}\n"
                            "    shift: {prob: 0.6, min_shift_ms: -30, max_shift_ms: 30}\n"
                            "    impulse: {prob: 0.5, manifest_path: '%s', shift_impulse: true}\n"
                            "    noise: {prob: 0.3, manifest_path: '%s', min_snr_db: 10, max_snr_db: 20}\n"
                            "    resample: {prob: 0.4, target_sr: 8000}\n"
                            "    transcode_aug: {prob: 0.6, codecs: [g711, mulaw, ogg, opus]}\n"
                            "    time_stretch: {prob: 0.5, min_speed_rate: 0.85, max_speed_rate: 1.15, num_rates: -1}\n"
                            "    rir_noise_aug: {prob: 0.7, rir_manifest_path: '%s', rir_prob: 0.7, "
                            "noise_manifest_paths: ['%s'], min_snr_db: [5], max_snr_db: [15], max_additions: 3, "
                            "max_duration: 0.1, apply_noise_rir: true, bg_noise_manifest_paths: ['%s'], "
                            "bg_min_snr_db: [10], bg_max_snr_db: [30]}\n"
                            "    vtlp: {prob: 0.5, min_warp: 0.9, max_warp: 1.1}\n",
                            rir, rir, rir, rir, rir); /* the RIR file doubles as a noise file */
    nc_cfg *acfg = NULL, *ads = NULL;
    CHECK_OK(nc_cfg_parse(yaml, ny > 0 && ny < (int)sizeof yaml ? (size_t)ny : 0, "augment.yaml", &acfg));
    CHECK_OK(nc_cfg_get_node(acfg, "train_ds", &ads));
    nc_asr_loader_params ap = nc_asr_loader_default_params();
    CHECK_OK(nc_asr_loader_params_from_cfg(ads, &ap));
    CHECK(ap.n_perturb == 10);
    p.perturb = ap.perturb;
    p.n_perturb = ap.n_perturb;
    p.num_workers = 1;
    uint64_t ref_all[MAX_B];
    CHECK(run_hashes(&p, 5, 0, ref_all, NULL) == n);
    int same_as_plain = 0;
    for (int i = 0; i < n; i++) same_as_plain += ref_all[i] == ref[i];
    CHECK(same_as_plain < n); /* the new steps changed the audio */
    for (int w = 0; w < 3; w++) {
        p.num_workers = workers[w];
        CHECK(run_hashes(&p, 5, 0, h, NULL) == n);
        for (int i = 0; i < n; i++) CHECK(h[i] == ref_all[i]);
    }
    nc_asr_loader_params_clear(&ap);
    nc_cfg_free(acfg);
    p.perturb = steps;
    p.n_perturb = 2;
    p.num_workers = 3;
    /* A different epoch: different order and draws. */
    CHECK(run_hashes(&p, 6, 0, e1, NULL) == n);
    int same = 0;
    for (int i = 0; i < n; i++) same += e1[i] == ref[i];
    CHECK(same < n);
    /* Eval mode gives other features (no dither, SpecAugment or perturbation). */
    p.training = false;
    CHECK(run_hashes(&p, 5, 0, h, NULL) == n);
    same = 0;
    for (int i = 0; i < n; i++) same += h[i] == ref[i];
    CHECK(same == 0);
    /* Resuming: skip 2 planned batches, the rest is identical. */
    p.training = true;
    p.num_workers = 2;
    int64_t first = -1;
    const int m = run_hashes(&p, 5, 2, h, &first);
    CHECK(first == 2);
    /* Planned batches 0 and 1 both delivered in the full run (none is all bad). */
    CHECK(m == n - 2);
    for (int i = 0; i < m; i++) CHECK(h[i] == ref[i + 2]);
    /* Skipping past the end gives an empty epoch. */
    CHECK(run_hashes(&p, 5, 1000, h, NULL) == 0);
}

/* ---- bucketing ---- */

static int bucket_of(double d, double lo, double hi, int K) {
    int k = (int)floor((d - lo) / ((hi - lo) / K));
    return k < 0 ? 0 : k >= K ? K - 1 : k;
}

static void test_bucketing(void) {
    static const int64_t bbs[3] = {4, 3, 2};
    nc_asr_loader_params p = base_params(g_good);
    p.features = NULL;
    p.tokenizer = NULL;
    p.shuffle = true;
    p.bucketing_strategy = NC_BUCKETING_SYNCED_RANDOMIZED;
    p.num_buckets = 3;
    p.bucketing_batch_size = bbs;
    p.n_bucketing_batch_size = 3;
    double lo = 1e9, hi = 0;
    for (int i = 0; i < N_SPECS; i++) {
        if (SPECS[i].kind != GOOD) continue;
        if (SPECS[i].dur < lo) lo = SPECS[i].dur;
        if (SPECS[i].dur > hi) hi = SPECS[i].dur;
    }
    int nbat[2] = {0, 0};
    for (int r = 0; r < 2; r++) {
        p.world_size = r == 0 ? 1 : 2;
        nc_asr_loader *l = NULL;
        CHECK_OK(nc_asr_loader_create(&p, &l));
        if (!l) return;
        const nc_manifest *m = nc_asr_loader_manifest(l);
        CHECK_OK(nc_asr_loader_begin_epoch(l, 3, 0));
        int seen[N_GOOD] = {0};
        const nc_asr_batch *b;
        for (;;) {
            CHECK_OK(nc_asr_loader_next(l, &b));
            if (!b) break;
            const int k = bucket_of(m->entries[b->sample_index[0]].duration, lo, hi, 3);
            CHECK(b->batch_size <= bbs[k]);
            for (int64_t i = 0; i < b->batch_size; i++) {
                seen[b->sample_index[i]]++;
                CHECK(bucket_of(m->entries[b->sample_index[i]].duration, lo, hi, 3) == k);
            }
            nbat[r]++;
        }
        if (r == 0)
            for (int i = 0; i < N_GOOD; i++) CHECK(seen[i] == 1);
        nc_asr_loader_free(l);
    }
    /* Buckets [0.3, 0.733), [0.733, 1.167), [1.167, 1.6]: 5, 4, 3 utterances -> 2 + 2 + 2 batches. */
    CHECK(nbat[0] == 6);
    /* synced_randomized: both ranks of a 2-rank run go through the buckets in the same order. */
    p.world_size = 2;
    int kseq[2][16], kn[2] = {0, 0};
    for (int strat = 0; strat < 2; strat++) {
        p.bucketing_strategy = strat == 0 ? NC_BUCKETING_SYNCED_RANDOMIZED : NC_BUCKETING_FULLY_RANDOMIZED;
        int differ = 0;
        for (int64_t epoch = 0; epoch < 4; epoch++) {
            for (int r = 0; r < 2; r++) {
                p.rank = r;
                nc_asr_loader *l = NULL;
                CHECK_OK(nc_asr_loader_create(&p, &l));
                if (!l) return;
                const nc_manifest *m = nc_asr_loader_manifest(l);
                CHECK(nc_asr_loader_num_batches(l) == 3); /* ceil(3/4) + ceil(2/3) + ceil(2/2) per rank */
                CHECK_OK(nc_asr_loader_begin_epoch(l, epoch, 0));
                kn[r] = 0;
                const nc_asr_batch *b;
                for (;;) {
                    CHECK_OK(nc_asr_loader_next(l, &b));
                    if (!b) break;
                    kseq[r][kn[r]++] = bucket_of(m->entries[b->sample_index[0]].duration, lo, hi, 3);
                }
                nc_asr_loader_free(l);
            }
            CHECK(kn[0] == kn[1]);
            differ += memcmp(kseq[0], kseq[1], (size_t)kn[0] * sizeof(int)) != 0;
        }
        if (strat == 0) CHECK(differ == 0);
        else CHECK(differ > 0);
    }
    /* NeMo's int bucketing_batch_size: linear scale, 2 -> 6, 4, 2. */
    p.bucketing_batch_size = NULL;
    p.n_bucketing_batch_size = 0;
    p.bucketing_batch_size_scale = 2;
    p.world_size = 1;
    p.rank = 0;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (l) CHECK(nc_asr_loader_num_batches(l) == 1 + 1 + 2);
    nc_asr_loader_free(l);
    /* A list that disagrees with num_buckets. */
    p.bucketing_batch_size = bbs;
    p.n_bucketing_batch_size = 3;
    p.num_buckets = 4;
    CHECK_ERR(nc_asr_loader_create(&p, &l), NC_ERR_CONFIG, "num_buckets");
}

/* ---- bos/eos ---- */

static void test_start_end(void) {
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nend\nhello\nworld\n";
    nc_wordpiece_params wp = nc_wordpiece_default_params();
    wp.lower_case = true;
    nc_tokenizer *t = NULL;
    CHECK_OK(nc_tokenizer_wordpiece_from_memory(vocab, (int64_t)strlen(vocab), &wp, &t));
    if (!t) return;
    nc_asr_loader_params p = base_params(g_good);
    p.features = NULL;
    p.tokenizer = t;
    p.batch_size = 16;
    for (int se = 0; se < 2; se++) {
        p.use_start_end_token = se;
        nc_asr_loader *l = NULL;
        CHECK_OK(nc_asr_loader_create(&p, &l));
        if (!l) break;
        CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
        const nc_asr_batch *b;
        CHECK_OK(nc_asr_loader_next(l, &b));
        CHECK(b && b->batch_size == N_GOOD && b->token_pad_id == 0);
        if (b) {
            /* "hello world" -> [CLS] hello world [SEP] */
            const int64_t *r = b->tokens;
            if (se) CHECK(b->token_len[0] == 4 && r[0] == 2 && r[1] == 7 && r[2] == 8 && r[3] == 3);
            else CHECK(b->token_len[0] == 2 && r[0] == 7 && r[1] == 8);
            /* "the end" (the last) */
            const int64_t *e = b->tokens + (N_GOOD - 1) * b->max_tokens;
            CHECK(b->token_len[N_GOOD - 1] == 2 + 2 * se);
            CHECK(e[se] == 5 && e[se + 1] == 6);
            for (int64_t k = b->token_len[N_GOOD - 1]; k < b->max_tokens; k++) CHECK(e[k] == 0);
        }
        nc_asr_loader_free(l);
    }
    nc_tokenizer_free(t);
}

/* Creation-time refusals (the config keys are read in test_asr_loader_cfg.c). */
static void test_create_refusals(void) {
    nc_asr_loader_params p;
    nc_asr_loader *l = NULL;
    p = base_params(g_good);
    p.trim_silence = true;
    CHECK_ERR(nc_asr_loader_create(&p, &l), NC_ERR_UNSUPPORTED, "trim_silence");
    p = base_params(g_good);
    p.sample_rate = 8000;
    CHECK_ERR(nc_asr_loader_create(&p, &l), NC_ERR_CONFIG, "sample_rate");
    p = base_params(g_good);
    p.max_duration = 0.1;
    CHECK_ERR(nc_asr_loader_create(&p, &l), NC_ERR_CONFIG, "no utterance left");
    p = base_params(g_good);
    CHECK_OK(nc_asr_loader_create(&p, &l));
    const nc_asr_batch *b;
    CHECK_ERR(nc_asr_loader_next(l, &b), NC_ERR_INVALID_ARG, "begin_epoch");
    nc_asr_loader_free(l);
}

/* The manifest forms: a list item with a comma in its path is one path (a
 * string would be split there, as NeMo splits it); an in-memory manifest
 * (borrowed) is filtered by the loader and sample_index indexes it. */
static void test_manifest_forms(void) {
    char comma[2300];
    snprintf(comma, sizeof comma, "%s/good,13.json", g_dir);
    nc_manifest m = {0};
    CHECK_OK(nc_manifest_read(g_good13, NULL, false, &m));
    FILE *f = fopen(comma, "w");
    CHECK(f != NULL);
    for (int64_t i = 0; f && i < m.n; i++) fprintf(f, "%s\n", m.entries[i].extra_json);
    if (f) fclose(f);
    const char *list[] = {comma};
    nc_manifest m2 = {0};
    CHECK_OK(nc_manifest_read_list(list, 1, NULL, false, &m2));
    CHECK(m2.n == m.n);
    nc_manifest_free(&m2);
    CHECK(nc_manifest_read(comma, NULL, false, &m2) != NC_OK); /* split at the comma: "<dir>/good" */
    nc_manifest_free(&m2);
    /* In memory: the loader keeps what max_duration lets through, in order. */
    nc_asr_loader_params p = base_params(NULL);
    p.manifest = &m;
    p.max_duration = 0.5;
    nc_asr_loader *l = NULL;
    CHECK_OK(nc_asr_loader_create(&p, &l));
    if (!l) {
        nc_manifest_free(&m);
        return;
    }
    CHECK(nc_asr_loader_manifest(l) == &m);
    CHECK_OK(nc_asr_loader_begin_epoch(l, 0, 0));
    int64_t seen = 0, want = 0, last = -1;
    for (int64_t i = 0; i < m.n; i++) want += m.entries[i].duration <= 0.5;
    const nc_asr_batch *b;
    while (nc_asr_loader_next(l, &b) == NC_OK && b) {
        for (int64_t i = 0; i < b->batch_size; i++) {
            int64_t k = b->sample_index[i];
            CHECK(k > last && k < m.n && m.entries[k].duration <= 0.5);
            CHECK(!strcmp(b->texts[i], m.entries[k].text));
            last = k;
            seen++;
        }
    }
    CHECK(seen == want && want > 0 && want < m.n);
    nc_asr_loader_free(l);
    nc_manifest_free(&m);
}

int main(void) {
    nc_log_set_level(NC_LOG_WARN);
    nc_log_set_callback(on_log, NULL);
    static const char *labels[] = {" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                                   "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "'"};
    CHECK_OK(nc_tokenizer_char_new(labels, 28, NULL, &g_char));
    g_feat = nc_feature_default_config();
    CHECK_OK(nc_feature_config_set(&g_feat, "features", "80"));
    CHECK_OK(nc_feature_config_set(&g_feat, "window_size", "0.025"));
    CHECK_OK(nc_feature_config_set(&g_feat, "n_fft", "512"));
    make_dataset();
    test_eval();
    test_bad_audio_error();
    test_sharding();
    test_determinism();
    test_bucketing();
    test_start_end();
    test_create_refusals();
    test_manifest_forms();
    nc_tokenizer_free(g_char);
    return nc_test_finish("asr_loader");
}
