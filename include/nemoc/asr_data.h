/* ASR data pipeline: NeMo manifests -> dataset -> sampler -> worker threads
 * (decode, resample, perturb, features, SpecAugment, tokenize) -> padded batch.
 *
 * Keys and semantics are NeMo's `model.train_ds` / `validation_ds` / `test_ds`
 * (nemo/collections/asr/data/audio_to_text_dataset.py, audio_to_text.py,
 * nemo/collections/common/parts/preprocessing/manifest.py, collections.py);
 * see ../shared/reference/nemo-inventory.md §1, §2.
 *
 * Determinism: the utterances of an epoch, their order, their grouping into
 * batches and every random draw made while preparing them (perturbation,
 * dither, SpecAugment) are pure functions of (seed, epoch, rank, world_size)
 * and the manifest. The number of worker threads and their scheduling change
 * nothing. */
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

/* One utterance. Every string is owned by the nc_manifest it belongs to. */
typedef struct nc_manifest_entry {
    char *audio_filepath; /* `audio_filepath` (alias `audio_filename`), `~` expanded; a relative
                           * path is joined to the manifest's folder (kept as given instead when
                           * only that exists, as NeMo's get_full_path does from the cwd) */
    double duration;      /* seconds, finite and >= 0 (0: the whole file, as NeMo reads it) */
    double offset;        /* seconds, 0 when absent or null */
    char *text;           /* `text`, else the contents of `text_filepath` (relative to the manifest's
                           * folder, '\n' removed), else `normalized_text`, else "" */
    char *lang, *speaker; /* NULL when absent or null; a numeric speaker becomes its text */
    char *extra_json;     /* the whole line, re-serialised (passthrough fields such as pred_text) */
    char *source;         /* "path/to/manifest.json:17" for messages */
} nc_manifest_entry;

typedef struct nc_manifest_filter {
    double min_duration; /* < 0: none; utterances with duration < min_duration are dropped */
    double max_duration; /* < 0: none; utterances with duration > max_duration are dropped */
    int64_t max_utts;    /* 0: all; keep the first max_utts that pass the duration filters */
} nc_manifest_filter;

/* min/max none, max_utts 0. */
nc_manifest_filter nc_manifest_default_filter(void);

/* What was read and dropped, for the summary NeMo logs. */
typedef struct nc_manifest_stats {
    int64_t n_read;          /* well-formed entries seen */
    int64_t n_kept;
    int64_t n_too_short, n_too_long;
    int64_t n_over_max_utts; /* well-formed entries that passed the duration filters after the cap */
    int64_t n_bad_lines;     /* malformed lines skipped (only with skip_bad_lines) */
    double hours_kept, hours_dropped; /* dropped = too short + too long + over the cap */
} nc_manifest_stats;

typedef struct nc_manifest {
    nc_manifest_entry *entries;
    int64_t n;
    nc_manifest_stats stats;
    void *strings_; /* private: the string pool every entry points into */
} nc_manifest;

/* A manifest line longer than this is an error (NC_ERR_FORMAT naming
 * file:line) and its bytes are skipped without being held in memory: a
 * manifest line is metadata (an hour-long transcript is ~60 KB), and a
 * corrupt file must not make the reader allocate gigabytes. */
#define NC_MANIFEST_MAX_LINE_BYTES ((int64_t)16 << 20)

/* Reads one or more manifests (comma-separated paths, as NeMo accepts), in
 * order. `filter` may be NULL (keep everything). Errors (NC_ERR_FORMAT unless
 * noted) name "file:line": malformed JSON, a line that is not an object,
 * invalid UTF-8 (also in a text_filepath file), missing or non-string
 * audio_filepath, missing, non-number, negative or non-finite duration, a
 * negative offset, a text that is not a string, an unreadable text_filepath
 * (NC_ERR_NOT_FOUND / NC_ERR_IO). A manifest file that is missing
 * (NC_ERR_NOT_FOUND) or holds no entries is an error naming it. With
 * skip_bad_lines, malformed lines are counted and warned about instead (a
 * missing or empty manifest is still an error). After max_utts entries are
 * kept, the rest is still parsed to count what the cap dropped, but lines
 * there are not validated (NeMo never reads them). */
nc_status nc_manifest_read(const char *paths, const nc_manifest_filter *filter, bool skip_bad_lines,
                           nc_manifest *out);
void nc_manifest_free(nc_manifest *m);

/* The same over a list of paths, each taken whole (a path may hold commas). */
nc_status nc_manifest_read_list(const char *const *paths, int64_t n, const nc_manifest_filter *filter,
                                bool skip_bad_lines, nc_manifest *out);

/* An in-memory manifest of audio files (transcribe_speech.py's audio_dir):
 * absolute audio_filepath, the duration the file's header gives (0 when it
 * cannot be read: the loader then reports it), empty text. */
nc_status nc_manifest_from_audio_files(const char *const *paths, int64_t n, nc_manifest *out);

