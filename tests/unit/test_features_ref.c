/* Log-mel features against tests/ref/gen_features.py (torch.stft + a port of
 * librosa.filters.mel, following NeMo's FilterbankFeatures.forward).
 * Tolerance: 1e-4 absolute on log-mel (normalised or not); 1e-4 relative for
 * the one config without log. Lengths must match exactly. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/features.h"
#include "nemoc/npy.h"

static nc_tensor *load(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/features/%s", name);
    nc_tensor *t = NULL;
    nc_status s = nc_npy_load(nc_test_src(rel), &t);
    if (s) nc_test_fail(__FILE__, __LINE__, "loading %s: %s", rel, nc_last_error());
    return t;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (isnan(d)) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

static double worst_log_diff = 0;

/* One line of configs.txt: "<name> <batch> <seed|-> key=value ..." */
static void run_config(char *line) {
    char *save = NULL;
    const char *name = strtok_r(line, " \n", &save);
    const char *batch = strtok_r(NULL, " \n", &save);
    const char *seed = strtok_r(NULL, " \n", &save);
    if (!name || !batch || !seed) return;
    nc_feature_config cfg = nc_feature_default_config();
    for (char *kv; (kv = strtok_r(NULL, " \n", &save));) {
        char *eq = strchr(kv, '=');
        CHECK(eq != NULL);
        if (!eq) return;
        *eq = 0;
        CHECK_OK(nc_feature_config_set(&cfg, kv, eq + 1));
    }
    nc_featurizer *f = NULL;
    CHECK_OK(nc_featurizer_create(&cfg, &f));
    char fn[128];
    snprintf(fn, sizeof fn, "audio%s.npy", batch);
    nc_tensor *audio = load(fn);
    snprintf(fn, sizeof fn, "len%s.npy", batch);
    nc_tensor *lens = load(fn);
    snprintf(fn, sizeof fn, "%s_feats.npy", name);
    nc_tensor *want = load(fn);
    snprintf(fn, sizeof fn, "%s_lens.npy", name);
    nc_tensor *want_lens = load(fn);
    if (!f || !audio || !lens || !want || !want_lens) goto done;

    nc_rng rng;
    const bool training = strcmp(seed, "-") != 0;
    if (training) nc_rng_seed(&rng, (uint64_t)strtoull(seed, NULL, 10));
    nc_tensor *feats = NULL, *flens = NULL;
    CHECK_OK(nc_featurizer_forward(f, audio, lens, training, training ? &rng : NULL, &feats, &flens));
    if (!feats) goto done;
    CHECK(feats->ndim == 3 && want->ndim == 3);
    const bool same_shape = nc_same_shape(feats, want);
    if (!same_shape) {
        char a[64], b[64];
        nc_test_fail(__FILE__, __LINE__, "%s: shape %s, want %s", name, nc_shape_str(feats, a, sizeof a),
                     nc_shape_str(want, b, sizeof b));
    } else {
        for (int64_t b = 0; b < nc_numel(flens); b++) CHECK(nc_i64(flens)[b] == nc_i64(want_lens)[b]);
        const int64_t n = nc_numel(want);
        const double md = max_abs_diff(nc_f32(feats), nc_f32(want), n);
        if (cfg.log) {
            nc_test_allclose(name, nc_f32(feats), nc_f32(want), n, 0.0, 1e-4);
            if (md > worst_log_diff) worst_log_diff = md;
            printf("  %-12s (%lld, %lld, %lld) max |diff| %.3g\n", name, (long long)want->shape[0],
                   (long long)want->shape[1], (long long)want->shape[2], md);
        } else {
            nc_test_allclose(name, nc_f32(feats), nc_f32(want), n, 1e-4, 1e-6);
            printf("  %-12s (%lld, %lld, %lld) max rel diff %.3g (no log)\n", name, (long long)want->shape[0],
                   (long long)want->shape[1], (long long)want->shape[2],
                   nc_test_rel_err(nc_f32(feats), nc_f32(want), n));
        }
    }
    /* The state_dict buffers, where the generator saved them. */
    snprintf(fn, sizeof fn, "tests/ref/features/%s_fb.npy", name);
    FILE *probe = fopen(nc_test_src(fn), "rb");
    if (probe) {
        fclose(probe);
        snprintf(fn, sizeof fn, "%s_fb.npy", name);
        nc_tensor *wfb = load(fn);
        snprintf(fn, sizeof fn, "%s_window.npy", name);
        nc_tensor *wwin = load(fn);
        nc_tensor win, fb;
        nc_featurizer_buffers(f, &win, &fb);
        CHECK(!strcmp(fb.name, "preprocessor.featurizer.fb"));
        CHECK(!strcmp(win.name, "preprocessor.featurizer.window"));
        if (wfb && wwin && nc_same_shape(&fb, wfb) && nc_same_shape(&win, wwin)) {
            nc_test_allclose("fb", nc_f32(&fb), nc_f32(wfb), nc_numel(wfb), 1e-6, 1e-9);
            nc_test_allclose("window", nc_f32(&win), nc_f32(wwin), nc_numel(wwin), 0, 1e-6);
            printf("  %-12s fb max |diff| %.3g, window max |diff| %.3g\n", name,
                   max_abs_diff(nc_f32(&fb), nc_f32(wfb), nc_numel(wfb)),
                   max_abs_diff(nc_f32(&win), nc_f32(wwin), nc_numel(wwin)));
        } else {
            nc_test_fail(__FILE__, __LINE__, "%s: buffer shapes differ", name);
        }
        nc_tensor_free(wfb);
        nc_tensor_free(wwin);
    }
    nc_tensor_free(feats);
    nc_tensor_free(flens);
done:
    nc_tensor_free(audio);
    nc_tensor_free(lens);
    nc_tensor_free(want);
    nc_tensor_free(want_lens);
    nc_featurizer_free(f);
}

