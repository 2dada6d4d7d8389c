/* rir_noise_aug against NeMo's own RirAndNoisePerturbation
 * (tests/ref/gen_augment_rir_noise.py: NeMo's class run on the draws nc_rng
 * makes for the same seed, RIR from `nemoc data rirs`), then which noise set
 * an audio's orig_sample_rate picks (NeMo's dict lookup), determinism and
 * bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"
#include "nemoc/npy.h"

static nc_tensor *load(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/augment_rir_noise/%s", name);
    nc_tensor *t = NULL;
    if (nc_npy_load(nc_test_src(rel), &t)) nc_test_fail(__FILE__, __LINE__, "loading %s: %s", rel, nc_last_error());
    return t;
}

static nc_noise_set *load_set(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/augment_rir_noise/%s", name);
    nc_noise_set *s = NULL;
    CHECK_OK(nc_noise_set_load(nc_test_src(rel), &s));
    return s;
}

static nc_audio copy_audio(const nc_tensor *t, int sr) {
    nc_audio a = {.samples = nc_malloc((size_t)nc_numel(t) * sizeof(float)), .n_samples = nc_numel(t),
                  .sample_rate = sr};
    memcpy(a.samples, nc_f32(t), (size_t)nc_numel(t) * sizeof(float));
    return a;
}

static double kv(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p) nc_test_fail(__FILE__, __LINE__, "cases.txt: no %s in %s", key, line);
    return p ? atof(p + strlen(pat)) : 0;
}

static void test_nemo_ref(void) {
    FILE *fp = fopen(nc_test_src("tests/ref/augment_rir_noise/cases.txt"), "r");
    CHECK(fp != NULL);
    if (!fp) return;
    nc_tensor *x = load("x.npy");
    nc_noise_set *rirs = load_set("rir_manifest.json"), *fg = load_set("fg.json"), *bg = load_set("bg.json");
    char line[512];
    int cases = 0;
    while (x && rirs && fg && bg && fgets(line, sizeof line, fp)) {
        char name[64];
        unsigned long long seed;
        if (sscanf(line, "%63s %llu", name, &seed) != 2) continue;
        char fn[96];
        snprintf(fn, sizeof fn, "%s.npy", name);
        nc_tensor *want = load(fn);
        if (!want) continue;
        nc_rir_noise_perturb p = {
            .rirs = rirs,
            .rir_prob = kv(line, "rir_prob"),
            .fg = {{.set = fg, .min_snr_db = kv(line, "min_snr"), .max_snr_db = kv(line, "max_snr"), .orig_sr = 16000}},
            .n_fg = 1,
            .noise_prob = kv(line, "noise_prob"),
            .apply_noise_rir = strstr(line, "apply_noise_rir=true") != NULL,
            .max_additions = (int)kv(line, "max_additions"),
            .max_duration = kv(line, "max_duration"),
            .bg = {{.set = bg, .min_snr_db = kv(line, "bg_min_snr"), .max_snr_db = kv(line, "bg_max_snr"),
                    .orig_sr = 16000}},
            .n_bg = 1,
            .bg_noise_prob = kv(line, "bg_noise_prob"),
        };
        nc_audio a = copy_audio(x, 16000);
        nc_rng rng;
        nc_rng_seed(&rng, seed);
        double ran = -1;
        CHECK_OK(nc_perturb_rir_noise(&p, &a, &rng, &ran));
        CHECK(a.n_samples == nc_numel(want));
        double md = 0, peak = 0;
        for (int64_t i = 0; i < a.n_samples && i < nc_numel(want); i++) {
            md = fmax(md, fabs((double)a.samples[i] - nc_f32(want)[i]));
            peak = fmax(peak, fabs(nc_f32(want)[i]));
        }
        printf("  %-12s seed %-3llu ran %s%s%s  max |nemoc - NeMo| = %.3g (peak %.3g)\n", name, seed,
               (int)ran & 1 ? "rir " : "", (int)ran & 2 ? "fg " : "", (int)ran & 4 ? "bg" : "", md, peak);
        /* float FFT convolution against scipy's float64 one, then the same sums: 1e-5 of a peak near 1 */
        if (a.n_samples == nc_numel(want)) nc_test_allclose(name, a.samples, nc_f32(want), nc_numel(want), 0, 1e-5);
        /* the same seed again: the same output, bit for bit */
        nc_audio b = copy_audio(x, 16000);
        nc_rng_seed(&rng, seed);
        CHECK_OK(nc_perturb_rir_noise(&p, &b, &rng, NULL));
        CHECK(b.n_samples == a.n_samples && !memcmp(a.samples, b.samples, (size_t)a.n_samples * sizeof(float)));
        nc_audio_free(&a), nc_audio_free(&b);
        nc_tensor_free(want);
        cases++;
    }
    CHECK(cases == 3);
    fclose(fp);
    nc_noise_set_free(rirs), nc_noise_set_free(fg), nc_noise_set_free(bg);
    nc_tensor_free(x);
}

