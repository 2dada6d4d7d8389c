/* Audio file reading (any libsndfile format, downmixed to mono) and 16-bit
 * PCM WAV writing. */
#include <math.h>
#include <sndfile.h>
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/audio_io.h"

void nc_audio_free(nc_audio *a) {
    if (!a) return;
    nc_free(a->samples);
    a->samples = NULL;
    a->n = 0;
}

nc_status nc_audio_read(const char *path, nc_audio *out) {
    *out = (nc_audio){.samples = NULL};
    SF_INFO info = {.format = 0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) return nc_error(NC_ERR_IO, "cannot read audio '%s': %s", path, sf_strerror(NULL));
    if (info.channels < 1 || info.samplerate < 1) {
        sf_close(f);
        return nc_error(NC_ERR_FORMAT, "audio '%s': %d channels at %d Hz", path, info.channels,
                        info.samplerate);
    }
    int64_t frames = (int64_t)info.frames, ch = info.channels;
    out->sample_rate = info.samplerate;
    if (frames <= 0) {
        sf_close(f);
        return NC_OK;
    }
    float *buf = nc_malloc((size_t)(frames * ch) * sizeof(float));
    if (!buf) {
        sf_close(f);
        return nc_error(NC_ERR_OOM, "audio '%s': %lld frames x %lld channels", path,
                        (long long)frames, (long long)ch);
    }
    sf_count_t got = sf_readf_float(f, buf, (sf_count_t)frames);
    sf_close(f);
    if (got < 0) {
        nc_free(buf);
        return nc_error(NC_ERR_IO, "error reading audio '%s'", path);
    }
    frames = (int64_t)got; /* a truncated file (header longer than data) reads short */
    if (ch > 1) {
        /* Average channels in place: frame t's mean goes to index t < t*ch. */
        for (int64_t t = 0; t < frames; t++) {
            double s = 0;
            for (int64_t c = 0; c < ch; c++) s += buf[t * ch + c];
            buf[t] = (float)(s / (double)ch);
        }
    }
    out->samples = buf;
    out->n = frames;
    return NC_OK;
}

nc_status nc_audio_write_wav16(const char *path, const float *samples, int64_t n, int sample_rate) {
    if (sample_rate < 1 || n < 0)
        return nc_error(NC_ERR_INVALID_ARG, "write '%s': %lld samples at %d Hz", path, (long long)n,
                        sample_rate);
    SF_INFO info = {.samplerate = sample_rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return nc_error(NC_ERR_IO, "cannot create '%s': %s", path, sf_strerror(NULL));
    /* Convert in blocks ourselves so that rounding and clipping are explicit:
     * s = round(clip(x, -1, 1) * 32767), the scale libsndfile and soundfile use. */
    short block[4096];
    for (int64_t i = 0; i < n;) {
        int64_t m = n - i < 4096 ? n - i : 4096;
        for (int64_t j = 0; j < m; j++) {
            float x = samples[i + j];
            x = x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x);
            if (x != x) x = 0.0f; /* NaN would be undefined in lrintf */
            block[j] = (short)lrintf(x * 32767.0f);
        }
        if (sf_write_short(f, block, (sf_count_t)m) != (sf_count_t)m) {
            nc_status st = nc_error(NC_ERR_IO, "cannot write '%s': %s", path, sf_strerror(f));
            sf_close(f);
            return st;
        }
        i += m;
    }
    if (sf_close(f) != 0) return nc_error(NC_ERR_IO, "cannot close '%s'", path);
    return NC_OK;
}
