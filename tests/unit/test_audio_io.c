/* Audio I/O: 16-bit WAV round trip, clipping, downmix, libsoxr resampling
 * (lengths, tone frequency and amplitude, speed perturbation) and white noise
 * at an exact SNR. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/audio_io.h"

static const double PI = 3.14159265358979323846;

static float *tone(int64_t n, double freq, double sr, double amp) {
    float *x = nc_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * PI * freq * (double)i / sr));
    return x;
}

static void test_wav_roundtrip(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tone.wav", dir);
    const int64_t n = 1234;
    float *x = tone(n, 440, 16000, 0.5);
    x[10] = 1.5f;   /* clipped to full scale */
    x[11] = -1.5f;
    x[12] = NAN;    /* written as 0 */
    CHECK_OK(nc_audio_write_wav16(path, x, n, 16000));
    nc_audio a;
    CHECK_OK(nc_audio_read(path, &a));
    CHECK(a.n == n);
    CHECK(a.sample_rate == 16000);
    /* Written as round(x * 32767), read back as s / 32768: error <= 0.5/32767 + |x|/32768. */
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i >= 10 && i <= 12) continue;
        double e = fabs((double)a.samples[i] - x[i]);
        if (e > worst) worst = e;
    }
    CHECK(worst <= 0.5 / 32767 + 0.5 / 32768 + 1e-7);
    CHECK_NEAR(a.samples[10], 32767.0 / 32768.0, 1e-7);
    CHECK_NEAR(a.samples[11], -32767.0 / 32768.0, 1e-7);
    CHECK_NEAR(a.samples[12], 0.0, 0.0);
    nc_audio_free(&a);
    nc_free(x);

    /* A header-only (empty) file reads as zero samples. */
    CHECK_OK(nc_audio_write_wav16(path, NULL, 0, 8000));
    CHECK_OK(nc_audio_read(path, &a));
    CHECK(a.n == 0 && a.samples == NULL && a.sample_rate == 8000);

    /* Missing files and bad arguments are errors, not crashes. */
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    CHECK(nc_audio_read(path, &a) == NC_ERR_IO);
    CHECK(strstr(nc_last_error(), "missing.wav") != NULL);
    CHECK(nc_audio_write_wav16(path, NULL, 0, 0) == NC_ERR_INVALID_ARG);
}

