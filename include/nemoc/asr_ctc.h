/* EncDecCTCModel / EncDecCTCModelBPE (nemo/collections/asr/models/ctc_models.py,
 * ctc_bpe_models.py): preprocessor settings, SpecAugment, Conformer encoder,
 * ConvASRDecoder and CTC loss, plus transcription for the CLI. */
#ifndef NEMOC_ASR_CTC_H
#define NEMOC_ASR_CTC_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/asr_data.h"
#include "nemoc/conformer.h"
#include "nemoc/ctc.h"
#include "nemoc/ctc_decoder.h"
#include "nemoc/ctc_decoding.h"
#include "nemoc/model.h"
#include "nemoc/trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_ctc_model {
    nc_feature_config features;     /* model.preprocessor */
    nc_spec_augment_config spec_augment;
    bool has_spec_augment;
    nc_conformer encoder;
    nc_ctc_decoder decoder;
    nc_tokenizer *tokenizer;
    bool bpe;
    nc_ctc_reduction reduction;     /* model.ctc_reduction */
    int64_t vocab_size;             /* without the blank */
    char **pieces;                  /* id -> text piece (labels or subwords) */
    uint8_t *kinds;                 /* word-boundary kind per id (timestamps) */
    double frame_seconds;           /* window_stride x subsampling_factor */
} nc_ctc_model;

extern const nc_model_ops nc_ctc_model_ops;
extern const nc_model_ops nc_ctc_bpe_model_ops;

/* Builds the CTC model into m (m->cfg must hold the model section). */
nc_status nc_ctc_model_build(nc_model *m, bool bpe, const char *base_dir, uint64_t seed);

static inline nc_ctc_model *nc_ctc_of(const nc_model *m) { return (nc_ctc_model *)m->impl; }

/* One decoded utterance. */
typedef struct nc_asr_hyp {
    char *text;
    nc_ctc_hyp hyp;     /* token ids with frame offsets */
    nc_ctc_word *words; /* word timestamps when requested */
    int64_t n_words;
} nc_asr_hyp;
void nc_asr_hyp_free(nc_asr_hyp *h);

typedef struct nc_transcribe_params {
    int64_t beam_size;  /* 1 = greedy */
    bool timestamps;
} nc_transcribe_params;

/* Eval-mode forward + decoding of a batch into hyps[batch_size]. */
nc_status nc_ctc_transcribe_batch(nc_model *m, nc_ctx *ctx, const nc_asr_batch *b,
                                  const nc_transcribe_params *p, nc_asr_hyp *hyps);

/* Text of token ids (labels joined, or the tokenizer's detokenisation). */
nc_status nc_ctc_ids_to_text(const nc_ctc_model *cm, const int64_t *ids, int64_t n, char **text);

/* Loader parameters for a dataset section of this model: the model's
 * preprocessor, SpecAugment (training only) and tokenizer. */
nc_status nc_ctc_loader_params(const nc_model *m, const nc_cfg *ds, bool training, uint64_t seed,
                               int rank, int world_size, nc_asr_loader_params *out);

/* Adapts an ASR loader to the trainer's data source interface. */
void nc_asr_data_source(nc_asr_loader *l, nc_data_source *out);

/* NeMo .nemo archives: load a whole model (its config selects the class;
 * every state_dict key must match by name and shape), initialise a model's
 * weights from one (matching tensors only; a decoder whose vocabulary changed
 * is re-initialised, as speech_to_text_finetune.py does), or save one that
 * NeMo's restore_from() reads. */
nc_status nc_nemo_model_load(const char *path, nc_model **out);
nc_status nc_nemo_model_init_from(nc_model *m, const char *path, int64_t *n_loaded);
nc_status nc_nemo_model_save(const nc_model *m, const char *path);

/* Loads a model from a nemoc training checkpoint (.ckpt, which carries its
 * config) or a NeMo .nemo archive. */
nc_status nc_asr_model_load(const char *path, nc_model **out);

#ifdef __cplusplus
}
#endif
#endif
