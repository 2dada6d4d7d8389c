/* Audio decoding, mix-down, segment reads, resampling, WAV writes and the
 * error messages for bad files. Test files are written here with libsndfile
 * (all formats this libsndfile build can encode), so no binary fixtures. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/audio.h"

static const char *dir;

static const char *tmp(const char *name) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Writes interleaved float frames with libsndfile in any format; false if
 * this libsndfile cannot encode it. */
static bool write_sf(const char *path, int format, int sr, int ch, const float *x, int64_t frames) {
    SF_INFO info = {.samplerate = sr, .channels = ch, .format = format};
    if (!sf_format_check(&info)) return false;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return false;
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t w = sf_writef_float(sf, x, frames);
    sf_close(sf);
    return w == frames;
}

static void tone(float *x, int64_t n, int sr, double hz, double amp) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * M_PI * hz * (double)i / sr));
}

/* Frequency estimate from the count of positive-going zero crossings. */
static double zc_freq(const float *x, int64_t n, int sr) {
    int64_t z = 0;
    for (int64_t i = 1; i < n; i++) z += x[i - 1] < 0 && x[i] >= 0;
    return (double)z * sr / (double)n;
}

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

static void test_wav_roundtrip(void) {
    const int sr = 16000;
    const int64_t n = 16000;
    float *x = nc_malloc(n * sizeof(float));
    tone(x, n, sr, 440, 0.7);
    x[10] = 1.5f; /* clipped in PCM16 */
    CHECK_OK(nc_audio_write_wav(tmp("f.wav"), x, n, 1, sr, NC_WAV_FLOAT));
    CHECK_OK(nc_audio_write_wav(tmp("p.wav"), x, n, 1, sr, NC_WAV_PCM16));
    nc_audio a = {0}, b = {0};
    CHECK_OK(nc_audio_read(tmp("f.wav"), NULL, &a));
    CHECK_OK(nc_audio_read(tmp("p.wav"), NULL, &b));
    CHECK(a.n_samples == n && b.n_samples == n && a.sample_rate == sr && b.sample_rate == sr);
    if (a.n_samples == n) CHECK(memcmp(a.samples, x, n * sizeof(float)) == 0);
    if (b.n_samples == n) {
        /* Within one 16-bit step of the input, on the 1/32768 grid (libsndfile's clipping
         * conversion), and grid values come back exactly (checked below). */
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            const float xi = x[i] > 1.0f ? 32767.0f / 32768.0f : x[i];
            const float q = b.samples[i] * 32768.0f;
            bad += fabsf(b.samples[i] - xi) > 1.0f / 32768.0f || q != floorf(q);
        }
        CHECK(bad == 0);
        CHECK(b.samples[10] == 32767.0f / 32768.0f);
    }
    nc_audio_info info;
    CHECK_OK(nc_audio_probe(tmp("p.wav"), &info));
    CHECK(info.frames == n && info.channels == 1 && info.sample_rate == sr && fabs(info.duration - 1.0) < 1e-12);
    /* Grid values survive a PCM16 write and read exactly. */
    if (b.n_samples == n) {
        nc_audio c = {0};
        CHECK_OK(nc_audio_write_wav(tmp("p2.wav"), b.samples, n, 1, sr, NC_WAV_PCM16));
        CHECK_OK(nc_audio_read(tmp("p2.wav"), NULL, &c));
        CHECK(c.n_samples == n && memcmp(c.samples, b.samples, n * sizeof(float)) == 0);
        nc_audio_free(&c);
    }
    nc_audio_free(&a);
    nc_audio_free(&b);
    /* The write is atomic: no temp file is left, and a bad folder is an I/O error. */
    CHECK(nc_audio_write_wav("/nonexistent_dir/x.wav", x, n, 1, sr, NC_WAV_FLOAT) == NC_ERR_IO);
    nc_free(x);
}