static void test_downmix(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/stereo.wav", dir);
    SF_INFO info = {.samplerate = 22050, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    CHECK(f != NULL);
    float frames[2 * 100];
    for (int i = 0; i < 100; i++) {
        frames[2 * i] = 0.5f;
        frames[2 * i + 1] = -0.25f;
    }
    CHECK(sf_writef_float(f, frames, 100) == 100);
    sf_close(f);
    nc_audio a;
    CHECK_OK(nc_audio_read(path, &a));
    CHECK(a.n == 100 && a.sample_rate == 22050);
    double worst = 0;
    for (int64_t i = 0; i < a.n; i++) worst = fmax(worst, fabs(a.samples[i] - 0.125));
    CHECK(worst < 1e-7);
    nc_audio_free(&a);
}

/* Max |y - amp*sin(2 pi f t)| away from the edges, where the filter's
 * transient lives. */
static double tone_error(const float *y, int64_t n, double freq, double sr, double amp, int64_t edge) {
    double worst = 0;
    for (int64_t i = edge; i < n - edge; i++)
        worst = fmax(worst, fabs(y[i] - amp * sin(2 * PI * freq * (double)i / sr)));
    return worst;
}

static void test_resample(void) {
    /* 22050 Hz (espeak-ng's rate) -> 16 kHz: one second stays one second and
     * a 440 Hz tone keeps frequency, amplitude and phase (libsoxr
     * compensates its filter delay). HQ is a 20-bit filter; measured error
     * is ~5e-7, the bound 1e-5 (-100 dB) leaves room for other libsoxr builds. */
    int64_t n = 22050;
    float *x = tone(n, 440, 22050, 0.5);
    float *y;
    int64_t ny;
    CHECK_OK(nc_audio_resample(x, n, 22050, 16000, &y, &ny));
    CHECK(ny == 16000);
    CHECK(tone_error(y, ny, 440, 16000, 0.5, 400) < 1e-5);
    nc_free(y);
    nc_free(x);

    /* 8 kHz (flite's kal) -> 16 kHz: twice the samples. */
    n = 8000;
    x = tone(n, 300, 8000, 0.3);
    CHECK_OK(nc_audio_resample(x, n, 8000, 16000, &y, &ny));
    CHECK(ny == 16000);
    CHECK(tone_error(y, ny, 300, 16000, 0.3, 400) < 1e-5);
    nc_free(y);
    nc_free(x);

    /* Speed perturbation: 16 kHz audio read as 17.6 kHz -> 1/1.1 of the
     * samples and every frequency times 1.1 (440 -> 484 Hz). */
    n = 16000;
    x = tone(n, 440, 16000, 0.5);
    CHECK_OK(nc_audio_resample(x, n, 16000 * 1.1, 16000, &y, &ny));
    CHECK(llabs(ny - llround(16000 / 1.1)) <= 1);
    CHECK(tone_error(y, ny, 484, 16000, 0.5, 400) < 1e-5);
    nc_free(y);

    /* Equal rates copy exactly; empty input gives empty output. */
    CHECK_OK(nc_audio_resample(x, n, 16000, 16000, &y, &ny));
    CHECK(ny == n && !memcmp(x, y, (size_t)n * sizeof(float)));
    nc_free(y);
    CHECK_OK(nc_audio_resample(x, 0, 22050, 16000, &y, &ny));
    CHECK(ny == 0 && y == NULL);
    CHECK(nc_audio_resample(x, n, 0, 16000, &y, &ny) == NC_ERR_INVALID_ARG);
    CHECK(nc_audio_resample(x, n, 16000, NAN, &y, &ny) == NC_ERR_INVALID_ARG);
    nc_free(x);
}

static void test_white_noise(void) {
    const int64_t n = 4000;
    float *x = tone(n, 440, 16000, 0.5);
    float *y = nc_malloc((size_t)n * sizeof(float)), *z = nc_malloc((size_t)n * sizeof(float));
    const double snrs[3] = {0.0, 10.0, 27.5};
    for (int k = 0; k < 3; k++) {
        memcpy(y, x, (size_t)n * sizeof(float));
        CHECK_OK(nc_audio_add_white_noise(y, n, snrs[k], 42));
        double ps = 0, pn = 0, mean = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)y[i] - x[i];
            ps += (double)x[i] * x[i];
            pn += d * d;
            mean += d;
        }
        /* Exact by construction up to float rounding of x + g*w: 1e-3 dB. */
        CHECK_NEAR(10 * log10(ps / pn), snrs[k], 1e-3);
        /* Zero-mean noise: |mean| within 4 standard errors. */
        CHECK(fabs(mean / (double)n) < 4 * sqrt(pn / (double)n) / sqrt((double)n));
    }
    /* Same seed, same noise; another seed, other noise. */
    memcpy(y, x, (size_t)n * sizeof(float));
    memcpy(z, x, (size_t)n * sizeof(float));
    CHECK_OK(nc_audio_add_white_noise(y, n, 20, 7));
    CHECK_OK(nc_audio_add_white_noise(z, n, 20, 7));
    CHECK(!memcmp(y, z, (size_t)n * sizeof(float)));
    memcpy(z, x, (size_t)n * sizeof(float));
    CHECK_OK(nc_audio_add_white_noise(z, n, 20, 8));
    CHECK(memcmp(y, z, (size_t)n * sizeof(float)) != 0);
    /* Silence stays silent (no signal power to be relative to). */
    memset(y, 0, (size_t)n * sizeof(float));
    CHECK_OK(nc_audio_add_white_noise(y, n, 10, 1));
    int silent = 1;
    for (int64_t i = 0; i < n; i++) silent &= y[i] == 0.0f;
    CHECK(silent);
    CHECK(nc_audio_add_white_noise(y, n, INFINITY, 1) == NC_ERR_INVALID_ARG);
    nc_free(x);
    nc_free(y);
    nc_free(z);
}

int main(void) {
    const char *dir = nc_test_tmpdir("audio_io");
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    test_wav_roundtrip(d);
    test_downmix(d);
    test_resample();
    test_white_noise();
    return nc_test_finish("audio_io");
}
