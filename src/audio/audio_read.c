/* Decoding audio files through libsndfile, the way NeMo's
 * AudioSegment.from_file does through soundfile
 * (nemo/collections/asr/parts/preprocessing/segment.py): seek to
 * int(offset * sr), read int(duration * sr) frames as normalised float32,
 * average the channels, resample. Only the requested segment is decoded. */
#include "nemoc/audio.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/fileutil.h"

#include "nemoc/alloc.h"

/* Samples decoded per sf_readf_float call (all channels together): bounds
 * the interleaved scratch buffer for many-channel files. */
#define READ_CHUNK 65536

void nc_audio_free(nc_audio *a) {
    if (!a) return;
    nc_free(a->samples);
    a->samples = NULL;
    a->n_samples = 0;
    a->sample_rate = 0;
}

nc_audio_read_params nc_audio_read_default_params(void) {
    return (nc_audio_read_params){
        .target_sr = 0,
        .offset = 0.0,
        .duration = 0.0,
        .channel = -1,
        .end_tolerance = 0.01,
    };
}

/* Opens `path` as a non-empty regular file (a FIFO, device or folder is
 * refused before libsndfile sees it: it would block or read forever), with
 * a message that says which of those it is not; *fd is then libsndfile's. */
static nc_status open_checked(const char *path, int *fd) {
    int64_t size;
    nc_status s = nc_open_read(path, "audio file", fd, &size);
    if (s == NC_ERR_NOT_FOUND) return nc_error(NC_ERR_NOT_FOUND, "audio file '%s' does not exist", path);
    if (s) return s;
    if (size == 0) {
        close(*fd);
        return nc_error(NC_ERR_FORMAT, "audio file '%s' is empty (0 bytes)", path);
    }
    return NC_OK;
}

static nc_status open_file(const char *path, SNDFILE **sf, SF_INFO *info) {
    int fd;
    nc_status s = open_checked(path, &fd);
    if (s) return s;
    memset(info, 0, sizeof *info);
    *sf = sf_open_fd(fd, SFM_READ, info, 1); /* closes fd, also on failure */
    if (!*sf)
        return nc_error(NC_ERR_FORMAT, "cannot decode audio file '%s': %s", path, sf_strerror(NULL));
    /* A header saying 1 Hz makes a few KB of samples last hours, and resampling
     * them to 16 kHz would take minutes and gigabytes (found by fuzzing):
     * rates outside NC_AUDIO_MIN_RATE..NC_AUDIO_MAX_RATE mean a damaged file. */
    if (info->channels <= 0 || info->samplerate < NC_AUDIO_MIN_RATE || info->samplerate > NC_AUDIO_MAX_RATE) {
        sf_close(*sf);
        *sf = NULL;
        return nc_error(NC_ERR_FORMAT, "audio file '%s' has %d channels at %d Hz (corrupt header?)", path,
                        info->channels, info->samplerate);
    }
    if (info->frames <= 0) {
        sf_close(*sf);
        *sf = NULL;
        return nc_error(NC_ERR_FORMAT, "audio file '%s' contains no audio samples", path);
    }
    return NC_OK;
}

nc_status nc_audio_probe(const char *path, nc_audio_info *info) {
    if (!path || !info) return nc_error(NC_ERR_INVALID_ARG, "nc_audio_probe: NULL argument");
    SNDFILE *sf;
    SF_INFO si;
    nc_status s = open_file(path, &sf, &si);
    if (s) return s;
    sf_close(sf);
    *info = (nc_audio_info){
        .frames = (int64_t)si.frames,
        .sample_rate = si.samplerate,
        .channels = si.channels,
        .sf_format = si.format,
        .duration = (double)si.frames / si.samplerate,
    };
    return NC_OK;
}

/* Reads up to n frames from the current position, mixing channels down
 * (mean, as np.mean(signal, axis=-1) in float32) or picking one, into *out,
 * which holds *cap frames and grows as frames actually arrive: a damaged
 * header can claim any length, and must not decide how much is allocated.
 * Returns frames read, or -1 when growing fails. */
