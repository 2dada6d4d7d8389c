/* Waveform perturbations of perturb.py beyond speed/gain/noise: shift and
 * impulse against NeMo's own ShiftPerturbation / ImpulsePerturbation
 * and TimeStretchPerturbation's phase vocoder (tests/ref/gen_augment_wave.py,
 * draws fixed by the configs), an RIR at
 * another rate (resampled), band-limiting through 8 kHz, codec round trips
 * (g711 against NeMo's sox round trip, mu-law bit-exact against Python's audioop,
 * Ogg Vorbis and Opus by SNR) and their bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"
#include "nemoc/npy.h"

static const char *dir;

static nc_tensor *load(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/ref/augment_wave/%s", name);
    nc_tensor *t = NULL;
    if (nc_npy_load(nc_test_src(rel), &t)) nc_test_fail(__FILE__, __LINE__, "loading %s: %s", rel, nc_last_error());
    return t;
}

static nc_audio copy_audio(const nc_tensor *t, int sr) {
    nc_audio a = {.samples = nc_malloc((size_t)nc_numel(t) * sizeof(float)), .n_samples = nc_numel(t),
                  .sample_rate = sr};
    memcpy(a.samples, nc_f32(t), (size_t)nc_numel(t) * sizeof(float));
    return a;
}

static bool kv_true(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "%s=true", key);
    return strstr(line, pat) != NULL;
}

/* cases.txt: "<name> shift min_shift_ms=.. max_shift_ms=.." or "<name> impulse normalize_impulse=.. shift_impulse=..". */
static void test_nemo_ref(void) {
    FILE *fp = fopen(nc_test_src("tests/ref/augment_wave/cases.txt"), "r");
    CHECK(fp != NULL);
    if (!fp) return;
    nc_tensor *x = load("x.npy");
    nc_noise_set *rirs = NULL;
    CHECK_OK(nc_noise_set_load(nc_test_src("tests/ref/augment_wave/rir_manifest.json"), &rirs));
    char line[512];
    int cases = 0;
    while (x && rirs && fgets(line, sizeof line, fp)) {
        char name[64], kind[32];
        if (sscanf(line, "%63s %31s", name, kind) != 2) continue;
        char fn[96];
        snprintf(fn, sizeof fn, "%s.npy", name);
        nc_tensor *want = load(fn);
        if (!want) continue;
        nc_audio a = copy_audio(x, 16000);
        nc_rng rng;
        nc_rng_seed(&rng, 3);
        double drawn = -1;
        if (!strcmp(kind, "shift")) {
            const char *p = strstr(line, "min_shift_ms=");
            const double ms = p ? atof(p + 13) : 0;
            nc_shift_perturb sp = {.min_shift_ms = ms, .max_shift_ms = ms};
            CHECK_OK(nc_perturb_shift(&sp, &a, &rng, &drawn));
            CHECK(drawn == ms);
            /* pure sample moves: bit-exact */
            nc_test_allclose(name, a.samples, nc_f32(want), nc_numel(want), 0, 0);
        } else if (!strcmp(kind, "time_stretch")) {
            const char *r = strstr(line, "min_speed_rate="), *f = strstr(line, "n_fft=");
            const double rate = r ? atof(r + 15) : 1;
            nc_time_stretch_perturb tp = {.min_speed_rate = rate, .max_speed_rate = rate, .num_rates = 1,
                                          .n_fft = f ? atoi(f + 6) : 512};
            CHECK_OK(nc_perturb_time_stretch(&tp, &a, &rng, &drawn));
            CHECK(drawn == rate);
            /* Single-precision FFTs against numpy's double ones, and the phase accumulated in
             * float32 by both (as NeMo's phase_vocoder does): measured 8e-6, asserted 5e-5 (peak 0.5). */
            if (a.n_samples == nc_numel(want)) nc_test_allclose(name, a.samples, nc_f32(want), nc_numel(want), 0, 5e-5);
        } else {
            nc_impulse_perturb ip = {.rirs = rirs, .normalize_impulse = kv_true(line, "normalize_impulse"),
                                     .shift_impulse = kv_true(line, "shift_impulse")};
            CHECK_OK(nc_perturb_impulse(&ip, &a, &rng, &drawn));
            CHECK(drawn == 0);
            /* float FFTs against scipy's float64 fftconvolve, both scaled to peak 1 */
            nc_test_allclose(name, a.samples, nc_f32(want), nc_numel(want), 0, 2e-6);
        }
        CHECK(a.n_samples == nc_numel(want));
        double md = 0;
        for (int64_t i = 0; i < a.n_samples && i < nc_numel(want); i++)
            md = fmax(md, fabs((double)a.samples[i] - nc_f32(want)[i]));
        printf("  %-20s max |nemoc - NeMo| = %.3g\n", name, md);
        cases++;
        nc_audio_free(&a);
        nc_tensor_free(want);
    }
    CHECK(cases == 6);
    fclose(fp);
    nc_noise_set_free(rirs);
    nc_tensor_free(x);
}

