/* Data augmentation for speech, driven by an nc_rng so a seed reproduces it.
 *
 * Spectrogram side: NeMo's SpectrogramAugmentation
 * (nemo/collections/asr/modules/audio_preprocessing.py) = SpecCutout then
 * SpecAugment (nemo/collections/asr/parts/submodules/spectr_augment.py).
 * The default, vectorised SpecAugment draws torch.rand exactly as NeMo does,
 * so with the same seed the masks equal NeMo's (torch global RNG).
 *
 * Waveform side: NeMo's perturbations
 * (nemo/collections/asr/parts/preprocessing/perturb.py): SpeedPerturbation,
 * GainPerturbation, WhiteNoisePerturbation, NoisePerturbation, ShiftPerturbation,
 * ImpulsePerturbation, TimeStretchPerturbation, TranscodePerturbation,
 * RirAndNoisePerturbation, plus white noise at an SNR, band-limiting and
 * vocal tract length perturbation (nemoc's), and the AudioAugmentor pipeline
 * (each step applied with its probability, in order). NeMo draws these from
 * Python's `random`; nemoc draws them from the nc_rng (same distributions, not
 * the same numbers). Simulated RIRs for the RIR steps: nemoc/rir.h. */
#ifndef NEMOC_AUGMENT_H
#define NEMOC_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/audio.h"
#include "nemoc/rng.h"
#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- spectrogram augmentation ---------------------------------------------------------- */

/* Keys and defaults of SpectrogramAugmentation. */
typedef struct nc_spec_augment_config {
    int64_t freq_masks;       /* 0 */
    int64_t time_masks;       /* 0 */
    int64_t freq_width;       /* 10 bins (maximum mask width) */
    double time_width;        /* 10 frames, or a fraction of each utterance's length */
    bool time_width_is_fraction; /* NeMo: isinstance(time_width, float) */
    int64_t rect_masks;       /* 0 (SpecCutout) */
    int64_t rect_time;        /* 5 */
    int64_t rect_freq;        /* 20 */
    float mask_value;         /* 0.0 */
    bool use_vectorized_spec_augment; /* true; false = the legacy per-mask loop */
} nc_spec_augment_config;

nc_spec_augment_config nc_spec_augment_default_config(void);
/* key=value with NeMo's keys; time_width "0.05" (has '.' or 'e') is a fraction,
 * "10" frames. Unknown keys and bad values are NC_ERR_CONFIG. */
nc_status nc_spec_augment_config_set(nc_spec_augment_config *c, const char *key, const char *value);

/* Augments spec (B, F, T) in place; lengths (B,) are valid frames. Training only. */
nc_status nc_spec_augment(const nc_spec_augment_config *c, float *spec, int64_t B, int64_t F, int64_t T,
                          const int64_t *lengths, nc_rng *rng);

/* ---- waveform perturbations ------------------------------------------------------------- */

/* SpeedPerturbation: resample from sr to int(sr * rate) and keep calling it sr,
 * so the signal gets rate times longer (and lower). rate is one of
 * linspace(min, max, num_rates) (num_rates > 0; 1.0 leaves the audio alone) or
 * uniform in [min, max] (num_rates <= 0). Resampling: soxr HQ. */
typedef struct nc_speed_perturb {
    double min_speed_rate; /* 0.9 */
    double max_speed_rate; /* 1.1 */
    int num_rates;         /* 5 */
} nc_speed_perturb;

/* GainPerturbation: gain ~ U[min, max] dB. */
typedef struct nc_gain_perturb {
    double min_gain_dbfs; /* -10 */
    double max_gain_dbfs; /* 10 */
} nc_gain_perturb;

/* WhiteNoisePerturbation: level ~ randint(min_level, max_level) dB (upper
 * bound exclusive, as np.random.randint); adds randn * 10^(level/20). */