/* NeMo keeps a perturber per orig_sample_rate and uses the audio's orig_sr,
 * else the largest rate. Two fg sets of different files (fg.json as 8 kHz,
 * the RIR file as 16 kHz) tell which ran: the output equals the run that
 * holds only the expected set (same draws, measured 0 difference). */
static void test_orig_sr_pick(void) {
    nc_tensor *x = load("x.npy");
    nc_noise_set *rirs = load_set("rir_manifest.json"), *fg = load_set("fg.json");
    if (!x || !rirs || !fg) return;
    nc_rir_noise_perturb p = {
        .rirs = rirs,
        .rir_prob = 0,
        .fg = {{.set = fg, .min_snr_db = 0, .max_snr_db = 0, .orig_sr = 8000},
               {.set = rirs, .min_snr_db = 0, .max_snr_db = 0, .orig_sr = 16000}},
        .n_fg = 2,
        .noise_prob = 1,
        .max_additions = 1,
        .max_duration = 0.2,
        .bg_noise_prob = 1,
    };
    const int origs[] = {8000, 16000, 0, 44100, 22050};
    const int want_first[] = {1, 0, 0, 0, 0}; /* 0 = this audio's 16 kHz; 44.1k/22.05k: the largest, 16k */
    for (int k = 0; k < 5; k++) {
        nc_audio a = copy_audio(x, 16000), b = copy_audio(x, 16000);
        a.orig_sample_rate = origs[k];
        nc_rng rng;
        nc_rng_seed(&rng, 2);
        CHECK_OK(nc_perturb_rir_noise(&p, &a, &rng, NULL));
        /* the same draws with only the expected set */
        nc_rir_noise_perturb q = p;
        q.fg[0] = p.fg[want_first[k] ? 0 : 1];
        q.n_fg = 1;
        nc_rng_seed(&rng, 2);
        CHECK_OK(nc_perturb_rir_noise(&q, &b, &rng, NULL));
        CHECK(!memcmp(a.samples, b.samples, (size_t)a.n_samples * sizeof(float)));
        nc_audio_free(&a), nc_audio_free(&b);
    }
    nc_noise_set_free(rirs), nc_noise_set_free(fg);
    nc_tensor_free(x);
}

static void test_bad_args(void) {
    nc_noise_set *rirs = load_set("rir_manifest.json");
    nc_audio a = {.samples = nc_calloc(100, sizeof(float)), .n_samples = 100, .sample_rate = 16000};
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    nc_rir_noise_perturb p = {.rirs = NULL, .rir_prob = 1, .max_additions = 1};
    CHECK(nc_perturb_rir_noise(&p, &a, &rng, NULL) == NC_ERR_INVALID_ARG);
    p.rirs = rirs;
    p.max_additions = 0;
    CHECK(nc_perturb_rir_noise(&p, &a, &rng, NULL) == NC_ERR_INVALID_ARG);
    /* silent audio: the RIR step leaves it alone (as NeMo), nothing else configured */
    p.max_additions = 1;
    CHECK_OK(nc_perturb_rir_noise(&p, &a, &rng, NULL));
    for (int i = 0; i < 100; i++) CHECK(a.samples[i] == 0);
    nc_audio_free(&a);
    nc_noise_set_free(rirs);
}

int main(void) {
    test_nemo_ref();
    test_orig_sr_pick();
    test_bad_args();
    return nc_test_finish("augment_rir_noise");
}