/* An RIR stored at 8 kHz is resampled to the audio's 16 kHz: the result is the
 * direct (time-domain, double) convolution with the resampled RIR, trimmed, peak 1. */
static void test_impulse_other_rate(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rir8k.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"audio_filepath\": \"%s\", \"duration\": 0.1}\n", nc_test_src("tests/ref/augment_wave/rir8k.wav"));
    fclose(f);
    nc_noise_set *rirs = NULL;
    CHECK_OK(nc_noise_set_load(path, &rirs));
    nc_tensor *x = load("x.npy");
    if (!rirs || !x) return;
    nc_audio h = {0};
    CHECK_OK(nc_noise_set_read(rirs, 0, 16000, &h));
    CHECK(h.n_samples == 1600); /* 800 samples at 8 kHz */
    nc_audio a = copy_audio(x, 16000);
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    nc_impulse_perturb ip = {.rirs = rirs};
    CHECK_OK(nc_perturb_impulse(&ip, &a, &rng, NULL));
    const int64_t n = nc_numel(x);
    double *y = calloc((size_t)n, sizeof *y), peak = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < h.n_samples && j <= i; j++) y[i] += (double)h.samples[j] * nc_f32(x)[i - j];
        peak = fmax(peak, fabs(y[i]));
    }
    double md = 0;
    for (int64_t i = 0; i < n; i++) md = fmax(md, fabs(a.samples[i] - y[i] / peak));
    printf("  impulse, 8 kHz RIR: max |FFTW - direct| = %.3g\n", md);
    CHECK(md < 2e-6);
    free(y);
    nc_audio_free(&a);
    nc_audio_free(&h);
    nc_tensor_free(x);
    nc_noise_set_free(rirs);
    /* A manifest whose RIR file is missing is refused when loaded, naming the file. */
    f = fopen(path, "w");
    fprintf(f, "{\"audio_filepath\": \"no_such_rir.wav\", \"duration\": 0.1}\n");
    fclose(f);
    CHECK(nc_noise_set_load(path, &rirs) == NC_ERR_IO);
    CHECK(strstr(nc_last_error(), "no_such_rir.wav") != NULL);
}

/* Projection power of x on a sinusoid at hz (amplitude estimate). */
static double amp_at(const float *x, int64_t n, int sr, double hz) {
    double c = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        c += x[i] * cos(2 * M_PI * hz * i / sr);
        s += x[i] * sin(2 * M_PI * hz * i / sr);
    }
    return 2 * sqrt(c * c + s * s) / (double)n;
}

static nc_audio two_tones(int64_t n, int sr, double amp) {
    nc_audio a = {.samples = nc_malloc((size_t)n * sizeof(float)), .n_samples = n, .sample_rate = sr};
    for (int64_t i = 0; i < n; i++)
        a.samples[i] = (float)(amp * sin(2 * M_PI * 1000.0 * i / sr) + amp * sin(2 * M_PI * 6000.0 * i / sr));
    return a;
}

static void test_resample(void) {
    nc_audio a = two_tones(16000, 16000, 0.3);
    nc_rng rng;
    nc_rng_seed(&rng, 2);
    nc_resample_perturb rp = {.target_sr = 8000};
    CHECK_OK(nc_perturb_resample(&rp, &a, &rng, NULL));
    CHECK(a.n_samples == 16000);
    /* away from the edges: 1 kHz kept, 6 kHz (above the 4 kHz Nyquist) gone */
    const double a1 = amp_at(a.samples + 1000, 14000, 16000, 1000), a6 = amp_at(a.samples + 1000, 14000, 16000, 6000);
    printf("  resample 8 kHz: 1 kHz amplitude %.4f (was 0.3), 6 kHz %.2e\n", a1, a6);
    CHECK(fabs(a1 - 0.3) < 0.003);
    CHECK(a6 < 1e-3);
    nc_audio_free(&a);
}