/* ---- dataset + loader ---- */

typedef enum nc_bucketing {
    NC_BUCKETING_NONE = 0,
    NC_BUCKETING_SYNCED_RANDOMIZED,  /* batch order shuffled per epoch, the same on all ranks */
    NC_BUCKETING_FULLY_RANDOMIZED,   /* each rank its own batch order */
} nc_bucketing;

/* Caps on the loader's counts (nc_asr_loader_create and the *_ds config
 * reader refuse more): each sizes a loop, a thread pool or an allocation, and
 * products such as bucketing_batch_size x num_buckets must fit an int64. */
#define NC_ASR_MAX_BATCH (INT64_C(1) << 20)   /* batch_size, each bucket's batch size */
#define NC_ASR_MAX_BUCKETS 10000              /* num_buckets, entries of bucketing_batch_size */
#define NC_ASR_MAX_WORKERS 256                /* num_workers */
#define NC_ASR_MAX_PREFETCH 4096              /* prefetch, prefetch_factor x num_workers */
#define NC_ASR_MAX_SAMPLE_RATE 1000000        /* sample_rate (Hz) */

typedef struct nc_asr_loader_params {
    /* NeMo dataset keys */
    const char *manifest_filepath; /* one path or a comma-separated list (NeMo's string form) */
    const char *const *manifest_filepaths; /* instead: a list (NeMo's list form), each path whole */
    int64_t n_manifest_filepaths;
    const nc_manifest *manifest;   /* instead: an in-memory manifest (borrowed; it must outlive the
                                    * loader); the filters still apply and batches' sample_index
                                    * index it */
    int sample_rate;               /* 16000 */
    int64_t batch_size;            /* 16 */
    bool shuffle;                  /* true */
    int num_workers;            /* decoding threads; 0 = decode on the caller's thread (default 2) */
    double min_duration, max_duration; /* < 0: none */
    int64_t max_utts;           /* 0: all */
    bool trim_silence;          /* true is refused with a clear error (unsupported) */
    bool use_start_end_token;   /* add bos/eos ids around each transcript when the tokenizer has them
                                 * (ids > 0, as NeMo's AudioToBPEDataset); default true (NeMo's) */
    /* Duration bucketing (nemoc's form of NeMo's bucketed datasets): utterances go into
     * num_buckets equal-width duration buckets over [shortest, longest], batches are formed
     * within a bucket. Active when bucketing_strategy != NONE and the number of buckets
     * (num_buckets, or the length of bucketing_batch_size) is > 1. */
    nc_bucketing bucketing_strategy;
    int64_t num_buckets;                  /* 0/1: no bucketing */
    const int64_t *bucketing_batch_size;  /* per-bucket batch sizes (shortest bucket first) or NULL */
    int64_t n_bucketing_batch_size;
    int64_t bucketing_batch_size_scale;   /* NeMo's int form: bucket i of k gets scale*(k-i)
                                           * (8, 4 buckets -> 32,24,16,8); 0: unused */
    bool skip_bad_audio;        /* default true: skip with a counted warning; false: error */
    /* pipeline */
    const nc_feature_config *features;         /* model.preprocessor; NULL = return audio only */
    const nc_spec_augment_config *spec_augment; /* applied when `training`; NULL = none */
    const nc_perturb_step *perturb;             /* waveform augmentation (training), may be NULL */
    int n_perturb;
    const nc_tokenizer *tokenizer;              /* NULL = no tokens */
    bool training;              /* dither, SpecAugment and perturbations on */
    bool keep_audio;            /* also return padded audio in batches (always when features NULL) */
    /* reproducibility and sharding */
    uint64_t seed;
    int rank, world_size;       /* 0, 1 */
    int prefetch;               /* batches prepared ahead of the one the consumer holds (default 2) */
    void *owned_;               /* private: memory from nc_asr_loader_params_from_cfg */
} nc_asr_loader_params;

nc_asr_loader_params nc_asr_loader_default_params(void);
/* Fills params from a dataset config node (e.g. model.train_ds), keeping the
 * values already in *p for absent keys; strings point into the config. A
 * manifest_filepath list becomes manifest_filepaths (never joined) and an int list of
 * bucketing_batch_size is copied into memory owned by *p: release it with
 * nc_asr_loader_params_clear once the loader is created. Unknown keys are
 * reported by nc_cfg_check_keys (every NeMo dataset key is known); is_tarred
 * true, trim_silence true, a list of lists of manifests and a non-null
 * augmentor are refused (NC_ERR_UNSUPPORTED). The model's keys (labels,
 * parser, normalize_transcripts, pin_memory, ...) are accepted and ignored. */
nc_status nc_asr_loader_params_from_cfg(const nc_cfg *ds, nc_asr_loader_params *p);
void nc_asr_loader_params_clear(nc_asr_loader_params *p);

