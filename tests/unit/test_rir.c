/* Image-method RIRs (src/audio/rir_image.c, rir_bank.c) against physics:
 * the direct path arrives at distance / c (within a sample), Schroeder's
 * backward integration measures the requested RT60 (within 20%), a setup
 * mirrored about the room's middle (and source and microphone swapped,
 * reciprocity) gives the same response, no DC is left, the bank is
 * deterministic per seed, and its manifest loads as an ImpulsePerturbation
 * RIR set. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"
#include "nemoc/rir.h"

static int64_t argmax_abs(const float *h, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 1; i < n; i++)
        if (fabsf(h[i]) > fabsf(h[k])) k = i;
    return k;
}

static double dist(const nc_rir_room *r) {
    double d = 0;
    for (int i = 0; i < 3; i++) d += (r->src[i] - r->mic[i]) * (r->src[i] - r->mic[i]);
    return sqrt(d);
}

static void test_direct_and_rt60(void) {
    static const nc_rir_room rooms[] = {
        {.size = {6, 5, 3}, .src = {2, 3.5, 1.5}, .mic = {4.1, 1.2, 1.2}, .rt60 = 0.5},
        {.size = {4, 3, 2.5}, .src = {1.3, 1.1, 1.6}, .mic = {2.6, 1.9, 1.2}, .rt60 = 0.3},
        {.size = {9, 7, 3.5}, .src = {2, 2, 1.7}, .mic = {3, 2.5, 1.3}, .rt60 = 0.8},
        {.size = {5, 4, 3}, .src = {2.5, 1.2, 1.5}, .mic = {2.5, 2.2, 1.5}, .rt60 = 0.25},
    };
    for (size_t k = 0; k < sizeof rooms / sizeof *rooms; k++) {
        nc_rir_room r = rooms[k];
        r.sample_rate = 16000, r.sound_speed = 343;
        float *h = NULL;
        int64_t n = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_OK(nc_rir_image(&r, &h, &n));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!h) continue;
        /* first arrival: the direct path is the strongest tap, at d / c */
        const double tau = dist(&r) / r.sound_speed * r.sample_rate;
        const int64_t pk = argmax_abs(h, n);
        CHECK(fabs((double)pk - tau) <= 1.0);
        /* nothing before the direct path beyond the low-pass's ringing (Peterson's window: 2 ms) */
        double pre = 0;
        for (int64_t i = 0; i + 40 < (int64_t)tau; i++) pre = fmax(pre, fabsf(h[i]));
        CHECK(pre < 1e-3 * fabsf(h[pk]));
        double rt = 0, alpha = 0;
        CHECK_OK(nc_rir_rt60_schroeder(h, n, r.sample_rate, &rt));
        CHECK_OK(nc_rir_sabine_absorption(&r, &alpha));
        const double err = (rt - r.rt60) / r.rt60;
        printf("  room %gx%gx%g rt60 %.2f s (alpha %.3f): measured T20 %.3f s (%+.1f%%), peak at %lld for d/c %.2f "
               "samples, %lld samples in %.0f ms\n",
               r.size[0], r.size[1], r.size[2], r.rt60, alpha, rt, 100 * err, (long long)pk, tau, (long long)n,
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
        CHECK(fabs(err) < 0.2);
        /* the 100 Hz high-pass leaves no DC */
        double sum = 0, sabs = 0;
        for (int64_t i = 0; i < n; i++) sum += h[i], sabs += fabsf(h[i]);
        CHECK(fabs(sum) < 1e-3 * sabs);
        nc_free(h);
    }
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* Mirror every x coordinate about the room's middle: the image set is the same, so is the RIR;
 * and swapping source and microphone (reciprocity) too. */
static void test_symmetry(void) {
    nc_rir_room a = {.size = {5, 4, 3}, .src = {1.2, 1.5, 1.4}, .mic = {3.1, 2.6, 1.1}, .rt60 = 0.3,
                     .sample_rate = 16000, .sound_speed = 343};
    nc_rir_room b = a, c = a;
    b.src[0] = a.size[0] - a.src[0], b.mic[0] = a.size[0] - a.mic[0];
    b.src[1] = a.size[1] - a.src[1], b.mic[1] = a.size[1] - a.mic[1];
    memcpy(c.src, a.mic, sizeof c.src), memcpy(c.mic, a.src, sizeof c.mic);
    float *ha = NULL, *hb = NULL, *hc = NULL;
    int64_t na = 0, nb = 0, nc = 0;
    CHECK_OK(nc_rir_image(&a, &ha, &na));
    CHECK_OK(nc_rir_image(&b, &hb, &nb));
    CHECK_OK(nc_rir_image(&c, &hc, &nc));
    CHECK(na == nb && na == nc);
    if (ha && hb && hc && na == nb && na == nc) {
        const float peak = fabsf(ha[argmax_abs(ha, na)]);
        const double dm = max_diff(ha, hb, na), dr = max_diff(ha, hc, na);
        printf("  mirrored: max diff %.3g, reciprocal: %.3g (peak %.3g)\n", dm, dr, peak);
        /* the same images summed in another order, in double, stored as float */
        CHECK(dm <= 1e-6 * peak);
        CHECK(dr <= 1e-6 * peak);
    }
    nc_free(ha), nc_free(hb), nc_free(hc);
}