static int64_t read_mono(SNDFILE *sf, int channels, int channel, int64_t n, float **outp, int64_t *cap,
                         float *chunk) {
    int64_t done = 0;
    /* The scratch buffer holds READ_CHUNK samples (or one frame of a file with more channels). */
    const int64_t per_read = channels > 1 ? (READ_CHUNK / channels > 0 ? READ_CHUNK / channels : 1) : READ_CHUNK;
    while (done < n) {
        int64_t want = n - done < per_read ? n - done : per_read;
        if (done + want > *cap) {
            int64_t nc = *cap * 2 > done + want ? *cap * 2 : done + want;
            if (nc > n) nc = n;
            float *grown = nc_malloc((size_t)nc * sizeof(float));
            if (!grown) return -1;
            if (done) memcpy(grown, *outp, (size_t)done * sizeof(float));
            nc_free(*outp);
            *outp = grown;
            *cap = nc;
        }
        float *out = *outp;
        float *dst = channels == 1 ? out + done : chunk;
        sf_count_t got = sf_readf_float(sf, dst, (sf_count_t)want);
        if (got <= 0) break;
        if (channels > 1) {
            if (channel >= 0) {
                for (sf_count_t i = 0; i < got; i++) out[done + i] = chunk[i * channels + channel];
            } else {
                const float n_ch = (float)channels;
                for (sf_count_t i = 0; i < got; i++) {
                    float acc = 0.0f;
                    for (int c = 0; c < channels; c++) acc += chunk[i * channels + c];
                    out[done + i] = acc / n_ch;
                }
            }
        }
        done += got;
    }
    return done;
}

static nc_status check_params(const char *path, const nc_audio_read_params *p) {
    if (!path) return nc_error(NC_ERR_INVALID_ARG, "nc_audio_read: NULL path");
    if (!(p->offset >= 0.0) || !isfinite(p->offset))
        return nc_error(NC_ERR_INVALID_ARG, "'%s': offset %g s must be finite and >= 0", path, p->offset);
    if (!(p->duration >= 0.0) || !isfinite(p->duration))
        return nc_error(NC_ERR_INVALID_ARG, "'%s': duration %g s must be finite and >= 0", path, p->duration);
    if (p->target_sr < 0 || (p->target_sr > 0 && (p->target_sr < NC_AUDIO_MIN_RATE || p->target_sr > NC_AUDIO_MAX_RATE)))
        return nc_error(NC_ERR_INVALID_ARG, "'%s': target sample rate %d Hz (use 0, or %d..%d)", path, p->target_sr,
                        NC_AUDIO_MIN_RATE, NC_AUDIO_MAX_RATE);
    if (p->channel < -1) return nc_error(NC_ERR_INVALID_ARG, "'%s': channel %d (use -1 to average)", path, p->channel);
    if (!(p->end_tolerance >= 0.0) || !isfinite(p->end_tolerance))
        return nc_error(NC_ERR_INVALID_ARG, "'%s': end_tolerance %g s must be >= 0", path, p->end_tolerance);
    return NC_OK;
}