typedef struct nc_white_noise_perturb {
    int min_level; /* -90 */
    int max_level; /* -46 */
} nc_white_noise_perturb;

/* White noise at snr ~ U[min, max] dB relative to the signal's mean power. */
typedef struct nc_white_noise_snr_perturb {
    double min_snr_db;
    double max_snr_db;
} nc_white_noise_snr_perturb;

/* Noise files for NoisePerturbation, from a JSONL manifest whose lines hold
 * audio_filepath (or audio_filename), duration and optional offset (seconds).
 * Relative paths are looked up next to the manifest first; a file that is not
 * there is an error naming the manifest line and the path. Also the RIR
 * manifests of ImpulsePerturbation. */
typedef struct nc_noise_set nc_noise_set;
nc_status nc_noise_set_load(const char *manifest_path, nc_noise_set **out);
/* Sets are reference-counted: retain adds a holder (returns s), free drops one
 * and frees with the last. Thread-safe. */
nc_noise_set *nc_noise_set_retain(const nc_noise_set *s);
void nc_noise_set_free(nc_noise_set *s);
int64_t nc_noise_set_size(const nc_noise_set *s);

/* NoisePerturbation: pick a noise entry uniformly, read it at the audio's rate,
 * snr ~ U[min_snr_db, max_snr_db], take a random segment as long as the audio
 * (start ~ U[0, noise_dur - audio_dur]), scale it by
 * min(rms_db(audio) - rms_db(segment) - snr, max_gain_db) dB and add it; a
 * noise shorter than the audio is added at a random position. One deviation
 * from NeMo: the noise level is measured on the segment that is mixed in, not
 * on the whole noise file, so the mixed SNR is the drawn one even for noise
 * whose level varies. */
typedef struct nc_noise_perturb {
    const nc_noise_set *noise;
    double min_snr_db;  /* 10 */
    double max_snr_db;  /* 50 */
    double max_gain_db; /* 300 */
} nc_noise_perturb;

/* TimeStretchPerturbation: tempo times rate at the same pitch (phase vocoder,
 * as NeMo's numba phase_vocoder on librosa's STFT); the audio becomes
 * round(n / rate) samples. rate as SpeedPerturbation draws it (num_rates < 0:
 * uniform; > 0: one of linspace; 0 is refused, NeMo fails on it too); 1.0
 * leaves the audio alone. n_fft (even) is doubled when slowing down. */
typedef struct nc_time_stretch_perturb {
    double min_speed_rate; /* 0.9 */
    double max_speed_rate; /* 1.1 */
    int num_rates;         /* 5 */
    int n_fft;             /* 512 */
} nc_time_stretch_perturb;

/* ShiftPerturbation: shift_ms ~ U[min, max]; the audio moves by
 * floor(shift_ms * sr / 1000) samples (positive: earlier), zero-filled, same
 * length; a shift longer than the audio leaves it alone (as NeMo). */
typedef struct nc_shift_perturb {
    double min_shift_ms; /* -5 */
    double max_shift_ms; /* 5 */
} nc_shift_perturb;

/* ImpulsePerturbation: convolve with a room impulse response picked uniformly
 * from a manifest (nc_noise_set_load: every file checked when loaded), read at
 * the audio's rate (RIRs at another rate are resampled), as
 * scipy.signal.fftconvolve(x, h, "full") through FFTW; then drop
 * argmax|h| samples when shift_impulse, keep the input's length and scale to
 * max |y| = 1. normalize_impulse first makes h zero-mean with max |h| = 1.
 * Silent input is left alone (as NeMo). */
typedef struct nc_impulse_perturb {
    const nc_noise_set *rirs;
    bool normalize_impulse; /* false */
    bool shift_impulse;     /* false */
} nc_impulse_perturb;