static void test_bad_rooms(void) {
    float *h = NULL;
    int64_t n = 0;
    nc_rir_room r = {.size = {10, 8, 4}, .src = {2, 2, 1}, .mic = {5, 5, 1}, .rt60 = 0.15, .sample_rate = 16000,
                     .sound_speed = 343};
    CHECK(nc_rir_image(&r, &h, &n) == NC_ERR_INVALID_ARG); /* Sabine's alpha 1.13 > 1 */
    CHECK(strstr(nc_last_error(), "shorter than") != NULL);
    r.rt60 = 0.5, r.src[2] = 4.5;
    CHECK(nc_rir_image(&r, &h, &n) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "outside the room") != NULL);
    CHECK(h == NULL);
    nc_rir_bank_params p = nc_rir_bank_default_params();
    nc_rir_room room;
    p.rt60[0] = 0.9, p.rt60[1] = 0.2;
    CHECK(nc_rir_bank_room(&p, 0, &room) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "rt60") != NULL);
    p = nc_rir_bank_default_params();
    p.rt60[1] = 0.1; /* every room needs more */
    p.rt60[0] = 0.05;
    p.length[0] = p.length[1] = 10, p.width[0] = p.width[1] = 8, p.height[0] = p.height[1] = 4;
    CHECK(nc_rir_bank_room(&p, 0, &room) == NC_ERR_CONFIG);
    CHECK(strstr(nc_last_error(), "Sabine") != NULL);
}

/* Default ranges: every drawn room is inside them, the source at the margin; the same seed
 * gives the same bank, files and all; another seed another; the manifest loads as RIRs. */
static void test_bank(void) {
    nc_rir_bank_params p = nc_rir_bank_default_params();
    for (int64_t i = 0; i < 200; i++) {
        nc_rir_room r;
        CHECK_OK(nc_rir_bank_room(&p, i, &r));
        CHECK(r.size[0] >= 3 && r.size[0] <= 10 && r.size[1] >= 3 && r.size[1] <= 8 && r.size[2] >= 2.5 &&
              r.size[2] <= 4);
        CHECK(r.rt60 >= 0.15 && r.rt60 <= 0.9);
        double alpha;
        CHECK_OK(nc_rir_sabine_absorption(&r, &alpha));
        for (int d = 0; d < 3; d++)
            CHECK(r.src[d] >= 0.5 && r.src[d] <= r.size[d] - 0.5 && r.mic[d] >= 0.5 && r.mic[d] <= r.size[d] - 0.5);
        CHECK(dist(&r) <= 3 + 1e-9);
    }
    p.num_rirs = 3, p.seed = 11, p.rt60[0] = 0.15, p.rt60[1] = 0.3;
    const char *d1 = nc_test_tmpdir("rir_bank1"), *d2 = nc_test_tmpdir("rir_bank2");
    CHECK_OK(nc_rir_bank_write(&p, d1, NULL, NULL));
    CHECK_OK(nc_rir_bank_write(&p, d2, NULL, NULL));
    char m1[4096], m2[4096];
    snprintf(m1, sizeof m1, "%s/rir_manifest.json", d1);
    snprintf(m2, sizeof m2, "%s/rir_manifest.json", d2);
    nc_noise_set *s1 = NULL, *s2 = NULL;
    CHECK_OK(nc_noise_set_load(m1, &s1));
    CHECK_OK(nc_noise_set_load(m2, &s2));
    CHECK(nc_noise_set_size(s1) == 3 && nc_noise_set_size(s2) == 3);
    for (int64_t i = 0; s1 && s2 && i < 3; i++) {
        nc_audio a = {0}, b = {0};
        CHECK_OK(nc_noise_set_read(s1, i, 16000, &a));
        CHECK_OK(nc_noise_set_read(s2, i, 16000, &b));
        CHECK(a.n_samples > 0 && a.n_samples == b.n_samples);
        if (a.n_samples == b.n_samples) CHECK(memcmp(a.samples, b.samples, (size_t)a.n_samples * 4) == 0);
        /* the WAV holds exactly what the generator gives */
        nc_rir_room r;
        float *h = NULL;
        int64_t n = 0;
        CHECK_OK(nc_rir_bank_room(&p, i, &r));
        CHECK_OK(nc_rir_image(&r, &h, &n));
        CHECK(n == a.n_samples);
        if (h && n == a.n_samples) CHECK(memcmp(a.samples, h, (size_t)n * 4) == 0);
        nc_free(h);
        nc_audio_free(&a), nc_audio_free(&b);
    }
    nc_noise_set_free(s1), nc_noise_set_free(s2);
    nc_rir_room r1, r2;
    CHECK_OK(nc_rir_bank_room(&p, 0, &r1));
    p.seed = 12;
    CHECK_OK(nc_rir_bank_room(&p, 0, &r2));
    CHECK(memcmp(&r1, &r2, sizeof r1) != 0);
}

int main(void) {
    test_direct_and_rt60();
    test_symmetry();
    test_bad_rooms();
    test_bank();
    return nc_test_finish("rir");
}
