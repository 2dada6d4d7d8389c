/* Log-mel features exactly as NeMo's AudioToMelSpectrogramPreprocessor ->
 * FilterbankFeatures (nemo/collections/asr/modules/audio_preprocessing.py,
 * nemo/collections/asr/parts/preprocessing/features.py).
 *
 * Forward, per utterance of `len` samples in a zero-padded batch (B, T):
 *   seq_len = floor((len + 2*pad - n_fft) / hop)   (pad = n_fft/2, or
 *             (n_fft-hop)/2 with exact_pad; len 0 -> 0)
 *   [exact_pad: zero-pad (n_fft-hop)/2 samples on both sides]
 *   [training: x += dither * randn_like(x)]     (x the (B, T) or exact-padded batch,
 *                                                 drawn in torch's order from an nc_rng)
 *   [preemph:  y[0] = x[0], y[t] = x[t] - preemph*x[t-1]; samples at index
 *              >= len of the (padded) signal set to 0]
 *   STFT: window(win_length, periodic=False) zero-padded to n_fft, centred;
 *         center=True with zero padding n_fft/2 (center=False with exact_pad)
 *   |X|^mag_power -> Slaney mel filterbank (librosa.filters.mel, htk=False,
 *   norm=mel_norm) -> log(x + guard) or log(max(x, guard))
 *   -> frame_splicing -> normalize -> frames >= seq_len set to pad_value
 *   -> time axis right-padded with pad_value to a multiple of pad_to.
 *
 * Output (B, features * frame_splicing, T') and lengths seq_len (B,).
 * FFTs use FFTW single precision; plans are made once per featurizer. A
 * featurizer is read-only after creation: one can serve many threads. */
#ifndef NEMOC_FEATURES_H
#define NEMOC_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/rng.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_window_type {
    NC_WINDOW_HANN = 0, /* torch.hann_window(periodic=False) */
    NC_WINDOW_HAMMING,
    NC_WINDOW_BLACKMAN,
    NC_WINDOW_BARTLETT,
    NC_WINDOW_ONES,     /* rectangular */
} nc_window_type;

typedef enum nc_feature_normalize {
    NC_NORMALIZE_PER_FEATURE = 0, /* per utterance and mel bin over valid frames, std with N-1 */
    NC_NORMALIZE_ALL_FEATURES,    /* per utterance over all bins and valid frames */
    NC_NORMALIZE_NONE,            /* NeMo "NA", null, or any other string */
} nc_feature_normalize;

typedef enum nc_log_guard {
    NC_LOG_GUARD_ADD = 0, /* log(x + v) */
    NC_LOG_GUARD_CLAMP,   /* log(max(x, v)) */
} nc_log_guard;

typedef enum nc_mel_norm {
    NC_MEL_NORM_SLANEY = 0, /* area normalisation 2/(f[m+2]-f[m]) */
    NC_MEL_NORM_NONE,
} nc_mel_norm;

/* pad_to value meaning NeMo's pad_to: "max" (pad to the frames of max_duration). */
#define NC_PAD_TO_MAX (-1)

/* Field names are the AudioToMelSpectrogramPreprocessor keys; the defaults
 * (nc_feature_default_config) are that class's defaults. */
typedef struct nc_feature_config {
    int64_t sample_rate;        /* 16000 */
    double window_size;         /* 0.02 s; 0 = null (use n_window_size) */
    double window_stride;       /* 0.01 s; 0 = null (use n_window_stride) */
    int64_t n_window_size;      /* 0 = null; window_size * sample_rate otherwise */
    int64_t n_window_stride;    /* 0 = null */
    nc_window_type window;      /* hann */
    nc_feature_normalize normalize; /* per_feature */
    int64_t n_fft;              /* 0 = null: 2^ceil(log2(n_window_size)) */
    double preemph;             /* 0.97; NAN = null (off). 0.0 is NOT off: it still zeroes the padding */
    int64_t features;           /* 64 mel bins (FilterbankFeatures calls it nfilt) */
    double lowfreq;             /* 0 Hz */
    double highfreq;            /* 0 = null: sample_rate / 2 */
    bool log;                   /* true */
    nc_log_guard log_zero_guard_type; /* add */
    double log_zero_guard_value;      /* 2^-24; "tiny" = FLT_MIN, "eps" = FLT_EPSILON */
    double dither;              /* 1e-5, applied only when training */
    int64_t pad_to;             /* 16; 0 = none; NC_PAD_TO_MAX = "max" */
    double max_duration;        /* 16.7 s, FilterbankFeatures' bound used by pad_to "max" */
    double pad_value;           /* 0 */
    int64_t frame_splicing;     /* 1 */
    bool exact_pad;             /* false */
    double mag_power;           /* 2.0 (power spectrum); 1.0 = magnitude */
    nc_mel_norm mel_norm;       /* slaney */
} nc_feature_config;