/* g711 against NeMo's TranscodePerturbation (the sox binary: band-pass, 8 kHz A-law, with
 * sox's random dither, 49 dB between two of its runs), and mu-law bit-exact against
 * Python's audioop at 8 kHz (gen_augment_wave.py). */
static void test_g711_ref(void) {
    nc_tensor *x = load("x.npy"), *nemo = load("g711_nemo.npy"), *mu = load("g711_mulaw.npy");
    if (!x || !nemo || !mu) return;
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    nc_audio a = copy_audio(x, 16000);
    nc_transcode_perturb tp = {.codecs = {NC_CODEC_G711}, .n_codecs = 1};
    CHECK_OK(nc_perturb_transcode(&tp, &a, &rng, NULL));
    double err = 0, sig = 0;
    for (int64_t i = 0; i < nc_numel(nemo) && i < a.n_samples; i++) {
        err += (a.samples[i] - nc_f32(nemo)[i]) * (double)(a.samples[i] - nc_f32(nemo)[i]);
        sig += nc_f32(nemo)[i] * (double)nc_f32(nemo)[i];
    }
    const double snr = 10 * log10(sig / err);
    printf("  g711 vs NeMo's sox round trip: SNR %.1f dB\n", snr);
    CHECK(a.n_samples == nc_numel(nemo) && snr > 35); /* measured 43.3 */
    nc_audio_free(&a);
    a = copy_audio(x, 8000);
    tp.codecs[0] = NC_CODEC_MULAW;
    CHECK_OK(nc_perturb_transcode(&tp, &a, &rng, NULL));
    nc_test_allclose("g711_mulaw", a.samples, nc_f32(mu), nc_numel(mu), 0, 0);
    nc_audio_free(&a);
    nc_tensor_free(x);
    nc_tensor_free(nemo);
    nc_tensor_free(mu);
}

static void test_transcode(void) {
    static const char *const names[] = {"g711", "mulaw", "ogg", "opus"};
    /* min SNR (dB) of the 1 kHz tone through each codec at its worst drawn quality */
    static const double min_snr[] = {20, 25, 8, 8};
    for (int c = 0; c < NC_CODEC_COUNT; c++) {
        nc_codec codec;
        CHECK_OK(nc_codec_parse(names[c], &codec));
        CHECK(codec == (nc_codec)c);
        nc_transcode_perturb tp = {.codecs = {codec}, .n_codecs = 1};
        double worst = INFINITY;
        for (int seed = 0; seed < 4; seed++) {
            nc_audio a = two_tones(8000, 16000, 0.25);
            for (int64_t i = 0; i < a.n_samples; i++) /* a 1 kHz tone only (6 kHz would not pass G.711) */
                a.samples[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / 16000));
            nc_rng rng;
            nc_rng_seed(&rng, (uint64_t)seed);
            double drawn = -1;
            CHECK_OK(nc_perturb_transcode(&tp, &a, &rng, &drawn));
            CHECK(drawn == c && a.n_samples == 8000);
            double err = 0, sig = 0;
            for (int64_t i = 1000; i < 7000; i++) {
                const double ref = 0.5 * sin(2 * M_PI * 1000.0 * i / 16000);
                err += (a.samples[i] - ref) * (a.samples[i] - ref);
                sig += ref * ref;
            }
            worst = fmin(worst, 10 * log10(sig / err));
            nc_audio_free(&a);
        }
        printf("  transcode %-5s worst SNR over 4 draws %.1f dB\n", names[c], worst);
        CHECK(worst > min_snr[c]);
    }
    /* Loud audio is brought to 0.8 peak first (NeMo's att_factor), so nothing clips. */
    nc_audio a = two_tones(4000, 16000, 0.9);
    nc_transcode_perturb tp = {.codecs = {NC_CODEC_MULAW}, .n_codecs = 1};
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    CHECK_OK(nc_perturb_transcode(&tp, &a, &rng, NULL));
    float peak = 0;
    for (int64_t i = 0; i < a.n_samples; i++) peak = fmaxf(peak, fabsf(a.samples[i]));
    CHECK(peak < 0.9f);
    nc_audio_free(&a);
    nc_codec codec;
    CHECK(nc_codec_parse("amr-nb", &codec) == NC_ERR_CONFIG && strstr(nc_last_error(), "amr-nb"));
    CHECK(nc_codec_parse("mp3x", &codec) == NC_ERR_CONFIG && strstr(nc_last_error(), "mp3x"));
}

