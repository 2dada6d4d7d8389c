/* TranscodePerturbation (nemo/collections/asr/parts/preprocessing/perturb.py):
 * a lossy codec round trip. NeMo pipes the audio through the sox binary
 * (g711: 300-3400 Hz band-pass, A-law at 8 kHz; ogg: Vorbis at sox -C
 * quality -1..7; amr-nb); here
 * libsndfile encodes into memory and decodes back, in-process, on the
 * loader's worker thread. AMR-NB has no encoder in libsndfile: refused by
 * name when the config is read. */
#include <math.h>
#include <string.h>

#include "audio/sf_membuf.h"
#include "nemoc/alloc.h"
#include "nemoc/augment.h"

static const char *const CODEC_NAMES[NC_CODEC_COUNT] = {"g711", "mulaw", "ogg", "opus"};

/* Sample rates Ogg Opus encodes at (RFC 6716); others go through 16 kHz. */
static bool opus_rate(int sr) { return sr == 8000 || sr == 12000 || sr == 16000 || sr == 24000 || sr == 48000; }

static int codec_format(nc_codec c) {
    switch (c) {
    case NC_CODEC_G711: return SF_FORMAT_WAV | SF_FORMAT_ALAW;
    case NC_CODEC_MULAW: return SF_FORMAT_WAV | SF_FORMAT_ULAW;
    case NC_CODEC_OGG: return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    default: return SF_FORMAT_OGG | SF_FORMAT_OPUS;
    }
}

nc_status nc_codec_parse(const char *name, nc_codec *out) {
    if (!name || !out) return nc_error(NC_ERR_INVALID_ARG, "nc_codec_parse: NULL argument");
    if (!strcmp(name, "amr-nb"))
        return nc_error(NC_ERR_CONFIG, "codec 'amr-nb': libsndfile cannot write AMR-NB (NeMo shells out to sox for "
                                       "it); use g711, mulaw, ogg or opus");
    for (int c = 0; c < NC_CODEC_COUNT; c++) {
        if (strcmp(name, CODEC_NAMES[c])) continue;
        SF_INFO info = {.samplerate = c <= NC_CODEC_MULAW ? 8000 : 16000, .channels = 1,
                        .format = codec_format((nc_codec)c)};
        if (!sf_format_check(&info))
            return nc_error(NC_ERR_CONFIG, "codec '%s': the linked libsndfile (%s) cannot write it", name,
                            sf_version_string());
        *out = (nc_codec)c;
        return NC_OK;
    }
    return nc_error(NC_ERR_CONFIG, "codec '%s' is not one of g711, mulaw, ogg, opus", name);
}

/* Encodes x (n frames at sr) with `format` into memory and decodes it back into y (n frames, zero-padded). */
static nc_status roundtrip(const float *x, int64_t n, int sr, int format, double compression, float *y) {
    SF_INFO info = {.samplerate = sr, .channels = 1, .format = format};
    nc_sf_membuf mb = {0};
    SF_VIRTUAL_IO vio = nc_sf_membuf_io();
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &mb);
    if (!sf) {
        nc_sb_free(&mb.s);
        return nc_error(NC_ERR_INTERNAL, "transcode: libsndfile cannot encode format 0x%x at %d Hz: %s", format, sr,
                        sf_strerror(NULL));
    }
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    if (compression >= 0) sf_command(sf, SFC_SET_COMPRESSION_LEVEL, &compression, sizeof compression);
    const sf_count_t w = sf_writef_float(sf, x, (sf_count_t)n);
    const int cerr = sf_close(sf);
    if (mb.s.oom || w != (sf_count_t)n || cerr) {
        nc_sb_free(&mb.s);
        return nc_error(mb.s.oom ? NC_ERR_OOM : NC_ERR_INTERNAL, "transcode: encoding %lld frames (format 0x%x) failed",
                        (long long)n, format);
    }
    mb.pos = 0;
    SF_INFO rinfo = {0};
    sf = sf_open_virtual(&vio, SFM_READ, &rinfo, &mb);
    if (!sf) {
        nc_sb_free(&mb.s);
        return nc_error(NC_ERR_INTERNAL, "transcode: decoding format 0x%x: %s", format, sf_strerror(NULL));
    }
    sf_count_t r = sf_readf_float(sf, y, (sf_count_t)n);
    sf_close(sf);
    nc_sb_free(&mb.s);
    if (r < 0) r = 0;
    /* NeMo keeps new_data[0:len] (a decoder's tail may be short); pad, so labels keep their length */
    memset(y + r, 0, (size_t)(n - r) * sizeof *y);
    return NC_OK;
}

/* sox's `lowpass 3400 highpass 300` of NeMo's g711 command: two 2-pole
 * Butterworth biquads (RBJ cookbook, Q = 1/sqrt(2), as sox's default width),
 * run in that order at the input rate: sox applies user effects before the
 * rate change it adds for `-r 8000` (matching NeMo's sox output to 43 dB SNR,
 * its own dither-noise floor being 49 dB, needs this order). */
