/* vtlp (src/audio/augment_vtlp.c): a pure tone at f comes out at alpha f
 * below the boundary and on the paper's line above it, its amplitude times
 * sqrt(the warp's slope);
 * alpha = 1 gives the input back; alpha is drawn in [min_warp, max_warp],
 * the same seed gives the same audio; bad parameters are named. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"

static nc_audio tone(double f, int64_t n, int sr) {
    nc_audio a = {.samples = nc_malloc((size_t)n * sizeof(float)), .n_samples = n, .sample_rate = sr};
    for (int64_t i = 0; i < n; i++) a.samples[i] = (float)(0.5 * sin(2 * M_PI * f * (double)i / sr + 0.3));
    return a;
}

/* |DFT| at frequency f of the Hann-windowed middle half of x. */
static double dft_mag(const float *x, int64_t n, int sr, double f) {
    const int64_t a = n / 4, m = n / 2;
    double re = 0, im = 0;
    for (int64_t i = 0; i < m; i++) {
        const double w = 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)m);
        const double ph = 2 * M_PI * f * (double)(a + i) / sr;
        re += w * x[a + i] * cos(ph), im -= w * x[a + i] * sin(ph);
    }
    return hypot(re, im);
}

/* The strongest frequency in [lo, hi], to 0.05 Hz (1 Hz scan, then golden refinement). */
static double peak_freq(const float *x, int64_t n, int sr, double lo, double hi) {
    double best = lo, bm = -1;
    for (double f = lo; f <= hi; f += 1.0) {
        const double m = dft_mag(x, n, sr, f);
        if (m > bm) bm = m, best = f;
    }
    double a = best - 1, b = best + 1;
    while (b - a > 0.05) {
        const double c = b - (b - a) * 0.618, d = a + (b - a) * 0.618;
        if (dft_mag(x, n, sr, c) > dft_mag(x, n, sr, d)) b = d;
        else a = c;
    }
    return (a + b) / 2;
}

static double rms(const float *x, int64_t a, int64_t b) {
    double s = 0;
    for (int64_t i = a; i < b; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)(b - a));
}

/* Jaitly & Hinton's warp, written out again for the expected frequencies. */
static double paper_warp(double f, double alpha, double f_hi, double nyq) {
    const double b = f_hi * fmin(alpha, 1) / alpha;
    return f <= b ? alpha * f : nyq - (nyq - f_hi * fmin(alpha, 1)) / (nyq - b) * (nyq - f);
}

