/* EncDecHybridRNNTCTCModel steps (nemo/collections/asr/models/
 * hybrid_rnnt_ctc_models.py): training_step (the transducer loss of
 * EncDecRNNTModel, plus the aux CTC head's loss when ctc_loss_weight > 0,
 * combined as (1 - w) * transducer + w * CTC) and validation_pass (the same
 * combined loss when compute_eval_loss, the transducer's greedy WER and the
 * CTC head's greedy WER). */
#include <string.h>

#include "asr/models/hybrid_model.h"
#include "nemoc/alloc.h"
#include "nemoc/ctc.h"

/* CTCLoss of the aux head (aux_ctc.ctc_reduction, zero_infinity=True as
 * NeMo constructs it) on the same targets as the transducer. */
static nc_tensor *aux_ctc_loss(nc_ctx *ctx, nc_ctc_model *cm, const nc_asr_batch *b, nc_tensor *lp,
                               const int64_t *enc_len) {
    int64_t B = b->batch_size;
    int64_t S = b->max_tokens > 0 ? b->max_tokens : 1;
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    nc_tensor *tg = b->max_tokens > 0 ? nc_from_data(ctx, NC_I64, NC_DIMS(B, S), b->tokens)
                                      : nc_zeros(ctx, NC_I64, NC_DIMS(B, S));
    nc_tensor *tl = nc_from_data(ctx, NC_I64, NC_DIMS(B), b->token_len);
    return nc_ctc_loss(ctx, lp, tg, il, tl, nc_conv_asr_decoder_blank(&cm->decoder), cm->reduction, true);
}

/* loss_value = (1 - ctc_loss_weight) * loss_value + ctc_loss_weight * ctc_loss
 * (training_step / validation_pass). */
static nc_tensor *combine(nc_ctx *ctx, double w, nc_tensor *rnnt, nc_tensor *ctc) {
    return nc_add(ctx, nc_scale(ctx, rnnt, (float)(1.0 - w)), nc_scale(ctx, ctc, (float)w));
}

nc_tensor *nc_hybrid_head_loss(nc_ctx *ctx, nc_hybrid_model *hm, const nc_asr_batch *b, nc_tensor *enc,
                               const int64_t *enc_len, nc_tensor *ctc_lp) {
    nc_tensor *l = nc_rnnt_head_loss(ctx, &hm->rnnt, b, enc, enc_len);
    /* training_step runs the CTC head only when its weight is > 0;
     * validation_pass always combines (at weight 0 the value is the same). */
    if (!ctc_lp && hm->ctc_loss_weight > 0) ctc_lp = nc_conv_asr_decoder_fwd(ctx, &hm->rnnt.base.decoder, enc);
    if (!ctc_lp) return l;
    return combine(ctx, hm->ctc_loss_weight, l, aux_ctc_loss(ctx, &hm->rnnt.base, b, ctc_lp, enc_len));
}

nc_status nc_hybrid_train_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    nc_hybrid_model *hm = m->impl;
    const nc_asr_batch *b = batch;
    int64_t *enc_len = nc_scratch(ctx, (size_t)b->batch_size * sizeof(int64_t));
    if (!enc_len) return nc_ctx_status(ctx);
    nc_tensor *enc = nc_rnnt_encode(ctx, &hm->rnnt, b, enc_len);
    *loss = nc_hybrid_head_loss(ctx, hm, b, enc, enc_len, NULL);
    return nc_ctx_status(ctx);
}

/* Greedy transducer hypotheses of the batch scored into the NC_CTC_SUM_* slots. */
static nc_status score_transducer(nc_ctx *ctx, nc_hybrid_model *hm, const nc_asr_batch *b, nc_tensor *enc,
                                  const int64_t *enc_len, double *sums) {
    int64_t B = b->batch_size;
    nc_rnnt_hyp *hyps = nc_calloc((size_t)B, sizeof *hyps);
    nc_status s = hyps ? nc_rnnt_greedy_decode(ctx, &hm->rnnt.decoder, &hm->rnnt.joint, enc, enc_len,
                                               &hm->rnnt.greedy, hyps)
                       : nc_error(NC_ERR_OOM, "validation decode");
    for (int64_t i = 0; i < B && !s; i++) {
        char *hyp = NULL;
        s = nc_ctc_ids_to_text(&hm->rnnt.base, hyps[i].tokens, hyps[i].n, &hyp);
        if (!s) s = nc_asr_score_target(&hm->rnnt.base, b, i, hyp, sums);
        nc_free(hyp);
    }
    if (hyps)
        for (int64_t i = 0; i < B; i++) nc_rnnt_hyp_free(&hyps[i]);
    nc_free(hyps);
    return s;
}