/* pad_to=max pads to get_seq_len(max_duration * sr) frames; the valid frames
 * are those of pad_to=0. */
static void test_pad_to_max(void) {
    nc_feature_config c = nc_feature_default_config();
    CHECK_OK(nc_feature_config_set(&c, "window_size", "0.025"));
    CHECK_OK(nc_feature_config_set(&c, "features", "80"));
    CHECK_OK(nc_feature_config_set(&c, "pad_to", "0"));
    nc_featurizer *f0 = NULL, *fm = NULL;
    CHECK_OK(nc_featurizer_create(&c, &f0));
    CHECK_OK(nc_feature_config_set(&c, "pad_to", "max"));
    CHECK_OK(nc_feature_config_set(&c, "max_duration", "1.0"));
    CHECK_OK(nc_feature_config_set(&c, "pad_value", "-3"));
    CHECK_OK(nc_featurizer_create(&c, &fm));
    nc_tensor *audio = load("audio16.npy"), *lens = load("len16.npy");
    if (!f0 || !fm || !audio || !lens) goto done;
    CHECK(nc_featurizer_out_frames(fm, audio->shape[1]) == 100); /* floor(16000 / 160) */
    nc_tensor *a = NULL, *al = NULL, *m = NULL, *ml = NULL;
    CHECK_OK(nc_featurizer_forward(f0, audio, lens, false, NULL, &a, &al));
    CHECK_OK(nc_featurizer_forward(fm, audio, lens, false, NULL, &m, &ml));
    if (a && m) {
        const int64_t B = a->shape[0], F = a->shape[1], Ta = a->shape[2], Tm = m->shape[2];
        CHECK(Tm == 100);
        int bad = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t r = 0; r < F; r++)
                for (int64_t t = 0; t < Tm; t++) {
                    float got = nc_f32(m)[(b * F + r) * Tm + t];
                    float want = t < nc_i64(al)[b] ? nc_f32(a)[(b * F + r) * Ta + t] : -3.0f;
                    bad += got != want;
                }
        CHECK(bad == 0);
    }
    /* A batch longer than max_duration is refused, naming max_duration. */
    nc_tensor *big = NULL, *bl = NULL, *o = NULL, *ol = NULL;
    CHECK_OK(nc_tensor_new(NC_F32, NC_DIMS(1, 20000), &big));
    CHECK_OK(nc_tensor_new(NC_I64, NC_DIMS(1), &bl));
    if (big && bl) {
        nc_i64(bl)[0] = 20000;
        CHECK(nc_featurizer_forward(fm, big, bl, false, NULL, &o, &ol) == NC_ERR_INVALID_ARG);
        CHECK(strstr(nc_last_error(), "max_duration") != NULL);
    }
    nc_tensor_free(big);
    nc_tensor_free(bl);
    nc_tensor_free(a);
    nc_tensor_free(al);
    nc_tensor_free(m);
    nc_tensor_free(ml);