typedef struct nc_asr_batch {
    int64_t batch_size;   /* utterances in this batch (bad audio may make it smaller than planned) */
    int64_t epoch;
    int64_t batch_index;  /* position in the epoch's plan: resume with begin_epoch(epoch, index + 1) */
    /* features (B, n_feats, max_frames), pad_value past feat_len;
     * max_frames = nc_featurizer_out_frames(max_samples) (NeMo's pad_to applied) */
    float *feats;
    int64_t n_feats, max_frames;
    int64_t *feat_len;
    /* padded audio (B, max_samples), zero past audio_len; audio is NULL unless keep_audio
     * or no features, audio_len and max_samples are always set */
    float *audio;
    int64_t max_samples;
    int64_t *audio_len;
    /* token ids (B, max_tokens), padded with token_pad_id, and their lengths */
    int64_t *tokens;
    int64_t max_tokens;
    int64_t *token_len;
    int64_t token_pad_id; /* the tokenizer's pad id when > 0, else 0 (NeMo's collate) */
    /* per utterance: index into the loader's manifest and the reference text */
    int64_t *sample_index;
    const char **texts;
    double audio_seconds; /* total audio in the batch (after speed perturbation) */
} nc_asr_batch;

typedef struct nc_asr_loader nc_asr_loader;

/* Reads the manifests (min/max_duration, max_utts applied), builds the
 * featurizer and starts the workers. The tokenizer and the perturbation
 * steps (and their noise sets) must outlive the loader. */
nc_status nc_asr_loader_create(const nc_asr_loader_params *p, nc_asr_loader **out);
void nc_asr_loader_free(nc_asr_loader *l);
const nc_manifest *nc_asr_loader_manifest(const nc_asr_loader *l);
/* The loader's featurizer (NULL without features). */
const nc_featurizer *nc_asr_loader_featurizer(const nc_asr_loader *l);

/* Starts epoch `epoch` (order is a pure function of seed, epoch, rank and
 * world size); the first `skip` batches of the plan are dropped without
 * being decoded (resuming mid-epoch). Abandons any epoch in progress. */
nc_status nc_asr_loader_begin_epoch(nc_asr_loader *l, int64_t epoch, int64_t skip);
/* Batches in one epoch on this rank (the plan, the same on every rank). */
int64_t nc_asr_loader_num_batches(const nc_asr_loader *l);
/* Next batch of the epoch, or *batch = NULL at its end. The batch stays
 * valid until the next call of _next or _begin_epoch. Call both from one
 * thread. Warnings about skipped audio are logged here, in plan order, with
 * the manifest file:line and the reason. A planned batch whose every utterance was bad
 * audio is passed over (so with world_size > 1 that rank sees one batch
 * fewer). Errors carry the manifest file:line of the utterance. */
nc_status nc_asr_loader_next(nc_asr_loader *l, const nc_asr_batch **batch);

typedef struct nc_asr_loader_stats {
    int64_t n_skipped_audio;   /* utterances dropped: missing/corrupt/short/empty audio */
    int64_t n_skipped_batches; /* planned batches with no good utterance */
    int64_t n_batches, n_utterances; /* delivered */
    double audio_seconds;      /* delivered */
    double seconds_waiting;    /* consumer time blocked on workers inside nc_asr_loader_next */
} nc_asr_loader_stats;
/* Totals since the loader was created. */
nc_asr_loader_stats nc_asr_loader_get_stats(const nc_asr_loader *l);

/* ---- a perturbed copy of a manifest (`nemoc data perturb`) ---- */

typedef struct nc_manifest_perturb_params {
    const char *in_manifest; /* NeMo manifest (comma-separated list accepted) */
    const char *out_dir;     /* gets audio/NNNNNN.wav (16-bit) and manifest.json; created */
    /* A dataset config as in model.train_ds: sample_rate and `augmentor` are
     * used (every perturbation with its NeMo keys; give prob: 1.0 for a
     * channel applied to every utterance); other keys are checked, not used. */
    const nc_cfg *dataset;
    uint64_t seed;           /* utterance i draws from (seed, i), as the loader seeds it */
    void (*progress)(int64_t done, int64_t total, void *user_data); /* may be NULL */
    void *user_data;
} nc_manifest_perturb_params;

typedef struct nc_manifest_perturb_stats {
    int64_t n_utts;
    double seconds; /* audio written */
} nc_manifest_perturb_stats;

/* Reads every utterance (its offset/duration segment, at sample_rate), runs
 * the augmentor pipeline on it, writes it as out_dir/audio/<index>.wav and
 * writes out_dir/manifest.json (atomically) with the original lines' keys,
 * audio_filepath relative to out_dir and the new duration (offset dropped).
 * Nothing is written outside out_dir. Errors name the manifest line or the
 * config key; an augmentor with no entries is an error. Utterances run in
 * parallel; the output does not depend on the thread count. stats may be NULL. */
nc_status nc_manifest_perturb(const nc_manifest_perturb_params *p, nc_manifest_perturb_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
