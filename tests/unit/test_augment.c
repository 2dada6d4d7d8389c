/* Augmentation: SpecAugment against NeMo's vectorised masks drawn from
 * torch's generator (tests/ref/gen_augment.py), mask widths/counts/lengths,
 * SpecCutout, reproducibility for a seed, speed perturbation lengths and
 * pitch, gain, white noise levels, and noise mixing at a target SNR
 * (within 0.1 dB). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"
#include "nemoc/npy.h"

static const char *dir;

static const char *tmp(const char *name) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static nc_tensor *load(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/augment/%s", name);
    nc_tensor *t = NULL;
    if (nc_npy_load(nc_test_src(rel), &t)) nc_test_fail(__FILE__, __LINE__, "loading %s: %s", rel, nc_last_error());
    return t;
}

/* Each line of cases.txt: "<name> <seed> key=value ..." -> exact equality with torch. */
static void test_spec_augment_ref(void) {
    FILE *fp = fopen(nc_test_src("tests/ref/augment/cases.txt"), "r");
    CHECK(fp != NULL);
    if (!fp) return;
    nc_tensor *spec = load("spec.npy"), *lens = load("lens.npy");
    char line[1024];
    while (spec && lens && fgets(line, sizeof line, fp)) {
        char *save = NULL;
        const char *name = strtok_r(line, " \n", &save), *seed = strtok_r(NULL, " \n", &save);
        if (!name || !seed) continue;
        nc_spec_augment_config c = nc_spec_augment_default_config();
        for (char *kv; (kv = strtok_r(NULL, " \n", &save));) {
            char *eq = strchr(kv, '=');
            if (!eq) continue;
            *eq = 0;
            CHECK_OK(nc_spec_augment_config_set(&c, kv, eq + 1));
        }
        char fn[128];
        snprintf(fn, sizeof fn, "%s.npy", name);
        nc_tensor *want = load(fn), *got = NULL;
        CHECK_OK(nc_tensor_clone(spec, &got));
        if (!want || !got) continue;
        nc_rng rng;
        nc_rng_seed(&rng, strtoull(seed, NULL, 10));
        CHECK_OK(nc_spec_augment(&c, nc_f32(got), spec->shape[0], spec->shape[1], spec->shape[2], nc_i64(lens), &rng));
        int64_t masked = 0;
        for (int64_t i = 0; i < nc_numel(got); i++) masked += nc_f32(got)[i] != nc_f32(spec)[i];
        printf("  %-10s %lld masked elements\n", name, (long long)masked);
        nc_test_allclose(name, nc_f32(got), nc_f32(want), nc_numel(want), 0, 0);
        nc_tensor_free(want);
        nc_tensor_free(got);
    }
    fclose(fp);
    nc_tensor_free(spec);
    nc_tensor_free(lens);
}

/* Masks from a ones spectrogram (mask_value 0): checks counts, widths and lengths. */
static void check_masks(const nc_spec_augment_config *c, int64_t B, int64_t F, int64_t T, const int64_t *len,
                        uint64_t seed) {
    float *s = nc_malloc(B * F * T * sizeof(float)), *s2 = nc_malloc(B * F * T * sizeof(float));
    for (int64_t i = 0; i < B * F * T; i++) s[i] = s2[i] = 1.0f;
    nc_rng r1, r2;
    nc_rng_seed(&r1, seed);
    nc_rng_seed(&r2, seed);
    CHECK_OK(nc_spec_augment(c, s, B, F, T, len, &r1));
    CHECK_OK(nc_spec_augment(c, s2, B, F, T, len, &r2));
    CHECK(memcmp(s, s2, B * F * T * sizeof(float)) == 0); /* same seed, same masks */
    for (int64_t b = 0; b < B; b++) {
        const float *x = s + b * F * T;
        int64_t cols = 0, rows = 0, stray = 0, beyond = 0;
        bool *colm = nc_calloc(T, 1), *rowm = nc_calloc(F, 1);
        for (int64_t t = 0; t < T; t++) {
            bool all = true;
            for (int64_t f = 0; f < F; f++) all &= x[f * T + t] == 0.0f;
            colm[t] = all;
            cols += all;
            beyond += all && t >= len[b];
        }
        for (int64_t f = 0; f < F; f++) {
            bool all = true;
            for (int64_t t = 0; t < T; t++) all &= x[f * T + t] == 0.0f;
            rowm[f] = all;
            rows += all;
        }
        for (int64_t f = 0; f < F; f++)
            for (int64_t t = 0; t < T; t++) stray += x[f * T + t] == 0.0f && !colm[t] && !rowm[f];
        /* Widths are < the maximum width (rand in [0, 1) times the width, truncated). */
        int64_t tmax = c->time_width_is_fraction ? (int64_t)((float)c->time_width * (float)len[b]) : (int64_t)c->time_width;
        CHECK(stray == 0);
        CHECK(beyond == 0);
        CHECK(cols <= c->time_masks * (tmax > 0 ? tmax : 0));
        CHECK(rows <= c->freq_masks * (c->freq_width - 1));
        nc_free(colm);
        nc_free(rowm);
    }
    /* Another seed draws other masks. */
    nc_rng_seed(&r2, seed + 1);
    for (int64_t i = 0; i < B * F * T; i++) s2[i] = 1.0f;
    CHECK_OK(nc_spec_augment(c, s2, B, F, T, len, &r2));
    CHECK(memcmp(s, s2, B * F * T * sizeof(float)) != 0);
    nc_free(s);
    nc_free(s2);
}