/* Integer PCM normalisation as soundfile: int / 2^(bits-1), so full scale negative is -1. */
static void test_int_normalisation(void) {
    const int sr = 8000;
    short s16[4] = {-32768, 32767, 0, 16384};
    SF_INFO info = {.samplerate = sr, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(tmp("i16.wav"), SFM_WRITE, &info);
    CHECK(sf != NULL);
    if (sf) {
        sf_write_short(sf, s16, 4);
        sf_close(sf);
    }
    nc_audio a = {0};
    CHECK_OK(nc_audio_read(tmp("i16.wav"), NULL, &a));
    if (a.n_samples == 4) {
        CHECK(a.samples[0] == -1.0f && a.samples[1] == 32767.0f / 32768.0f && a.samples[2] == 0.0f &&
              a.samples[3] == 0.5f);
    }
    nc_audio_free(&a);
    int i32[3] = {INT32_MIN, INT32_MAX - 255, 1 << 30};
    const int fmts[] = {SF_FORMAT_PCM_24, SF_FORMAT_PCM_32};
    for (int k = 0; k < 2; k++) {
        info = (SF_INFO){.samplerate = sr, .channels = 1, .format = SF_FORMAT_WAV | fmts[k]};
        sf = sf_open(tmp("i32.wav"), SFM_WRITE, &info);
        CHECK(sf != NULL);
        if (!sf) continue;
        sf_write_int(sf, i32, 3);
        sf_close(sf);
        CHECK_OK(nc_audio_read(tmp("i32.wav"), NULL, &a));
        if (a.n_samples == 3) {
            CHECK(a.samples[0] == -1.0f);
            CHECK(a.samples[1] < 1.0f && a.samples[1] > 0.9999f);
            CHECK(a.samples[2] == 0.5f);
        }
        nc_audio_free(&a);
    }
    /* 8-bit unsigned WAV: 0 -> -1, 128 -> 0 */
    info = (SF_INFO){.samplerate = sr, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_U8};
    sf = sf_open(tmp("u8.wav"), SFM_WRITE, &info);
    CHECK(sf != NULL);
    if (sf) {
        short v[3] = {-32768, 0, 16384};
        sf_write_short(sf, v, 3);
        sf_close(sf);
    }
    CHECK_OK(nc_audio_read(tmp("u8.wav"), NULL, &a));
    if (a.n_samples == 3) CHECK(a.samples[0] == -1.0f && a.samples[1] == 0.0f && a.samples[2] == 0.5f);
    nc_audio_free(&a);
}

/* Every format of the brief that this libsndfile can encode decodes back to the signal. */
static void test_formats(void) {
    const int sr = 16000;
    const int64_t n = 16000;
    float *x = nc_malloc(n * sizeof(float));
    tone(x, n, sr, 500, 0.5);
    struct {
        const char *name;
        int fmt, sr;
        double tol; /* max abs error for lossless; 0 = lossy (compare level and pitch) */
    } cases[] = {
        {"pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, sr, 1.0 / 32768},
        {"pcm24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, sr, 1.0 / 8388608 * 1.01},
        {"pcm32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, sr, 1e-7},
        {"pcmu8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, sr, 1.0 / 128},
        {"f64.wav", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, sr, 0},
        {"a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, sr, 1.0 / 32768},
        {"a24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, sr, 1.0 / 8388608 * 1.01},
        {"a.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, sr, 0},
        {"a.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, sr, 0},
        {"a.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, sr, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tmp(cases[i].name);
        if (!write_sf(p, cases[i].fmt, cases[i].sr, 1, x, n)) {
            printf("  %-10s cannot be encoded by this libsndfile; decode not tested\n", cases[i].name);
            continue;
        }
        nc_audio a = {0};
        CHECK_OK(nc_audio_read(p, NULL, &a));
        if (!a.samples) continue;
        if (cases[i].fmt == (SF_FORMAT_WAV | SF_FORMAT_DOUBLE)) {
            CHECK(a.n_samples == n);
            if (a.n_samples == n) nc_test_allclose(cases[i].name, a.samples, x, n, 0, 0);
        } else if (cases[i].tol > 0) {
            CHECK(a.n_samples == n);
            if (a.n_samples == n) nc_test_allclose(cases[i].name, a.samples, x, n, 0, cases[i].tol);
        } else {
            /* Lossy: about the same length, level within 1 dB, same pitch. */
            CHECK(llabs(a.n_samples - n) < n / 10);
            const int64_t m = a.n_samples < n ? a.n_samples : n;
            CHECK(fabs(20 * log10(rms(a.samples + m / 4, m / 2) / rms(x + m / 4, m / 2))) < 1.0);
            CHECK(fabs(zc_freq(a.samples + m / 4, m / 2, sr) - 500.0) < 10.0);
            printf("  %-10s decoded %lld samples (encoded %lld)\n", cases[i].name, (long long)a.n_samples,
                   (long long)n);
        }
        nc_audio_free(&a);
    }
    nc_free(x);
}

static void test_mixdown_and_segments(void) {
    const int sr = 16000;
    const int64_t n = 16000;
    float *st = nc_malloc(2 * n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        st[2 * i] = (float)(0.5 * sin(2 * M_PI * 300 * i / sr));
        st[2 * i + 1] = (float)(0.25 * cos(2 * M_PI * 700 * i / sr));
    }
    CHECK_OK(nc_audio_write_wav(tmp("st.wav"), st, n, 2, sr, NC_WAV_FLOAT));
    nc_audio a = {0};
    CHECK_OK(nc_audio_read(tmp("st.wav"), NULL, &a));
    int bad = 0;
    for (int64_t i = 0; a.samples && i < n; i++) bad += a.samples[i] != (st[2 * i] + st[2 * i + 1]) / 2.0f;
    CHECK(a.n_samples == n && bad == 0);
    nc_audio_free(&a);
    nc_audio_read_params p = nc_audio_read_default_params();
    p.channel = 1;
    CHECK_OK(nc_audio_read(tmp("st.wav"), &p, &a));
    bad = 0;
    for (int64_t i = 0; a.samples && i < n; i++) bad += a.samples[i] != st[2 * i + 1];
    CHECK(a.n_samples == n && bad == 0);
    nc_audio_free(&a);
    p.channel = 2;
    CHECK(nc_audio_read(tmp("st.wav"), &p, &a) == NC_ERR_INVALID_ARG);

    /* Segment: samples [int(0.25*sr), +int(0.5*sr)) of the mix, by seeking. */
    p = nc_audio_read_default_params();
    p.offset = 0.25;
    p.duration = 0.5;
    CHECK_OK(nc_audio_read(tmp("st.wav"), &p, &a));
    bad = 0;
    for (int64_t i = 0; a.samples && i < 8000; i++)
        bad += a.samples[i] != (st[2 * (4000 + i)] + st[2 * (4000 + i) + 1]) / 2.0f;
    CHECK(a.n_samples == 8000 && bad == 0);
    nc_audio_free(&a);

    /* The same through FLAC (seeking inside a compressed stream). */
    float *mono = nc_malloc(n * sizeof(float));
    tone(mono, n, sr, 321, 0.6);
    if (write_sf(tmp("seg.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, sr, 1, mono, n)) {
        nc_audio full = {0}, seg = {0};
        CHECK_OK(nc_audio_read(tmp("seg.flac"), NULL, &full));
        p.offset = 0.6133;
        p.duration = 0.25;
        CHECK_OK(nc_audio_read(tmp("seg.flac"), &p, &seg));
        const int64_t s0 = (int64_t)(0.6133 * sr);
        CHECK(seg.n_samples == 4000);
        if (full.samples && seg.n_samples == 4000) CHECK(memcmp(seg.samples, full.samples + s0, 4000 * sizeof(float)) == 0);
        nc_audio_free(&full);
        nc_audio_free(&seg);
    }
    /* Past the end: an error with requested and available durations... */
    p.offset = 0.8;
    p.duration = 0.5;
    CHECK(nc_audio_read(tmp("st.wav"), &p, &a) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "requested 0.500 s") && strstr(nc_last_error(), "available 0.200 s"));
    CHECK(strstr(nc_last_error(), "st.wav") != NULL);
    p.offset = 1.5;
    p.duration = 0;
    CHECK(nc_audio_read(tmp("st.wav"), &p, &a) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "beyond the end") != NULL);
    /* ...except within end_tolerance (manifest rounding), which returns what is there. */
    p.offset = 0.8;
    p.duration = 0.205;
    CHECK_OK(nc_audio_read(tmp("st.wav"), &p, &a));
    CHECK(a.n_samples == 3200);
    nc_audio_free(&a);
    nc_free(st);
    nc_free(mono);
}

static void test_resample(void) {
    const int sr = 48000;
    const int64_t n = 48000;
    float *x = nc_malloc(n * sizeof(float));
    tone(x, n, sr, 1000, 0.5);
    CHECK_OK(nc_audio_write_wav(tmp("48k.wav"), x, n, 1, sr, NC_WAV_FLOAT));
    nc_audio_read_params p = nc_audio_read_default_params();
    p.target_sr = 16000;
    nc_audio a = {0};
    CHECK_OK(nc_audio_read(tmp("48k.wav"), &p, &a));
    CHECK(a.sample_rate == 16000 && a.n_samples == 16000);
    if (a.n_samples == 16000) {
        /* Passband tone keeps its level and pitch; away from the edges it is the exact sinusoid. */
        float *want = nc_malloc(16000 * sizeof(float));
        tone(want, 16000, 16000, 1000, 0.5);
        nc_test_allclose("resampled tone", a.samples + 1000, want + 1000, 14000, 0, 2e-3);
        nc_free(want);
    }
    nc_audio_free(&a);
    /* Lengths are ceil(n * out / in), as librosa.resample(fix=True). */
    float *y;
    int64_t ny;
    CHECK_OK(nc_audio_resample(x, 1001, 48000, 16000, &y, &ny));
    CHECK(ny == 334);
    nc_free(y);
    CHECK_OK(nc_audio_resample(x, 1000, 16000, 22050, &y, &ny));
    CHECK(ny == 1379); /* ceil(1378.125) */
    nc_free(y);
    CHECK(nc_audio_resample(x, 10, 0, 16000, &y, &ny) == NC_ERR_INVALID_ARG);
    nc_free(x);
}

static void test_errors(void) {
    nc_audio a = {0};
    CHECK(nc_audio_read(tmp("missing.wav"), NULL, &a) == NC_ERR_NOT_FOUND);
    CHECK(strstr(nc_last_error(), "missing.wav") != NULL);
    FILE *f = fopen(tmp("empty.wav"), "wb");
    if (f) fclose(f);
    CHECK(nc_audio_read(tmp("empty.wav"), NULL, &a) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "empty.wav") && strstr(nc_last_error(), "empty"));
    f = fopen(tmp("text.wav"), "w");
    if (f) {
        fputs("this is not audio, just some text in a file named .wav\n", f);
        fclose(f);
    }
    CHECK(nc_audio_read(tmp("text.wav"), NULL, &a) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "text.wav") && strstr(nc_last_error(), "cannot decode"));
    CHECK(nc_audio_read(dir, NULL, &a) == NC_ERR_IO); /* a folder */
    /* A WAV header with no samples. */
    CHECK_OK(nc_audio_write_wav(tmp("nodata.wav"), NULL, 0, 1, 16000, NC_WAV_PCM16));
    CHECK(nc_audio_read(tmp("nodata.wav"), NULL, &a) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "no audio samples") != NULL);
    /* A FLAC stream cut in the middle: the header promises more than decodes. */
    const int64_t n = 48000;
    float *x = nc_malloc(n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.3 * sin(0.01 * (double)i * (double)i / 1000.0));
    if (write_sf(tmp("cut.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, x, n)) {
        FILE *in = fopen(tmp("cut.flac"), "rb");
        fseek(in, 0, SEEK_END);
        long sz = ftell(in);
        CHECK(truncate(tmp("cut.flac"), sz / 2) == 0);
        fclose(in);
        nc_status s = nc_audio_read(tmp("cut.flac"), NULL, &a);
        CHECK(s == NC_ERR_FORMAT);
        CHECK(strstr(nc_last_error(), "cut.flac") != NULL);
        printf("  truncated FLAC: %s\n", nc_last_error());
        nc_audio_free(&a);
    }
    nc_audio_read_params p = nc_audio_read_default_params();
    p.offset = -1;
    CHECK(nc_audio_read(tmp("nodata.wav"), &p, &a) == NC_ERR_INVALID_ARG);
    nc_free(x);
}

int main(void) {
    dir = nc_test_tmpdir("audio_io");
    test_wav_roundtrip();
    test_int_normalisation();
    test_formats();
    test_mixdown_and_segments();
    test_resample();
    test_errors();
    return nc_test_finish("audio_io");
}