/* RirAndNoisePerturbation: with probability rir_prob convolve with an RIR of
 * `rirs` as ImpulsePerturbation(shift_impulse=True); note the level (rms dB)
 * then; with probability noise_prob add foreground noise: a file of the fg set
 * chosen by the audio's orig_sample_rate (the set with the largest orig_sr
 * when none matches, as NeMo's dict lookup), convolved with an RIR when
 * apply_noise_rir, snr ~ U[its min, max], gain from the whole file's level,
 * then randint(1, max_additions) pieces each U[0, max_duration] s long from
 * U[0, noise duration], added at uniform positions; with probability
 * bg_noise_prob add background noise from the bg set chosen the same way, as
 * NoisePerturbation does (its level measured on the segment, see above),
 * against the level noted after the RIR. NeMo keeps one perturber per
 * orig_sample_rate, so a later manifest of the same rate replaces an earlier
 * one; the config reader does the same. */
#define NC_RIR_NOISE_MAX_SETS 16
typedef struct nc_noise_source {
    const nc_noise_set *set;
    double min_snr_db, max_snr_db;
    int orig_sr; /* orig_sample_rate[i]; 16000 when the key is absent (NeMo) */
} nc_noise_source;

typedef struct nc_rir_noise_perturb {
    const nc_noise_set *rirs; /* rir_manifest_path (required) */
    double rir_prob;          /* 0.5 */
    nc_noise_source fg[NC_RIR_NOISE_MAX_SETS];
    int n_fg;                 /* 0: no foreground noise */
    double noise_prob;        /* 1.0 */
    bool apply_noise_rir;     /* false */
    int max_additions;        /* 5 */
    double max_duration;      /* 2.0 s */
    nc_noise_source bg[NC_RIR_NOISE_MAX_SETS];
    int n_bg;                 /* 0: no background noise */
    double bg_noise_prob;     /* 1.0 */
} nc_rir_noise_perturb;

/* Vocal tract length perturbation (Jaitly & Hinton, "Vocal Tract Length
 * Perturbation (VTLP) improves speech recognition", ICML WDLASL 2013): warp
 * factor alpha ~ U[min_warp, max_warp] per utterance; every frequency f of a
 * short-time spectrum moves to f' = alpha f up to the boundary
 * f_hi min(alpha, 1) / alpha, and on a straight line from there to the
 * Nyquist frequency, which stays put (the paper's warp). Applied to the
 * waveform: STFT (Hann window of n_fft, FFT zero-padded to 4 n_fft, hop
 * n_fft / 4) -> magnitudes read at the unwarped frequency, phases advanced at
 * the warped instantaneous frequency -> inverse STFT by weighted overlap-add,
 * same length. A tone at f comes out at f' (measured within 0.02 Hz) with its
 * amplitude times sqrt(df'/df) (a flat spectrum keeps its level); alpha = 1
 * returns the input (1.2e-7). nemoc's name (`vtlp`): NeMo has no such
 * perturbation. */
typedef struct nc_vtlp_perturb {
    double min_warp; /* 0.9 */
    double max_warp; /* 1.1 */
    double f_hi;     /* 4800 Hz */
    int n_fft;       /* 512 */
} nc_vtlp_perturb;

/* Band-limiting (nemoc's `resample` perturbation; NeMo's nearest is
 * TranscodePerturbation's g711 branch, which goes through 8 kHz): resample
 * sr -> target_sr -> sr with soxr HQ and keep the length, so everything above
 * target_sr / 2 is gone. */
typedef struct nc_resample_perturb {
    int target_sr; /* 8000 */
} nc_resample_perturb;

/* TranscodePerturbation's codecs, round-tripped in memory with libsndfile
 * (NeMo shells out to sox). NC_CODEC_G711 is NeMo's "g711" (sox's 300-3400 Hz
 * band-pass, then A-law at 8 kHz; 43 dB SNR from NeMo's own output),
 * NC_CODEC_MULAW G.711 mu-law at 8 kHz, NC_CODEC_OGG Ogg Vorbis at a quality
 * drawn from NeMo's sox -C range -1..7, NC_CODEC_OPUS Ogg Opus (at 16 kHz
 * when the audio's rate is not one Opus takes) at a drawn quality. */
