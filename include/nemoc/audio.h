/* Audio files: decode, mono mix-down, resample, segment reads, WAV writes.
 *
 * Decoding goes through libsndfile (WAV/RF64/W64 PCM 8/16/24/32-bit and
 * float, FLAC, OGG Vorbis, Opus, MP3 and the other formats this libsndfile
 * build lists). Samples come back as float32 exactly as Python's soundfile
 * returns them with dtype='float32' (libsndfile's normalised float read:
 * 16-bit PCM is divided by 2^15, 24/32-bit by 2^31, 8-bit by 2^7), so values
 * of integer formats lie in [-1, 1).
 *
 * The semantics follow NeMo's AudioSegment.from_file
 * (nemo/collections/asr/parts/preprocessing/segment.py): seek to
 * int(offset * sr), read int(duration * sr) frames, average the channels
 * (channel_selector='average'), then resample to the target rate. NeMo
 * resamples with librosa, whose default is soxr 'HQ'; nemoc calls libsoxr
 * directly with SOXR_HQ (20-bit precision, linear phase, 91.3% passband) and
 * returns ceil(n * out_sr / in_sr) samples, as librosa.resample(fix=True). */
#ifndef NEMOC_AUDIO_H
#define NEMOC_AUDIO_H

#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sample rates a file may declare; others are refused as corrupt headers. */
#define NC_AUDIO_MIN_RATE 1000
#define NC_AUDIO_MAX_RATE 768000

/* A mono signal. `samples` is nc_malloc'd and owned; free with nc_audio_free. */
typedef struct nc_audio {
    float *samples;  /* (n_samples,) */
    int64_t n_samples;
    int sample_rate;
    /* The file's rate before nc_audio_read resampled it (NeMo's AudioSegment.orig_sr,
     * which RirAndNoisePerturbation picks its noise set by); 0: not known, take sample_rate. */
    int orig_sample_rate;
} nc_audio;

void nc_audio_free(nc_audio *a); /* frees samples and zeroes the struct */

/* What the file holds, without decoding it. */
typedef struct nc_audio_info {
    int64_t frames;      /* per channel; an estimate for some MP3 files */
    int sample_rate;
    int channels;
    int sf_format;       /* libsndfile SF_FORMAT_* major|subtype */
    double duration;     /* frames / sample_rate, seconds */
} nc_audio_info;

nc_status nc_audio_probe(const char *path, nc_audio_info *info);

typedef struct nc_audio_read_params {
    int target_sr;       /* 0: keep the file's rate */
    double offset;       /* seconds from the start; NeMo's manifest `offset` */
    double duration;     /* seconds to read; 0 reads to the end (manifest `duration`) */
    int channel;         /* -1: mean of all channels (NeMo 'average'); k: channel k only */
    /* A segment may end this many seconds past the end of the file before it is an
     * error (manifests round durations; soundfile then returns what there is). */
    double end_tolerance;
} nc_audio_read_params;

/* target_sr 0, offset 0, duration 0, channel -1, end_tolerance 0.01 s. */
nc_audio_read_params nc_audio_read_default_params(void);

/* Decodes `path` (or the [offset, offset+duration) segment of it, found by
 * seeking, so only that part is decoded) into a mono float signal. Errors name
 * the path: missing file (NC_ERR_NOT_FOUND), empty or undecodable file
 * (NC_ERR_FORMAT), a segment past the end (NC_ERR_INVALID_ARG, with the
 * requested and available durations). */
nc_status nc_audio_read(const char *path, const nc_audio_read_params *p, nc_audio *out);

/* Resamples a mono signal from in_sr to out_sr with libsoxr SOXR_HQ into a new
 * nc_malloc'd buffer of ceil(n * out_sr / in_sr) samples (*out_n). Equal rates
 * copy. */
nc_status nc_audio_resample(const float *in, int64_t n, double in_sr, double out_sr, float **out,
                            int64_t *out_n);

typedef enum nc_wav_format {
    NC_WAV_PCM16 = 0, /* 16-bit PCM, x * 32768 clipped to [-32768, 32767] (libsndfile's clipping
                       * conversion); values on the 1/32768 grid are written exactly */
    NC_WAV_FLOAT = 1, /* 32-bit IEEE float */
} nc_wav_format;

/* Writes interleaved samples (n_frames * channels floats) as a WAV file,
 * atomically (temp file + rename): `path` is either the old file or the new. */
nc_status nc_audio_write_wav(const char *path, const float *samples, int64_t n_frames,
                             int channels, int sample_rate, nc_wav_format fmt);

#ifdef __cplusplus
}
#endif
#endif
