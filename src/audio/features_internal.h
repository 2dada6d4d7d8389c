/* The featurizer struct and helpers shared by the feature files. Not public. */
#ifndef NC_AUDIO_FEATURES_INTERNAL_H
#define NC_AUDIO_FEATURES_INTERNAL_H

#include <fftw3.h>

#include "nemoc/features.h"

/* Nonzero span [start, end) of one filterbank row over the FFT bins. */
typedef struct nc_mel_span {
    int64_t start, end;
} nc_mel_span;

struct nc_featurizer {
    nc_feature_config cfg;  /* resolved: n_window_size/stride, n_fft, highfreq set */
    int64_t win, hop, n_fft, n_bins, n_mels;
    int64_t win_left;       /* offset of the window inside the n_fft frame (torch.stft centring) */
    int64_t stft_pad;       /* padding per side in get_seq_len: n_fft/2, or (n_fft-hop)/2 with exact_pad */
    int64_t exact_pad;      /* explicit zeros per side before the STFT: (n_fft-hop)/2 or 0 */
    int64_t center_pad;     /* torch.stft center=True padding: n_fft/2, or 0 with exact_pad */
    int64_t max_length;     /* frames for pad_to "max" */
    float guard;            /* log zero guard value as float32 */
    float *window;          /* (win,) */
    float *fb;              /* (n_mels, n_bins), the state_dict buffer without its leading 1 */
    nc_mel_span *spans;     /* (n_mels,) */
    fftwf_plan plan;        /* r2c of n_fft, executed with per-thread arrays (new-array execute) */
};

/* Resolves window sizes, n_fft and highfreq and checks the config the way
 * AudioToMelSpectrogramPreprocessor and FilterbankFeatures do. */
nc_status nc_feature_config_resolve(const nc_feature_config *in, nc_feature_config *out);

/* torch.{hann,hamming,blackman,bartlett}_window(n, periodic=False), or ones. */
void nc_feature_window(nc_window_type type, int64_t n, float *w);

/* librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm) into
 * fb (n_mels, n_fft/2+1), float32 as librosa returns it. */
nc_status nc_feature_mel_filterbank(double sr, int64_t n_fft, int64_t n_mels, double fmin, double fmax,
                                    nc_mel_norm norm, float *fb);

#endif