static void telephone_band(float *x, int64_t n, int sr) {
    static const struct {
        double f0;
        bool high;
    } stages[2] = {{3400, false}, {300, true}};
    for (int k = 0; k < 2; k++) {
        if (stages[k].f0 >= 0.5 * sr) continue; /* no band above Nyquist to remove */
        const double w0 = 2 * M_PI * stages[k].f0 / sr, c = cos(w0), al = sin(w0) / (2 * M_SQRT1_2);
        const double a0 = 1 + al, a1 = -2 * c / a0, a2 = (1 - al) / a0;
        const double g = (stages[k].high ? (1 + c) : (1 - c)) / 2 / a0;
        const double b0 = g, b1 = stages[k].high ? -2 * g : 2 * g, b2 = g;
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0; /* direct form I, zero initial state */
        for (int64_t i = 0; i < n; i++) {
            const double y = b0 * x[i] + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            x2 = x1;
            x1 = x[i];
            y2 = y1;
            y1 = y;
            x[i] = (float)y;
        }
    }
}

/* x (n at sr) -> rate -> codec -> sr, into a->samples. */
static nc_status via_rate(nc_audio *a, const float *x, int rate, int format, double compression) {
    const int64_t n = a->n_samples;
    const int sr = a->sample_rate;
    float *lo = NULL, *dec = NULL, *back = NULL;
    int64_t nlo = n, nback = 0;
    nc_status s = NC_OK;
    if (rate != sr) s = nc_audio_resample(x, n, sr, rate, &lo, &nlo);
    if (!s && !(dec = nc_malloc((size_t)(nlo > 0 ? nlo : 1) * sizeof *dec)))
        s = nc_error(NC_ERR_OOM, "transcode (%lld)", (long long)nlo);
    if (!s) s = roundtrip(rate != sr ? lo : x, nlo, rate, format, compression, dec);
    if (!s && rate != sr) s = nc_audio_resample(dec, nlo, rate, sr, &back, &nback);
    if (!s) {
        const float *src = rate != sr ? back : dec;
        const int64_t m = rate != sr ? (nback < n ? nback : n) : n;
        memcpy(a->samples, src, (size_t)m * sizeof *src);
        memset(a->samples + m, 0, (size_t)(n - m) * sizeof *src);
    }
    nc_free(lo);
    nc_free(dec);
    nc_free(back);
    return s;
}

nc_status nc_perturb_transcode(const nc_transcode_perturb *p, nc_audio *a, nc_rng *rng, double *drawn) {
    if (!p || p->n_codecs <= 0 || p->n_codecs > NC_CODEC_COUNT || !a || !rng || a->sample_rate <= 0 ||
        a->n_samples < 0 || (a->n_samples && !a->samples))
        return nc_error(NC_ERR_INVALID_ARG, "transcode perturbation: bad arguments (no codecs?)");
    /* codec_ind = random.randint(0, len(codecs) - 1) */
    int ci = (int)floor(nc_rng_double(rng) * p->n_codecs);
    if (ci >= p->n_codecs) ci = p->n_codecs - 1;
    const nc_codec c = p->codecs[ci];
    if (c < 0 || c >= NC_CODEC_COUNT) return nc_error(NC_ERR_INVALID_ARG, "transcode perturbation: codec %d", (int)c);
    if (drawn) *drawn = (double)c;
    /* ogg: rate = randint over range(-1, 8), sox's -C Vorbis quality; Opus gets the same draw.
     * libsndfile's compression level runs the other way (0 best, 1 smallest). */
    double compression = -1;
    if (c == NC_CODEC_OGG || c == NC_CODEC_OPUS) {
        const int q = -1 + (int)floor(nc_rng_double(rng) * 9);
        compression = 1.0 - (double)(q + 1) / 9.0;
    }
    const int64_t n = a->n_samples;
    if (n == 0) return NC_OK;
    /* att_factor 0.8: NeMo scales loud audio down to 0.8 peak (and leaves it there) against clipping */
    float peak = 0;
    for (int64_t i = 0; i < n; i++) peak = fabsf(a->samples[i]) > peak ? fabsf(a->samples[i]) : peak;
    if (peak > 0.8f)
        for (int64_t i = 0; i < n; i++) a->samples[i] *= 0.8f / peak;
    const int sr = a->sample_rate;
    const int rate = c <= NC_CODEC_MULAW ? 8000 : c == NC_CODEC_OPUS && !opus_rate(sr) ? 16000 : sr;
    float *x = nc_malloc((size_t)n * sizeof *x);
    if (!x) return nc_error(NC_ERR_OOM, "transcode (%lld)", (long long)n);
    memcpy(x, a->samples, (size_t)n * sizeof *x);
    if (c == NC_CODEC_G711) telephone_band(x, n, sr);
    nc_status s = via_rate(a, x, rate, codec_format(c), compression);
    nc_free(x);
    if (s) return nc_error_prefix(s, "transcode perturbation (%s)", CODEC_NAMES[c]);
    return NC_OK;
}