static void test_mask_properties(void) {
    const int64_t B = 4, F = 80, T = 300;
    const int64_t len[4] = {300, 250, 120, 60};
    nc_spec_augment_config c = nc_spec_augment_default_config();
    /* Conformer yaml: freq_masks 2, freq_width 27, time_masks 10, time_width 0.05. */
    CHECK_OK(nc_spec_augment_config_set(&c, "freq_masks", "2"));
    CHECK_OK(nc_spec_augment_config_set(&c, "freq_width", "27"));
    CHECK_OK(nc_spec_augment_config_set(&c, "time_masks", "10"));
    CHECK_OK(nc_spec_augment_config_set(&c, "time_width", "0.05"));
    CHECK(c.time_width_is_fraction);
    for (uint64_t seed = 1; seed <= 20; seed++) check_masks(&c, B, F, T, len, seed);
    CHECK_OK(nc_spec_augment_config_set(&c, "time_width", "20"));
    CHECK(!c.time_width_is_fraction && c.time_width == 20);
    for (uint64_t seed = 1; seed <= 20; seed++) check_masks(&c, B, F, T, len, seed);
    /* Legacy loop: same bounds (widths inclusive there: up to the width itself). */
    c.use_vectorized_spec_augment = false;
    c.freq_width = 28; /* check_masks allows freq_masks * (freq_width - 1) */
    c.time_width = 21;
    for (uint64_t seed = 1; seed <= 20; seed++) check_masks(&c, B, F, T, len, seed);
    CHECK(nc_spec_augment_config_set(&c, "time_width", "1.5") == NC_ERR_CONFIG);
    CHECK(nc_spec_augment_config_set(&c, "bogus", "1") == NC_ERR_CONFIG);
}

static void test_cutout(void) {
    const int64_t B = 2, F = 64, T = 200;
    const int64_t len[2] = {200, 150};
    nc_spec_augment_config c = nc_spec_augment_default_config();
    c.rect_masks = 5;
    c.rect_time = 120;
    c.rect_freq = 50; /* QuartzNet's SpecCutout */
    float *s = nc_malloc(B * F * T * sizeof(float));
    for (int64_t i = 0; i < B * F * T; i++) s[i] = 2.0f;
    nc_rng rng;
    nc_rng_seed(&rng, 5);
    CHECK_OK(nc_spec_augment(&c, s, B, F, T, len, &rng));
    for (int64_t b = 0; b < B; b++) {
        int64_t z = 0;
        for (int64_t i = 0; i < F * T; i++) z += s[b * F * T + i] == 0.0f;
        CHECK(z > 0 && z <= c.rect_masks * c.rect_freq * c.rect_time);
    }
    nc_free(s);
    /* Smaller than a rectangle: refused with the sizes, as NeMo's randint would. */
    float small[4 * 10];
    const int64_t l1[1] = {10};
    CHECK(nc_spec_augment(&c, small, 1, 4, 10, l1, &rng) == NC_ERR_INVALID_ARG);
}

static void tone(float *x, int64_t n, int sr, double hz, double amp) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * M_PI * hz * (double)i / sr));
}