static void test_tones(void) {
    static const struct {
        double f, alpha;
    } cases[] = {{1000, 1.1}, {1000, 0.9}, {300, 1.07}, {3000, 0.93}, {6000, 1.1}, {6000, 0.9}, {2500, 1.0}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const int sr = 16000;
        const int64_t n = 16000;
        nc_audio a = tone(cases[k].f, n, sr);
        nc_vtlp_perturb p = {.min_warp = cases[k].alpha, .max_warp = cases[k].alpha, .f_hi = 4800, .n_fft = 512};
        nc_rng rng;
        nc_rng_seed(&rng, 1);
        double alpha = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_OK(nc_perturb_vtlp(&p, &a, &rng, &alpha));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        CHECK(alpha == cases[k].alpha);
        CHECK(a.n_samples == n);
        const double want = paper_warp(cases[k].f, alpha, 4800, sr / 2.0);
        const double got = peak_freq(a.samples, n, sr, want - 200, want + 200);
        const double level = rms(a.samples, n / 4, 3 * n / 4) / (0.5 / sqrt(2.0));
        /* Warping magnitudes stretches a partial's lobe by the warp's local slope, so a
         * tone's amplitude goes by sqrt(slope) (a flat spectrum keeps its level) */
        const double slope = (paper_warp(cases[k].f + 0.5, alpha, 4800, sr / 2.0) -
                              paper_warp(cases[k].f - 0.5, alpha, 4800, sr / 2.0));
        printf("  tone %5.0f Hz, alpha %.2f: peak at %8.2f Hz (expected %8.2f), level x%.3f (sqrt(slope) %.3f), "
               "%.1f ms per s\n",
               cases[k].f, alpha, got, want, level, sqrt(slope),
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
        CHECK(fabs(got - want) < 1.0);
        CHECK(fabs(level - sqrt(slope)) < 0.02);
        nc_audio_free(&a);
    }
}

static void test_identity_and_draws(void) {
    const int64_t n = 12345;
    nc_audio a = {.samples = nc_malloc((size_t)n * sizeof(float)), .n_samples = n, .sample_rate = 16000};
    nc_rng g;
    nc_rng_seed(&g, 9);
    nc_rng_normal(&g, a.samples, n, 0, 0.1f);
    for (int64_t i = 0; i < n; i++) a.samples[i] += (float)(0.3 * sin(0.05 * (double)i));
    float *x = nc_malloc((size_t)n * sizeof(float));
    memcpy(x, a.samples, (size_t)n * sizeof(float));
    nc_vtlp_perturb p = {.min_warp = 1, .max_warp = 1, .f_hi = 4800, .n_fft = 512};
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    CHECK_OK(nc_perturb_vtlp(&p, &a, &rng, NULL));
    double md = 0;
    for (int64_t i = 0; i < n; i++) md = fmax(md, fabs((double)a.samples[i] - x[i]));
    printf("  alpha 1: max |y - x| = %.3g (peak %.3g)\n", md, 0.3 + 0.4);
    CHECK(md < 1e-5);
    /* drawn in [0.9, 1.1], per seed; the same seed, the same audio */
    p = (nc_vtlp_perturb){.min_warp = 0.9, .max_warp = 1.1, .f_hi = 4800, .n_fft = 256};
    double lo = 2, hi = 0;
    for (uint64_t s = 0; s < 200; s++) {
        nc_audio e = {.samples = NULL, .n_samples = 0, .sample_rate = 16000};
        double al;
        nc_rng_seed(&rng, s);
        CHECK_OK(nc_perturb_vtlp(&p, &e, &rng, &al)); /* empty audio: only the draw */
        lo = fmin(lo, al), hi = fmax(hi, al);
    }
    CHECK(lo >= 0.9 && hi <= 1.1 && lo < 0.92 && hi > 1.08);
    memcpy(a.samples, x, (size_t)n * sizeof(float));
    nc_audio b = {.samples = nc_malloc((size_t)n * sizeof(float)), .n_samples = n, .sample_rate = 16000};
    memcpy(b.samples, x, (size_t)n * sizeof(float));
    nc_rng_seed(&rng, 4);
    CHECK_OK(nc_perturb_vtlp(&p, &a, &rng, NULL));
    nc_rng_seed(&rng, 4);
    CHECK_OK(nc_perturb_vtlp(&p, &b, &rng, NULL));
    CHECK(!memcmp(a.samples, b.samples, (size_t)n * sizeof(float)));
    nc_audio_free(&a), nc_audio_free(&b);
    nc_free(x);
}

static void test_bad(void) {
    nc_audio a = tone(440, 1000, 8000);
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    nc_vtlp_perturb p = {.min_warp = 0.9, .max_warp = 1.1, .f_hi = 4800, .n_fft = 512};
    CHECK(nc_perturb_vtlp(&p, &a, &rng, NULL) == NC_ERR_CONFIG); /* 8 kHz audio: Nyquist 4000 < f_hi */
    CHECK(strstr(nc_last_error(), "f_hi") != NULL);
    p.f_hi = 3000, p.n_fft = 510;
    CHECK(nc_perturb_vtlp(&p, &a, &rng, NULL) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "n_fft") != NULL);
    p.n_fft = 256, p.min_warp = 1.2;
    CHECK(nc_perturb_vtlp(&p, &a, &rng, NULL) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "min_warp") != NULL);
    p.min_warp = 0.95;
    CHECK_OK(nc_perturb_vtlp(&p, &a, &rng, NULL));
    nc_audio_free(&a);
}

int main(void) {
    test_tones();
    test_identity_and_draws();
    test_bad();
    return nc_test_finish("augment_vtlp");
}
