/* ASR data pipeline: NeMo manifests -> dataset -> sampler -> worker threads
 * (decode, resample, perturb, features, SpecAugment, tokenize) -> padded batch.
 *
 * Keys and semantics are NeMo's `model.train_ds` / `validation_ds` / `test_ds`
 * (nemo/collections/asr/data/audio_to_text_dataset.py, audio_to_text.py,
 * nemo/collections/common/parts/preprocessing/manifest.py); see
 * ../shared/reference/nemo-inventory.md §1, §2. */
#ifndef NEMOC_ASR_DATA_H
#define NEMOC_ASR_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/augment.h"
#include "nemoc/config.h"
#include "nemoc/features.h"
#include "nemoc/status.h"
#include "nemoc/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- manifests ---- */

typedef struct nc_manifest_entry {
    char *audio_filepath; /* resolved: relative paths are joined to the manifest's folder */
    double duration;      /* seconds */
    double offset;        /* seconds, 0 when absent */
    char *text;           /* `text`, else `text_filepath` contents, else `normalized_text`, else "" */
    char *lang, *speaker; /* NULL when absent */
    char *extra_json;     /* the whole line (kept for passthrough fields such as pred_text) */
    char *source;         /* "manifest.json:17" for messages */
} nc_manifest_entry;

typedef struct nc_manifest_filter {
    double min_duration; /* < 0: none */
    double max_duration; /* < 0: none */
    int64_t max_utts;    /* 0: all */
} nc_manifest_filter;

/* What was dropped while reading, for the summary NeMo logs. */
typedef struct nc_manifest_stats {
    int64_t n_read, n_kept;
    int64_t n_too_short, n_too_long, n_over_max_utts, n_bad_lines;
    double hours_kept, hours_dropped;
} nc_manifest_stats;

typedef struct nc_manifest {
    nc_manifest_entry *entries;
    int64_t n;
    nc_manifest_stats stats;
} nc_manifest;

/* Reads one or more manifests (comma-separated paths, as NeMo accepts).
 * Malformed lines (bad JSON, missing audio_filepath or duration, negative or
 * non-finite duration) are errors naming file and line unless skip_bad_lines,
 * in which case they are counted and warned about. */
nc_status nc_manifest_read(const char *paths, const nc_manifest_filter *filter, bool skip_bad_lines,
                           nc_manifest *out);
void nc_manifest_free(nc_manifest *m);

/* ---- dataset + loader ---- */

typedef enum nc_bucketing {
    NC_BUCKETING_NONE = 0,
    NC_BUCKETING_SYNCED_RANDOMIZED,  /* bucket order shuffled per epoch, same on all ranks */
    NC_BUCKETING_FULLY_RANDOMIZED,   /* each rank its own order */
} nc_bucketing;

typedef struct nc_asr_loader_params {
    /* NeMo dataset keys */
    const char *manifest_filepath;
    int sample_rate;
    int64_t batch_size;
    bool shuffle;
    int num_workers;            /* decoding threads; 0 = decode on the caller's thread */
    double min_duration, max_duration; /* < 0: none */
    int64_t max_utts;
    bool trim_silence;          /* unsupported when true: refused with a clear error */
    bool use_start_end_token;   /* add tokenizer bos/eos ids around each transcript */
    nc_bucketing bucketing_strategy;
    int64_t num_buckets;                  /* duration buckets (equal width over [min, max]) */
    const int64_t *bucketing_batch_size;  /* per-bucket batch sizes or NULL */
    int64_t n_bucketing_batch_size;
    bool skip_bad_audio;        /* default true: skip with a counted warning; false: error */
    /* pipeline */
    const nc_feature_config *features;         /* model.preprocessor; NULL = return audio only */
    const nc_spec_augment_config *spec_augment; /* applied when `training`; NULL = none */
    const nc_perturb_step *perturb;             /* waveform augmentation (training), may be NULL */
    int n_perturb;
    const nc_tokenizer *tokenizer;              /* NULL = no tokens */
    bool training;              /* dither, SpecAugment and perturbations on */
    bool keep_audio;            /* also return padded audio in batches */
    /* reproducibility and sharding */
    uint64_t seed;
    int rank, world_size;
    int prefetch;               /* batches prepared ahead of the consumer (default 2) */
} nc_asr_loader_params;

nc_asr_loader_params nc_asr_loader_default_params(void);
/* Fills params from a dataset config node (e.g. model.train_ds); strings
 * point into the config. Unknown keys are reported by nc_cfg_check_keys. */
nc_status nc_asr_loader_params_from_cfg(const nc_cfg *ds, nc_asr_loader_params *p);

typedef struct nc_asr_batch {
    int64_t batch_size;
    /* features (B, n_feats, max_frames), zero (pad_value) past feat_len */
    float *feats;
    int64_t n_feats, max_frames;
    int64_t *feat_len;
    /* padded audio (B, max_samples) when keep_audio */
    float *audio;
    int64_t max_samples;
    int64_t *audio_len;
    /* token ids (B, max_tokens), padded with 0, and their lengths */
    int64_t *tokens;
    int64_t max_tokens;
    int64_t *token_len;
    /* per utterance: index into the loader's manifest and the reference text */
    int64_t *sample_index;
    const char **texts;
    double audio_seconds; /* total audio in the batch */
} nc_asr_batch;

typedef struct nc_asr_loader nc_asr_loader;

nc_status nc_asr_loader_create(const nc_asr_loader_params *p, nc_asr_loader **out);
void nc_asr_loader_free(nc_asr_loader *l);
const nc_manifest *nc_asr_loader_manifest(const nc_asr_loader *l);

/* Starts epoch `epoch` (order is a pure function of seed, epoch, rank and
 * world size); `skip` batches are dropped first (resuming mid-epoch). */
nc_status nc_asr_loader_begin_epoch(nc_asr_loader *l, int64_t epoch, int64_t skip);
/* Batches in one epoch on this rank. */
int64_t nc_asr_loader_num_batches(const nc_asr_loader *l);
/* Next batch of the epoch, or *batch = NULL at its end. The batch stays
 * valid until the next call. */
nc_status nc_asr_loader_next(nc_asr_loader *l, const nc_asr_batch **batch);

/* Counters of audio skipped because it was missing/corrupt/short. */
typedef struct nc_asr_loader_stats {
    int64_t n_skipped_audio;
    int64_t n_batches, n_utterances;
    double seconds_waiting; /* consumer time blocked on workers */
} nc_asr_loader_stats;
nc_asr_loader_stats nc_asr_loader_get_stats(const nc_asr_loader *l);

#ifdef __cplusplus
}
#endif
#endif
