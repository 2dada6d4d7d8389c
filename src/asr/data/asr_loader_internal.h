/* Private parts of the ASR loader: the epoch plan (sampler), per-utterance
 * work and batch collation. Not public. */
#ifndef NC_ASR_LOADER_INTERNAL_H
#define NC_ASR_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/asr_data.h"
#include "nemoc/audio.h"
#include "nemoc/augment.h"
#include "nemoc/config.h"
#include "nemoc/tokenizer.h"

/* ---- augmentor config (asr_augment_cfg.c) ---- */

/* The noise/RIR sets that a config's perturbation steps point to; owned. */
typedef struct asr_set_list {
    nc_noise_set **sets;
    int64_t n, cap;
} asr_set_list;

void asr_set_list_free(asr_set_list *l);
/* NeMo's `augmentor` map of dataset config ds into *steps (nc_malloc'd) and
 * *n_steps (untouched when absent); sets takes the manifests the steps load.
 * sample_rate is the dataset's (vtlp's f_hi must lie below its Nyquist). */
nc_status asr_augmentor_from_cfg(const nc_cfg *ds, int sample_rate, nc_perturb_step **steps, int *n_steps,
                                 asr_set_list *sets);

/* ---- sampler ---- */

typedef struct asr_sampler_cfg {
    bool shuffle;
    int64_t batch_size;
    nc_bucketing strategy;   /* NONE when not bucketing */
    int64_t num_buckets;     /* > 1 when bucketing */
    const int64_t *bucket_bs; /* (num_buckets,) batch size per bucket, shortest first */
    uint64_t seed;
    int rank, world_size;
} asr_sampler_cfg;

/* One epoch on one rank: batch b holds idx[start[b] .. start[b+1]). */
typedef struct asr_plan {
    int64_t n_batches;
    int64_t *start; /* (n_batches + 1,) */
    int64_t *idx;   /* sample indices into the manifest */
    int64_t max_batch;
} asr_plan;

/* Builds the plan of `epoch` over n utterances of the given durations. */
nc_status asr_plan_build(const asr_sampler_cfg *c, const double *durations, int64_t n, int64_t epoch,
                         asr_plan *out);
void asr_plan_free(asr_plan *p);

/* Seeds derived from (seed, a, b, c) by splitmix64 mixing, for the nc_rng
 * streams of the sampler and of each utterance. */
uint64_t asr_seed_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

/* Stream tags for asr_seed_hash (the second argument). */
enum { ASR_STREAM_BUCKET = 1, ASR_STREAM_ORDER = 2, ASR_STREAM_RANK_ORDER = 3, ASR_STREAM_UTT = 4 };

/* ---- per-utterance work ---- */

/* What one utterance turned into. Buffers persist and grow across uses. */
typedef struct asr_utt {
    int64_t sample;        /* manifest index */
    bool bad;              /* bad audio, skipped; msg says why */
    nc_status err;         /* a hard error (msg holds its text) */
    char *msg;             /* nc_malloc'd, NULL when fine */
    nc_audio audio;        /* decoded (and perturbed) samples; kept until collated */
    int64_t n_samples;
    float *feats;          /* (F, frames) */
    int64_t feats_cap, frames, feat_len;
    int32_t *tok;
    int64_t tok_cap, n_tok;
    nc_token_ids ids;      /* tokenizer scratch */
} asr_utt;

void asr_utt_free(asr_utt *u);

/* Read-only description of the work, shared by all workers. */
typedef struct asr_work_cfg {
    const nc_manifest *man;
    const int64_t *index; /* sampler position -> manifest entry; NULL: the same */
    int sample_rate;
    const nc_featurizer *fz;              /* NULL: no features */
    const nc_spec_augment_config *sa;     /* NULL: none */
    const nc_perturb_step *perturb;
    int n_perturb;
    const nc_tokenizer *tok;
    int32_t bos_id, eos_id;               /* -1: none */
    bool training, keep_audio, skip_bad_audio;
    uint64_t seed;
} asr_work_cfg;

/* Decodes, perturbs, featurises, augments and tokenises sample `sample` of
 * epoch `epoch` into u. Bad audio sets u->bad (or u->err when not skipping);
 * other failures set u->err. Never touches shared state. */
void asr_utt_process(const asr_work_cfg *w, int64_t epoch, int64_t sample, asr_utt *u);

/* Growable storage behind an nc_asr_batch. */
typedef struct asr_batch_buf {
    float *feats;
    int64_t feats_cap;
    float *audio;
    int64_t audio_cap;
    int64_t *tokens;
    int64_t tokens_cap;
    int64_t *lens;      /* feat_len, audio_len, token_len, sample_index: 4 * B */
    int64_t lens_cap;
    const char **texts;
    int64_t texts_cap;
} asr_batch_buf;

void asr_batch_buf_free(asr_batch_buf *b);

/* Pads the good utterances of u[0..n) into out (storage in buf). */
nc_status asr_collate(const asr_work_cfg *w, asr_utt *u, int64_t n, int64_t pad_id, asr_batch_buf *buf,
                      nc_asr_batch *out);

#endif