typedef enum nc_codec { NC_CODEC_G711 = 0, NC_CODEC_MULAW, NC_CODEC_OGG, NC_CODEC_OPUS, NC_CODEC_COUNT } nc_codec;

/* Parses a codec name ("g711", "mulaw", "ogg", "opus") and checks that the
 * linked libsndfile can write it; NeMo's "amr-nb" and unknown names are
 * NC_ERR_CONFIG naming the codec. */
nc_status nc_codec_parse(const char *name, nc_codec *out);

typedef struct nc_transcode_perturb {
    nc_codec codecs[NC_CODEC_COUNT]; /* drawn uniformly; NeMo's default list minus amr-nb */
    int n_codecs;
} nc_transcode_perturb;

/* Each returns what it drew (rate, gain dB, level dB, SNR dB) through `drawn`
 * when not NULL. The audio is changed in place (speed replaces its buffer). */
nc_status nc_perturb_speed(const nc_speed_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_gain(const nc_gain_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_white_noise(const nc_white_noise_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_white_noise_snr(const nc_white_noise_snr_perturb *p, nc_audio *a, nc_rng *rng,
                                     double *drawn);
nc_status nc_perturb_noise(const nc_noise_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
/* drawn: shift ms, RIR index, codec index (nc_codec), target rate. */
nc_status nc_perturb_time_stretch(const nc_time_stretch_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_shift(const nc_shift_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_impulse(const nc_impulse_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_resample(const nc_resample_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_transcode(const nc_transcode_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
/* drawn: rir_noise_aug: what ran, 1 (RIR) + 2 (foreground) + 4 (background); vtlp: alpha. */
nc_status nc_perturb_rir_noise(const nc_rir_noise_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);
nc_status nc_perturb_vtlp(const nc_vtlp_perturb *p, nc_audio *a, nc_rng *rng, double *drawn);

/* Entry i of a noise/RIR set read at sample rate sr (its offset and duration applied). */
nc_status nc_noise_set_read(const nc_noise_set *s, int64_t i, int sr, nc_audio *out);

/* Mean power of a signal in dB (AudioSegment.rms_db: 10*log10(mean(x^2))). */
double nc_audio_rms_db(const float *x, int64_t n);

/* AudioAugmentor: steps run in order, each when U[0,1) < prob. */
typedef enum nc_perturb_kind {
    NC_PERTURB_SPEED = 0,
    NC_PERTURB_GAIN,
    NC_PERTURB_WHITE_NOISE,
    NC_PERTURB_WHITE_NOISE_SNR,
    NC_PERTURB_NOISE,
    NC_PERTURB_SHIFT,
    NC_PERTURB_IMPULSE,
    NC_PERTURB_RESAMPLE,
    NC_PERTURB_TRANSCODE,
    NC_PERTURB_TIME_STRETCH,
    NC_PERTURB_RIR_NOISE,
    NC_PERTURB_VTLP,
} nc_perturb_kind;

typedef struct nc_perturb_step {
    double prob;
    nc_perturb_kind kind;
    union {
        nc_speed_perturb speed;
        nc_gain_perturb gain;
        nc_white_noise_perturb white_noise;
        nc_white_noise_snr_perturb white_noise_snr;
        nc_noise_perturb noise;
        nc_shift_perturb shift;
        nc_impulse_perturb impulse;
        nc_resample_perturb resample;
        nc_transcode_perturb transcode;
        nc_time_stretch_perturb time_stretch;
        nc_rir_noise_perturb rir_noise;
        nc_vtlp_perturb vtlp;
    } u;
} nc_perturb_step;

nc_status nc_audio_augment(const nc_perturb_step *steps, int n_steps, nc_audio *a, nc_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