nc_status nc_audio_read(const char *path, const nc_audio_read_params *params, nc_audio *out) {
    if (!out) return nc_error(NC_ERR_INVALID_ARG, "nc_audio_read: NULL output");
    *out = (nc_audio){0};
    nc_audio_read_params p = params ? *params : nc_audio_read_default_params();
    nc_status s = check_params(path, &p);
    if (s) return s;

    SNDFILE *sf;
    SF_INFO info;
    s = open_file(path, &sf, &info);
    if (s) return s;
    const int sr = info.samplerate, ch = info.channels;
    const int64_t frames = (int64_t)info.frames;
    const double file_dur = (double)frames / sr;
    if (p.channel >= ch) {
        sf_close(sf);
        return nc_error(NC_ERR_INVALID_ARG, "'%s' has %d channel(s); cannot select channel %d", path, ch, p.channel);
    }

    /* soundfile: f.seek(int(offset * sr)); f.read(int(duration * sr)). The
     * products are compared as doubles first: an offset of 1e308 s from a
     * manifest does not fit an int64 (the cast would be undefined). */
    if (!(p.offset * sr < (double)frames)) {
        sf_close(sf);
        return nc_error(NC_ERR_INVALID_ARG,
                        "segment of '%s' starts at offset %g s, beyond the end of the file (%.3f s)", path,
                        p.offset, file_dur);
    }
    const int64_t start = (int64_t)(p.offset * sr);
    if (start >= frames) {
        sf_close(sf);
        return nc_error(NC_ERR_INVALID_ARG,
                        "segment of '%s' starts at offset %.3f s, beyond the end of the file (%.3f s)", path,
                        p.offset, file_dur);
    }
    int64_t want = frames - start;
    if (p.duration > 0) {
        const double slack_d = ceil(p.end_tolerance * sr);
        const bool too_long = !(p.duration * sr <= (double)want + slack_d);
        const int64_t req = too_long ? 0 : (int64_t)(p.duration * sr);
        const int64_t slack = too_long ? 0 : (int64_t)slack_d;
        if (too_long || req > want + slack) {
            sf_close(sf);
            return nc_error(NC_ERR_INVALID_ARG,
                            "segment of '%s' runs past the end of the file: requested %.3f s at offset %.3f s, "
                            "available %.3f s (file is %.3f s)",
                            path, p.duration, p.offset, (double)want / sr, file_dur);
        }
        if (req < want) want = req;
    }
    if (want <= 0) {
        sf_close(sf);
        return nc_error(NC_ERR_INVALID_ARG, "segment of '%s' at offset %.3f s with duration %.3f s is empty", path,
                        p.offset, p.duration);
    }
    if (start > 0 && sf_seek(sf, (sf_count_t)start, SEEK_SET) < 0) {
        nc_status e = nc_error(NC_ERR_FORMAT, "cannot seek to %.3f s in '%s': %s", p.offset, path, sf_strerror(sf));
        sf_close(sf);
        return e;
    }

    /* Start with up to 2^22 frames (16 MB); read_mono grows the buffer. */
    int64_t cap = want < ((int64_t)1 << 22) ? want : ((int64_t)1 << 22);
    float *mono = nc_malloc((size_t)cap * sizeof(float));
    float *chunk = ch > 1 ? nc_malloc((size_t)(ch > READ_CHUNK ? ch : READ_CHUNK) * sizeof(float)) : NULL;
    if (!mono || (ch > 1 && !chunk)) {
        nc_free(mono);
        nc_free(chunk);
        sf_close(sf);
        return nc_error(NC_ERR_OOM, "decoding %lld frames of '%s'", (long long)want, path);
    }
    const int64_t got = read_mono(sf, ch, p.channel, want, &mono, &cap, chunk);
    nc_free(chunk);
    if (got < 0) {
        nc_free(mono);
        sf_close(sf);
        return nc_error(NC_ERR_OOM, "decoding %lld frames of '%s'", (long long)want, path);
    }
    const int err = sf_error(sf);
    char errmsg[256];
    snprintf(errmsg, sizeof errmsg, "%s", sf_strerror(sf));
    sf_close(sf);
    /* A short read inside the tolerance is what soundfile gives for headers that
     * overstate the length (and MP3 length estimates); anything more is damage. */
    const int64_t slack = (int64_t)ceil(p.end_tolerance * sr);
    if ((err != SF_ERR_NO_ERROR && got < want) || got <= 0 || got + slack < want) {
        nc_free(mono);
        return nc_error(NC_ERR_FORMAT, "audio file '%s' is truncated or corrupt: decoded %lld of %lld frames%s%s",
                        path, (long long)got, (long long)want, err ? ": " : "", err ? errmsg : "");
    }

    if (p.target_sr > 0 && p.target_sr != sr) {
        float *rs;
        int64_t n_rs;
        s = nc_audio_resample(mono, got, sr, p.target_sr, &rs, &n_rs);
        nc_free(mono);
        if (s) return nc_error_prefix(s, "resampling '%s'", path);
        *out = (nc_audio){.samples = rs, .n_samples = n_rs, .sample_rate = p.target_sr, .orig_sample_rate = sr};
        return NC_OK;
    }
    *out = (nc_audio){.samples = mono, .n_samples = got, .sample_rate = sr, .orig_sample_rate = sr};
    return NC_OK;
}