done:
    nc_tensor_free(audio);
    nc_tensor_free(lens);
    nc_featurizer_free(f0);
    nc_featurizer_free(fm);
}

/* Same features on 1 thread and on 2: the threading only splits frames. */
static void test_threads_deterministic(void) {
    nc_feature_config c = nc_feature_default_config();
    nc_featurizer *f = NULL;
    CHECK_OK(nc_featurizer_create(&c, &f));
    nc_tensor *audio = load("audio16.npy"), *lens = load("len16.npy");
    if (!f || !audio || !lens) goto done;
    const int saved = omp_get_max_threads();
    nc_tensor *a = NULL, *al = NULL, *b = NULL, *bl = NULL;
    omp_set_num_threads(1);
    CHECK_OK(nc_featurizer_forward(f, audio, lens, false, NULL, &a, &al));
    omp_set_num_threads(2);
    CHECK_OK(nc_featurizer_forward(f, audio, lens, false, NULL, &b, &bl));
    omp_set_num_threads(saved);
    if (a && b) CHECK(memcmp(a->data, b->data, nc_nbytes(a)) == 0);
    nc_tensor_free(a);
    nc_tensor_free(al);
    nc_tensor_free(b);
    nc_tensor_free(bl);
done:
    nc_tensor_free(audio);
    nc_tensor_free(lens);
    nc_featurizer_free(f);
}

static void test_config_errors(void) {
    nc_feature_config c = nc_feature_default_config();
    nc_featurizer *f = NULL;
    /* Defaults resolve as NeMo's: 0.02 s -> 320 samples, n_fft 512, hop 160. */
    CHECK_OK(nc_featurizer_create(&c, &f));
    if (f) {
        CHECK(nc_featurizer_win_length(f) == 320 && nc_featurizer_hop_length(f) == 160);
        CHECK(nc_featurizer_n_fft(f) == 512 && nc_featurizer_n_features(f) == 64);
        CHECK(nc_featurizer_seq_len(f, 16000) == 100 && nc_featurizer_seq_len(f, 0) == 0);
        CHECK(nc_featurizer_seq_len(f, 159) == 0 && nc_featurizer_seq_len(f, 160) == 1);
        CHECK(nc_featurizer_out_frames(f, 16000) == 112); /* 101 frames -> multiple of 16 */
    }
    nc_featurizer_free(f);
    CHECK_OK(nc_feature_config_set(&c, "n_window_size", "400"));
    CHECK(nc_featurizer_create(&c, &f) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "window_size=null") != NULL);
    CHECK(nc_feature_config_set(&c, "no_such_key", "1") == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "no_such_key") != NULL);
    CHECK(nc_feature_config_set(&c, "window", "kaiser") == NC_ERR_CONFIG);
    CHECK(nc_feature_config_set(&c, "normalize", "per_features") == NC_ERR_CONFIG);
    CHECK(nc_feature_config_set(&c, "features", "-3") == NC_ERR_CONFIG);
    c = nc_feature_default_config();
    CHECK_OK(nc_feature_config_set(&c, "window_stride", "null"));
    CHECK_OK(nc_feature_config_set(&c, "n_window_stride", "161"));
    CHECK_OK(nc_feature_config_set(&c, "exact_pad", "true"));
    CHECK(nc_featurizer_create(&c, &f) == NC_ERR_CONFIG); /* odd hop with exact_pad */
    c = nc_feature_default_config();
    CHECK_OK(nc_feature_config_set(&c, "n_fft", "256"));
    CHECK_OK(nc_feature_config_set(&c, "window_size", "0.025"));
    CHECK(nc_featurizer_create(&c, &f) == NC_ERR_CONFIG); /* window 400 > n_fft */
    /* Keys table covers every settable key with a default. */
    int n = 0;
    for (const nc_feature_key_doc *k = nc_feature_config_keys(); k->key; k++, n++) CHECK(k->default_value && k->help);
    CHECK(n >= 23);
}

int main(void) {
    char rel[] = "tests/ref/features/configs.txt";
    FILE *fp = fopen(nc_test_src(rel), "r");
    CHECK(fp != NULL);
    if (fp) {
        char line[2048];
        while (fgets(line, sizeof line, fp)) run_config(line);
        fclose(fp);
    }
    printf("worst log-mel |diff| over all configs: %.3g (tolerance 1e-4)\n", worst_log_diff);
    test_pad_to_max();
    test_threads_deterministic();
    test_config_errors();
    return nc_test_finish("features_ref");
}
