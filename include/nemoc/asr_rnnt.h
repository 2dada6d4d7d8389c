/* EncDecRNNTModel / EncDecRNNTBPEModel (nemo/collections/asr/models/rnnt_models.py,
 * rnnt_bpe_models.py): the CTC models' preprocessor, SpecAugment, tokenizer
 * and Conformer encoder, with RNNTDecoder + RNNTJoint and the RNN-T or TDT
 * loss, greedy decoding for validation WER. */
#ifndef NEMOC_ASR_RNNT_H
#define NEMOC_ASR_RNNT_H

#include "nemoc/asr_ctc.h"
#include "nemoc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A transducer model's state (src/asr/models/rnnt_model.h). */
typedef struct nc_rnnt_model nc_rnnt_model;

extern const nc_model_class nc_rnnt_model_class;     /* char labels */
extern const nc_model_class nc_rnnt_bpe_model_class; /* subwords */

/* Checked downcast, as nc_ctc_of. */
nc_rnnt_model *nc_rnnt_of(const nc_model *m);

/* The class hooks (rnnt_model_step.c); validation fills the NC_CTC_SUM_*
 * sums, so the metrics are the CTC model's (loss, wer, cer). */
nc_status nc_rnnt_train_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss);
nc_status nc_rnnt_val_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums);

/* Eval-mode encoder + the model's transducer decoding (model.decoding:
 * greedy, or beam search's best hypothesis) of a batch into
 * hyps[batch_size]: text, score and, with compute_timestamps, the tokens
 * with NeMo's RNN-T offsets (start = emission frame, end = frame + 1, as
 * rnnt_decoding.py's _compute_offsets) and word timestamps. No log-probs. */
nc_status nc_rnnt_transcribe_batch(nc_model *m, nc_ctx *ctx, const nc_asr_batch *b, nc_asr_hyp *hyps);

/* change_decoding_strategy as transcribe_speech.py applies `rnnt_decoding`:
 * strategy "greedy", "greedy_batch" or "beam" (beam_size >= 1; the model's
 * beam score_norm / return_best_hypothesis are kept) and
 * compute_timestamps (refused for TDT models). */
nc_status nc_rnnt_change_decoding(nc_model *m, const char *strategy, int64_t beam_size, bool timestamps);

#ifdef __cplusplus
}
#endif
#endif