/* Greedy CTC hypotheses of the aux head's log-probs scored into the
 * NC_HYBRID_SUM_CTC_* slots; with aux_ctc.use_cer the "word" slots hold the
 * character counts, as NeMo's ctc_wer then reports a CER as val_wer_ctc. */
static nc_status score_ctc(nc_ctx *ctx, nc_hybrid_model *hm, const nc_asr_batch *b, nc_tensor *lp,
                           const int64_t *enc_len, double *sums) {
    int64_t B = b->batch_size;
    nc_ctc_model *cm = &hm->rnnt.base;
    nc_tensor *lens = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    nc_ctc_hyp *hyps = nc_calloc((size_t)B, sizeof *hyps);
    int64_t *ids = nc_malloc((size_t)(lp->shape[1] > 0 ? lp->shape[1] : 1) * sizeof(int64_t));
    nc_status s = lens && hyps && ids ? nc_ctc_greedy_decode(lp, lens, nc_conv_asr_decoder_blank(&cm->decoder), hyps)
                                      : nc_error(NC_ERR_OOM, "validation decode");
    double part[NC_CTC_N_SUMS] = {0};
    for (int64_t i = 0; i < B && !s; i++) {
        char *hyp = NULL;
        for (int64_t k = 0; k < hyps[i].n_tokens; k++) ids[k] = hyps[i].tokens[k].id;
        s = nc_ctc_ids_to_text(cm, ids, hyps[i].n_tokens, &hyp);
        if (!s) s = nc_asr_score_target(cm, b, i, hyp, part);
        nc_free(hyp);
    }
    if (!s) {
        sums[NC_HYBRID_SUM_CTC_WORD_ERRORS] += part[hm->use_cer ? NC_CTC_SUM_CHAR_ERRORS : NC_CTC_SUM_WORD_ERRORS];
        sums[NC_HYBRID_SUM_CTC_WORDS] += part[hm->use_cer ? NC_CTC_SUM_CHARS : NC_CTC_SUM_WORDS];
        sums[NC_HYBRID_SUM_CTC_CHAR_ERRORS] += part[NC_CTC_SUM_CHAR_ERRORS];
        sums[NC_HYBRID_SUM_CTC_CHARS] += part[NC_CTC_SUM_CHARS];
    }
    if (hyps)
        for (int64_t i = 0; i < B; i++) nc_ctc_hyp_free(&hyps[i]);
    nc_free(hyps);
    nc_free(ids);
    return s;
}

nc_status nc_hybrid_val_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    nc_hybrid_model *hm = m->impl;
    const nc_asr_batch *b = batch;
    bool prev_grad = nc_set_grad_enabled(ctx, false);
    bool prev_train = nc_training(ctx);
    nc_set_training(ctx, false);
    int64_t *enc_len = nc_scratch(ctx, (size_t)b->batch_size * sizeof(int64_t));
    nc_tensor *enc = enc_len ? nc_rnnt_encode(ctx, &hm->rnnt, b, enc_len) : NULL;
    nc_tensor *lp = enc ? nc_conv_asr_decoder_fwd(ctx, &hm->rnnt.base.decoder, enc) : NULL;
    nc_tensor *loss = NULL;
    /* validation_pass combines the losses whatever the weight (at 0 it is
     * the transducer's); compute_eval_loss=false leaves val_loss out. */
    if (lp && hm->compute_eval_loss) loss = nc_hybrid_head_loss(ctx, hm, b, enc, enc_len, lp);
    nc_status s = nc_ctx_status(ctx);
    if (!s && loss) {
        sums[NC_CTC_SUM_LOSS] += nc_f32(loss)[0];
        sums[NC_CTC_SUM_BATCHES] += 1;
    }
    if (!s) s = score_transducer(ctx, hm, b, enc, enc_len, sums);
    /* NeMo logs val_wer_ctc only when ctc_loss_weight > 0 (multi_validation_epoch_end);
     * unscored, its sums stay 0 and the metric NaN, which the trainer leaves out. */
    if (!s && hm->ctc_loss_weight > 0) s = score_ctc(ctx, hm, b, lp, enc_len, sums);
    nc_set_grad_enabled(ctx, prev_grad);
    nc_set_training(ctx, prev_train);
    return s;
}
