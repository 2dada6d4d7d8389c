/* The state of EncDecCTCModel(BPE) behind nc_model.impl: internal to the
 * ASR collection (and its tests). */
#ifndef NC_ASR_CTC_MODEL_H
#define NC_ASR_CTC_MODEL_H

#include "nemoc/asr_ctc.h"
#include "nemoc/wer.h"

struct nc_ctc_model {
    nc_feature_config features;     /* model.preprocessor */
    nc_spec_augment_config spec_augment;
    bool has_spec_augment;
    nc_conformer encoder;
    nc_conv_asr_decoder decoder;
    nc_tokenizer *tokenizer;
    bool bpe;
    nc_loss_reduction reduction;     /* model.ctc_reduction */
    int64_t vocab_size;             /* without the blank */
    char **pieces;                  /* id -> text piece (labels or subwords) */
    uint8_t *kinds;                 /* word-boundary kind per id (timestamps) */
    double frame_seconds;           /* window_stride x subsampling_factor */
};

/* Shared by the ASR model classes (ctc_model.c): preprocessor, SpecAugment
 * and tokenizer into cm; then model.encoder, the parameters (add_heads adds
 * the model's own after the encoder's, given the encoder's output width),
 * their initialisation and the vocabulary tables. A transducer model keeps
 * these in an nc_ctc_model of its own (its ConvASR decoder unused). */
nc_status nc_asr_build_front(nc_model *m, nc_ctc_model *cm, bool bpe, const nc_model_build_args *a);
nc_status nc_asr_build_encoder(nc_model *m, nc_ctc_model *cm, const nc_model_build_args *a,
                               nc_status (*add_heads)(nc_model *m, void *self, int64_t enc_dim),
                               void *self);
void nc_asr_front_clear(nc_ctc_model *cm);
/* The shared state of any ASR model (CTC or transducer), or NULL with an
 * error naming m's class (rnnt_model.c). */
nc_ctc_model *nc_asr_front_of(const nc_model *m);

/* The metrics every ASR model logs from its NC_CTC_SUM_* sums: val_loss
 * (mean over batches), val_wer, val_cer. */
#define NC_ASR_N_METRICS 3
extern const nc_metric_def nc_asr_metrics[NC_ASR_N_METRICS];

/* WER and CER counts of hyp against ref (w, c may be NULL), added into the
 * NC_CTC_SUM_* word and char slots of sums (ctc_model_step.c). */
nc_status nc_asr_add_edit_sums(const char *ref, const char *hyp, double *sums, nc_edit_counts *w, nc_edit_counts *c);

/* Scores hyp against utterance i of b: as NeMo's WER metric, the reference
 * is the target ids decoded back to text, so both went through the same
 * text normalisation. */
nc_status nc_asr_score_target(const nc_ctc_model *cm, const nc_asr_batch *b, int64_t i, const char *hyp,
                              double *sums);

#endif