static double zc_freq(const float *x, int64_t n, int sr) {
    int64_t z = 0;
    for (int64_t i = 1; i < n; i++) z += x[i - 1] < 0 && x[i] >= 0;
    return (double)z * sr / (double)n;
}

static nc_audio make_tone(int64_t n, int sr, double hz, double amp) {
    nc_audio a = {.samples = nc_malloc(n * sizeof(float)), .n_samples = n, .sample_rate = sr};
    tone(a.samples, n, sr, hz, amp);
    return a;
}

static void test_speed(void) {
    const int sr = 16000;
    nc_rng rng;
    nc_rng_seed(&rng, 9);
    nc_speed_perturb sp = {.min_speed_rate = 0.9, .max_speed_rate = 1.1, .num_rates = -1};
    for (int k = 0; k < 6; k++) {
        nc_audio a = make_tone(16000, sr, 1000, 0.5);
        double rate = 0;
        CHECK_OK(nc_perturb_speed(&sp, &a, &rng, &rate));
        CHECK(rate >= 0.9 && rate <= 1.1);
        const int new_sr = (int)(sr * rate);
        CHECK(a.n_samples == (int64_t)ceil(16000.0 * new_sr / sr));
        CHECK(fabs((double)a.n_samples / 16000.0 - rate) < 1e-3); /* length scales by the rate */
        /* Played at sr, the tone is 1000 / rate Hz. */
        CHECK(fabs(zc_freq(a.samples, a.n_samples, sr) - 1000.0 / rate) < 5.0);
        CHECK(a.sample_rate == sr);
        nc_audio_free(&a);
    }
    /* Discrete rates: linspace(0.9, 1.1, 5); 1.0 leaves the audio untouched. */
    sp.num_rates = 5;
    int seen_one = 0;
    for (int k = 0; k < 30; k++) {
        nc_audio a = make_tone(1600, sr, 440, 0.5);
        double rate = 0;
        CHECK_OK(nc_perturb_speed(&sp, &a, &rng, &rate));
        const double q = (rate - 0.9) / 0.05;
        CHECK(fabs(q - round(q)) < 1e-9 && rate >= 0.9 - 1e-12 && rate <= 1.1 + 1e-12);
        if (rate == 1.0) {
            seen_one++;
            CHECK(a.n_samples == 1600);
        }
        nc_audio_free(&a);
    }
    CHECK(seen_one > 0);
}

static void test_gain_and_white_noise(void) {
    nc_rng rng;
    nc_rng_seed(&rng, 3);
    nc_audio a = make_tone(8000, 16000, 300, 0.1);
    float *orig = nc_malloc(8000 * sizeof(float));
    memcpy(orig, a.samples, 8000 * sizeof(float));
    nc_gain_perturb gp = {.min_gain_dbfs = -10, .max_gain_dbfs = 10};
    double g = 0;
    CHECK_OK(nc_perturb_gain(&gp, &a, &rng, &g));
    CHECK(g >= -10 && g <= 10);
    CHECK_NEAR(nc_audio_rms_db(a.samples, 8000) - nc_audio_rms_db(orig, 8000), g, 1e-4);
    nc_audio_free(&a);

    /* NeMo's WhiteNoisePerturbation on silence: the noise level is the drawn level. */
    nc_white_noise_perturb wp = {.min_level = -90, .max_level = -46};
    for (int k = 0; k < 5; k++) {
        nc_audio z = {.samples = nc_calloc(160000, sizeof(float)), .n_samples = 160000, .sample_rate = 16000};
        double level = 0;
        CHECK_OK(nc_perturb_white_noise(&wp, &z, &rng, &level));
        CHECK(level >= -90 && level < -46 && level == floor(level));
        CHECK_NEAR(nc_audio_rms_db(z.samples, z.n_samples), level, 0.1);
        nc_audio_free(&z);
    }
    /* White noise at an SNR: measured SNR within 0.1 dB of the drawn one. */
    nc_white_noise_snr_perturb ws = {.min_snr_db = 0, .max_snr_db = 30};
    for (int k = 0; k < 5; k++) {
        nc_audio s = make_tone(160000, 16000, 440, 0.3);
        float *clean = nc_malloc(160000 * sizeof(float));
        memcpy(clean, s.samples, 160000 * sizeof(float));
        double snr = 0;
        CHECK_OK(nc_perturb_white_noise_snr(&ws, &s, &rng, &snr));
        for (int64_t i = 0; i < 160000; i++) s.samples[i] -= clean[i];
        CHECK(snr >= 0 && snr <= 30);
        CHECK_NEAR(nc_audio_rms_db(clean, 160000) - nc_audio_rms_db(s.samples, 160000), snr, 0.1);
        nc_free(clean);
        nc_audio_free(&s);
    }
    a = make_tone(100, 16000, 300, 0.1);
    CHECK(nc_perturb_white_noise(&(nc_white_noise_perturb){.min_level = -40, .max_level = -40}, &a, &rng, NULL) ==
          NC_ERR_CONFIG);
    nc_audio_free(&a);
    nc_free(orig);
}

