/* Audio files and sample-rate conversion.
 *
 * Reading goes through libsndfile (WAV, FLAC, OGG, ... any format it knows),
 * mixing channels down to mono; writing produces the 16-bit PCM WAV files
 * NeMo manifests usually point at. Resampling uses libsoxr's high-quality
 * (SOXR_HQ) filter, the converter behind `sox rate`, which NeMo's tooling
 * (sox/librosa/torchaudio) also relies on. */
#ifndef NEMOC_AUDIO_IO_H
#define NEMOC_AUDIO_IO_H

#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mono float samples in [-1, 1] at a sample rate. */
typedef struct nc_audio {
    float *samples; /* (n,) nc_malloc'd */
    int64_t n;
    int sample_rate;
} nc_audio;

/* Reads a whole file as mono float (channels averaged). An empty file gives
 * n == 0 and samples == NULL. */
nc_status nc_audio_read(const char *path, nc_audio *out);
/* Writes mono 16-bit PCM WAV. Samples outside [-1, 1] are clipped; the
 * float -> int16 conversion rounds to nearest (libsndfile's scaling by
 * 32767 with SFC_SET_CLIPPING). */
nc_status nc_audio_write_wav16(const char *path, const float *samples, int64_t n, int sample_rate);
void nc_audio_free(nc_audio *a);

/* Converts `in` (n_in samples at in_rate) to out_rate with libsoxr (HQ).
 * Rates may be fractional: reading 16 kHz audio as if it were 17.6 kHz and
 * converting to 16 kHz is a 1.1x speed perturbation. *out is nc_malloc'd
 * with *n_out = round(n_in * out_rate / in_rate) samples (libsoxr's one-shot
 * length); equal rates copy. */
nc_status nc_audio_resample(const float *in, int64_t n_in, double in_rate, double out_rate,
                            float **out, int64_t *n_out);

/* Adds white Gaussian noise so that 10*log10(P_signal / P_noise) == snr_db
 * exactly, P being the mean square over the whole clip (the realised noise is
 * rescaled to the target power, so short clips hit the SNR too). Noise draws
 * come from an mt19937 seeded with `seed`: same seed, same noise. A silent
 * clip is left unchanged. Works in place. */
nc_status nc_audio_add_white_noise(float *x, int64_t n, double snr_db, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