nc_feature_config nc_feature_default_config(void);

/* Sets one key from its text form, accepting NeMo/YAML spellings: numbers,
 * null/None/~ (and false for window_size/window_stride, as TTS configs write),
 * true/false, "tiny"/"eps" for log_zero_guard_value, "max" for pad_to, "NA"
 * for normalize. `nfilt` is accepted as an alias of `features`. Unknown keys
 * and bad values are NC_ERR_CONFIG naming the key. */
nc_status nc_feature_config_set(nc_feature_config *c, const char *key, const char *value);

/* The keys with their defaults and meaning, for --help. Terminated by key NULL. */
typedef struct nc_feature_key_doc {
    const char *key;
    const char *default_value;
    const char *help;
} nc_feature_key_doc;
const nc_feature_key_doc *nc_feature_config_keys(void);

typedef struct nc_featurizer nc_featurizer;

/* Validates the config as NeMo's constructors do and builds the window,
 * filterbank and FFT plan. */
nc_status nc_featurizer_create(const nc_feature_config *cfg, nc_featurizer **out);
void nc_featurizer_free(nc_featurizer *f);

/* The config with window sizes, n_fft and highfreq resolved. */
const nc_feature_config *nc_featurizer_config(const nc_featurizer *f);
int64_t nc_featurizer_win_length(const nc_featurizer *f);
int64_t nc_featurizer_hop_length(const nc_featurizer *f);
int64_t nc_featurizer_n_fft(const nc_featurizer *f);
/* Rows of the output: features * frame_splicing. */
int64_t nc_featurizer_n_features(const nc_featurizer *f);
/* get_seq_len: valid feature frames for `n_samples` samples. */
int64_t nc_featurizer_seq_len(const nc_featurizer *f, int64_t n_samples);
/* Output time width T' for a batch padded to T samples (after pad_to). */
int64_t nc_featurizer_out_frames(const nc_featurizer *f, int64_t T);

/* The two state_dict buffers, as read-only views into the featurizer:
 * preprocessor.featurizer.window (win_length,) and
 * preprocessor.featurizer.fb (1, features, n_fft/2+1). Named with those keys. */
void nc_featurizer_buffers(const nc_featurizer *f, nc_tensor *window, nc_tensor *fb);

/* Computes features of a padded batch.
 *   x       (B, T)    float32 samples, zero beyond each length
 *   lengths (B,)      samples per utterance, 0 <= lengths[b] <= T
 *   out     (B, F, T') with F = nc_featurizer_n_features, T' = nc_featurizer_out_frames(T)
 *   out_lengths (B,)  seq_len per utterance
 * `training` enables dither, drawn from `rng` as torch.randn_like over the
 * (B, T) (or exact-padded) batch; rng may be NULL when not training or dither
 * is 0. Threads over utterances x frames with OpenMP. */
nc_status nc_featurizer_compute(const nc_featurizer *f, const float *x, const int64_t *lengths, int64_t B,
                                int64_t T, bool training, nc_rng *rng, float *out, int64_t *out_lengths);
/* Checks one utterance's features (F, T) over its first `len` frames: an
 * NC_ERR_NUMERIC naming the first non-finite value and the largest sample
 * magnitude of x[0..n) when one is NaN/Inf. Finite samples can still overflow
 * float32 in the power spectrum (float WAV files holding +-3e38). */
nc_status nc_features_check_finite(const float *feats, int64_t F, int64_t T, int64_t len, const float *x, int64_t n);

/* Tensor form: audio (B, T) f32, lengths (B,) i64 -> new heap tensors
 * feats (B, F, T') f32 and feat_lengths (B,) i64 (free with nc_tensor_free). */
nc_status nc_featurizer_forward(const nc_featurizer *f, const nc_tensor *audio, const nc_tensor *lengths,
                                bool training, nc_rng *rng, nc_tensor **feats, nc_tensor **feat_lengths);

#ifdef __cplusplus
}
#endif
#endif