static void write_noise(const char *name, int sr, double seconds, uint64_t seed) {
    const int64_t n = (int64_t)(seconds * sr);
    float *x = nc_malloc(n * sizeof(float));
    nc_rng r;
    nc_rng_seed(&r, seed);
    nc_rng_normal(&r, x, n, 0.0f, 0.05f);
    /* Level changes halfway, so a segment's level differs from the file's. */
    for (int64_t i = n / 2; i < n; i++) x[i] *= 4.0f;
    CHECK_OK(nc_audio_write_wav(tmp(name), x, n, 1, sr, NC_WAV_FLOAT));
    nc_free(x);
}

static void test_noise_mixing(void) {
    write_noise("n16.wav", 16000, 3.0, 1);
    write_noise("n8.wav", 8000, 2.5, 2);
    write_noise("short.wav", 16000, 0.5, 3);
    FILE *f = fopen(tmp("noise.json"), "w");
    /* Relative paths resolve next to the manifest; blank lines are skipped. */
    fprintf(f, "{\"audio_filepath\": \"n16.wav\", \"duration\": 3.0}\n\n");
    fprintf(f, "{\"audio_filepath\": \"%s\", \"duration\": 2.0, \"offset\": 0.5}\n", tmp("n8.wav"));
    fclose(f);
    nc_noise_set *set = NULL;
    CHECK_OK(nc_noise_set_load(tmp("noise.json"), &set));
    CHECK(nc_noise_set_size(set) == 2);
    nc_noise_perturb np = {.noise = set, .min_snr_db = 0, .max_snr_db = 20, .max_gain_db = 300};
    nc_rng rng;
    nc_rng_seed(&rng, 17);
    for (int k = 0; k < 8; k++) {
        nc_audio a = make_tone(16000, 16000, 500, 0.2);
        float *clean = nc_malloc(16000 * sizeof(float));
        memcpy(clean, a.samples, 16000 * sizeof(float));
        double snr = 0;
        CHECK_OK(nc_perturb_noise(&np, &a, &rng, &snr));
        for (int64_t i = 0; i < 16000; i++) a.samples[i] -= clean[i];
        const double got = nc_audio_rms_db(clean, 16000) - nc_audio_rms_db(a.samples, 16000);
        CHECK(snr >= 0 && snr <= 20);
        CHECK_NEAR(got, snr, 0.1);
        nc_free(clean);
        nc_audio_free(&a);
    }
    /* Reproducible for a seed. */
    nc_audio a1 = make_tone(16000, 16000, 500, 0.2), a2 = make_tone(16000, 16000, 500, 0.2);
    nc_rng r1, r2;
    nc_rng_seed(&r1, 99);
    nc_rng_seed(&r2, 99);
    CHECK_OK(nc_perturb_noise(&np, &a1, &r1, NULL));
    CHECK_OK(nc_perturb_noise(&np, &a2, &r2, NULL));
    CHECK(memcmp(a1.samples, a2.samples, 16000 * sizeof(float)) == 0);
    nc_audio_free(&a1);
    nc_audio_free(&a2);
    /* max_gain_db caps the noise gain. */
    np.max_gain_db = -200;
    nc_audio q = make_tone(16000, 16000, 500, 0.2);
    double snr = 0;
    CHECK_OK(nc_perturb_noise(&np, &q, &rng, &snr));
    float *ref = nc_malloc(16000 * sizeof(float));
    tone(ref, 16000, 16000, 500, 0.2);
    nc_test_allclose("capped noise", q.samples, ref, 16000, 0, 1e-6);
    nc_audio_free(&q);
    nc_noise_set_free(set);

    /* A noise shorter than the audio is added at one place, nowhere else. */
    f = fopen(tmp("short.json"), "w");
    fprintf(f, "{\"audio_filepath\": \"short.wav\", \"duration\": 0.5}\n");
    fclose(f);
    CHECK_OK(nc_noise_set_load(tmp("short.json"), &set));
    np = (nc_noise_perturb){.noise = set, .min_snr_db = 10, .max_snr_db = 10, .max_gain_db = 300};
    q = make_tone(16000, 16000, 500, 0.2);
    CHECK_OK(nc_perturb_noise(&np, &q, &rng, NULL));
    int64_t first = -1, last = -1;
    for (int64_t i = 0; i < 16000; i++)
        if (q.samples[i] != ref[i]) {
            if (first < 0) first = i;
            last = i;
        }
    CHECK(first >= 0 && last - first < 8000);
    nc_audio_free(&q);
    nc_noise_set_free(set);
    nc_free(ref);

    /* Manifest errors name the file and line. */
    f = fopen(tmp("bad.json"), "w");
    fprintf(f, "{\"audio_filepath\": \"n16.wav\", \"duration\": 3.0}\n{\"duration\": 1.0}\n");
    fclose(f);
    CHECK(nc_noise_set_load(tmp("bad.json"), &set) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "bad.json:2") && strstr(nc_last_error(), "audio_filepath"));
    f = fopen(tmp("bad2.json"), "w");
    fprintf(f, "not json\n");
    fclose(f);
    CHECK(nc_noise_set_load(tmp("bad2.json"), &set) == NC_ERR_FORMAT);
    CHECK(nc_noise_set_load(tmp("nope.json"), &set) == NC_ERR_NOT_FOUND);
    /* The speech manifests' JSON rules: \u0000 in a path (it would open
     * another file) and a raw NUL inside a string are refused by line. */
    f = fopen(tmp("nul.json"), "w");
    fprintf(f, "{\"audio_filepath\": \"n16.wav\", \"duration\": 3.0}\n{\"audio_filepath\": \"n16.wav\\u0000x\", "
               "\"duration\": 1.0}\n");
    fclose(f);
    CHECK(nc_noise_set_load(tmp("nul.json"), &set) != NC_OK);
    CHECK(strstr(nc_last_error(), "nul.json:2") != NULL);
    f = fopen(tmp("nul2.json"), "wb");
    fwrite("{\"audio_filepath\": \"n1\0.wav\", \"duration\": 1.0}\n", 1, 47, f);
    fclose(f);
    CHECK(nc_noise_set_load(tmp("nul2.json"), &set) != NC_OK);
    CHECK(strstr(nc_last_error(), "nul2.json:1") != NULL);
    f = fopen(tmp("missing_audio.json"), "w");
    fprintf(f, "{\"audio_filepath\": \"gone.wav\", \"duration\": 1.0}\n");
    fclose(f);
    /* A missing file is named when the manifest is loaded (config time), not when it is drawn. */
    CHECK(nc_noise_set_load(tmp("missing_audio.json"), &set) == NC_ERR_IO);
    CHECK(strstr(nc_last_error(), "gone.wav") != NULL && strstr(nc_last_error(), "missing_audio.json:1") != NULL);
}

static void test_pipeline(void) {
    nc_perturb_step steps[2] = {
        {.prob = 0.0, .kind = NC_PERTURB_GAIN, .u.gain = {.min_gain_dbfs = 5, .max_gain_dbfs = 5}},
        {.prob = 1.0, .kind = NC_PERTURB_SPEED, .u.speed = {.min_speed_rate = 1.05, .max_speed_rate = 1.05, .num_rates = 1}},
    };
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    nc_audio a = make_tone(16000, 16000, 200, 0.5);
    CHECK_OK(nc_audio_augment(steps, 2, &a, &rng));
    CHECK(a.n_samples == 16800); /* speed 1.05 always; gain never */
    double peak = 0;
    for (int64_t i = 0; i < a.n_samples; i++) peak = fmax(peak, fabs(a.samples[i]));
    CHECK(peak < 0.52);
    nc_audio_free(&a);
}

int main(void) {
    dir = nc_test_tmpdir("augment");
    test_spec_augment_ref();
    test_mask_properties();
    test_cutout();
    test_speed();
    test_gain_and_white_noise();
    test_noise_mixing();
    test_pipeline();
    return nc_test_finish("augment");
}
