/* The state of EncDecHybridRNNTCTC(BPE)Model behind nc_model.impl: internal
 * to the ASR collection (and its tests). */
#ifndef NC_ASR_HYBRID_MODEL_H
#define NC_ASR_HYBRID_MODEL_H

#include "asr/models/rnnt_model.h"
#include "nemoc/asr_hybrid.h"

struct nc_hybrid_model {
    /* First, so that impl is also an nc_rnnt_model (the transducer's
     * transcription, nc_rnnt_transcribe_batch) and, through its own first
     * member, an nc_ctc_model (nc_asr_front_of, and the CTC models' batch and
     * long-audio transcription for decoder_type=ctc). Its base.decoder is
     * the auxiliary CTC head, ctc_decoder.* (model.aux_ctc.decoder), and
     * base.reduction model.aux_ctc.ctc_reduction. */
    nc_rnnt_model rnnt;
    double ctc_loss_weight;  /* model.aux_ctc.ctc_loss_weight */
    bool use_cer;            /* model.aux_ctc.use_cer: val_wer_ctc is a CER, as NeMo's ctc_wer */
    bool compute_eval_loss;  /* model.compute_eval_loss: val_loss is computed */
};

/* The training loss of the heads on the encoder output enc (B, T', D) with
 * encoded lengths enc_len: the transducer loss, combined with the aux CTC
 * head's as (1 - w) * transducer + w * CTC when w = ctc_loss_weight > 0 or
 * when the head's log-probs ctc_lp (B, T', V+1) are given (validation). */
nc_tensor *nc_hybrid_head_loss(nc_ctx *ctx, nc_hybrid_model *hm, const nc_asr_batch *b, nc_tensor *enc,
                               const int64_t *enc_len, nc_tensor *ctc_lp);

#endif