static void test_bad_input(void) {
    nc_audio a = two_tones(1600, 16000, 0.2);
    nc_rng rng;
    nc_rng_seed(&rng, 1);
    nc_shift_perturb sp = {.min_shift_ms = 5, .max_shift_ms = -5};
    CHECK(nc_perturb_shift(&sp, &a, &rng, NULL) == NC_ERR_CONFIG && strstr(nc_last_error(), "min_shift_ms"));
    /* a shift longer than the audio leaves it alone, as NeMo */
    sp = (nc_shift_perturb){.min_shift_ms = 500, .max_shift_ms = 500};
    const float first = a.samples[5];
    CHECK_OK(nc_perturb_shift(&sp, &a, &rng, NULL));
    CHECK(a.samples[5] == first);
    nc_impulse_perturb ip = {0};
    CHECK(nc_perturb_impulse(&ip, &a, &rng, NULL) == NC_ERR_INVALID_ARG);
    nc_transcode_perturb tp = {0};
    CHECK(nc_perturb_transcode(&tp, &a, &rng, NULL) == NC_ERR_INVALID_ARG);
    nc_resample_perturb rp = {.target_sr = 0};
    CHECK(nc_perturb_resample(&rp, &a, &rng, NULL) == NC_ERR_CONFIG && strstr(nc_last_error(), "target_sr"));
    nc_audio_free(&a);
}

/* Cost per 10 s utterance of each step (printed, not asserted: a shared machine). */
static void time_steps(void) {
    nc_noise_set *rirs = NULL;
    CHECK_OK(nc_noise_set_load(nc_test_src("tests/ref/augment_wave/rir_manifest.json"), &rirs));
    const nc_perturb_step steps[] = {
        {.prob = 1, .kind = NC_PERTURB_SHIFT, .u.shift = {.min_shift_ms = -5, .max_shift_ms = 5}},
        {.prob = 1, .kind = NC_PERTURB_IMPULSE, .u.impulse = {.rirs = rirs}},
        {.prob = 1, .kind = NC_PERTURB_TIME_STRETCH,
         .u.time_stretch = {.min_speed_rate = 1.1, .max_speed_rate = 1.1, .num_rates = 1, .n_fft = 512}},
        {.prob = 1, .kind = NC_PERTURB_TIME_STRETCH,
         .u.time_stretch = {.min_speed_rate = 0.9, .max_speed_rate = 0.9, .num_rates = 1, .n_fft = 512}},
        {.prob = 1, .kind = NC_PERTURB_RESAMPLE, .u.resample = {.target_sr = 8000}},
        {.prob = 1, .kind = NC_PERTURB_TRANSCODE, .u.transcode = {.codecs = {NC_CODEC_G711}, .n_codecs = 1}},
        {.prob = 1, .kind = NC_PERTURB_TRANSCODE, .u.transcode = {.codecs = {NC_CODEC_OGG}, .n_codecs = 1}},
        {.prob = 1, .kind = NC_PERTURB_TRANSCODE, .u.transcode = {.codecs = {NC_CODEC_OPUS}, .n_codecs = 1}},
    };
    static const char *const names[] = {"shift", "impulse", "time_stretch 1.1", "time_stretch 0.9",
                                        "resample 8k", "g711", "ogg", "opus"};
    for (size_t k = 0; k < sizeof steps / sizeof *steps && rirs; k++) {
        nc_audio a = two_tones(160000, 16000, 0.3);
        nc_rng rng;
        nc_rng_seed(&rng, 4);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_OK(nc_audio_augment(&steps[k], 1, &a, &rng));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("  %-17s %7.2f ms per 10 s of 16 kHz audio\n", names[k],
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
        nc_audio_free(&a);
    }
    nc_noise_set_free(rirs);
}

int main(void) {
    dir = nc_test_tmpdir("augment_wave");
    test_nemo_ref();
    test_impulse_other_rate();
    test_resample();
    test_g711_ref();
    test_transcode();
    test_bad_input();
    time_steps();
    return nc_test_finish("augment_wave");
}
