/* EncDecHybridRNNTCTCModel / EncDecHybridRNNTCTCBPEModel
 * (nemo/collections/asr/models/hybrid_rnnt_ctc_models.py,
 * hybrid_rnnt_ctc_bpe_models.py): one encoder under two heads, the
 * transducer of EncDecRNNT(BPE)Model (decoder.*, joint.*, RNN-T or TDT loss)
 * and an auxiliary CTC head (ctc_decoder.*, ConvASRDecoder) configured from
 * model.aux_ctc; loss (1 - ctc_loss_weight) * transducer + ctc_loss_weight * CTC. */
#ifndef NEMOC_ASR_HYBRID_H
#define NEMOC_ASR_HYBRID_H

#include "nemoc/asr_ctc.h"
#include "nemoc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A hybrid model's state (src/asr/models/hybrid_model.h). */
typedef struct nc_hybrid_model nc_hybrid_model;

extern const nc_model_class nc_hybrid_model_class;     /* char labels */
extern const nc_model_class nc_hybrid_bpe_model_class; /* subwords */

/* Whether cls is one of the two hybrid classes. */
bool nc_hybrid_class(const nc_model_class *cls);

/* Checked downcast, as nc_ctc_of. */
nc_hybrid_model *nc_hybrid_of(const nc_model *m);

/* Validation sums of a hybrid model: the transducer's in the NC_CTC_SUM_*
 * slots (val_loss is the combined loss, val_wer / val_cer the transducer's
 * greedy decoding), then the CTC head's word and char counts (val_wer_ctc,
 * val_cer_ctc; scored only when ctc_loss_weight > 0, as NeMo logs them). */
enum {
    NC_HYBRID_SUM_CTC_WORD_ERRORS = NC_CTC_N_SUMS,
    NC_HYBRID_SUM_CTC_WORDS,
    NC_HYBRID_SUM_CTC_CHAR_ERRORS,
    NC_HYBRID_SUM_CTC_CHARS,
    NC_HYBRID_N_SUMS
};

/* The class hooks (hybrid_model_step.c). */
nc_status nc_hybrid_train_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss);
nc_status nc_hybrid_val_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums);

/* The head `nemoc asr transcribe|eval` decodes m with, from the command's
 * decoder_type= (transcribe_speech.py's decoder_type, NeMo's
 * change_decoding_strategy(decoder_type=...)): a hybrid model takes 'rnnt'
 * (the default, NeMo's cur_decoder) or 'ctc' (its aux CTC head); a
 * transducer model only 'rnnt', a CTC model only 'ctc'. Anything else is an
 * error naming decoder_type. *transducer tells which head decodes. */
nc_status nc_asr_decoder_type(const nc_model *m, const nc_cfg *args, bool *transducer);

#ifdef __cplusplus
}
#endif
#endif
