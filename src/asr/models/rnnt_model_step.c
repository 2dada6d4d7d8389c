/* EncDecRNNTModel steps (nemo/collections/asr/models/rnnt_models.py):
 * training_step (encoder -> decoder on the targets -> joint -> RNN-T/TDT/
 * multi-blank loss) and validation_step (the loss, and WER/CER of the model's
 * decoding, greedy or beam, as NeMo's WER metric with RNNTDecoding), and
 * transcription. */
#include <string.h>

#include "nemoc/alloc.h"
#include "asr/models/rnnt_model.h"
#include "nemoc/wer.h"

/* Encoder on a loader batch: (B, T', D), encoded lengths into enc_len. */
static nc_tensor *encode(nc_ctx *ctx, nc_rnnt_model *rm, const nc_asr_batch *b, int64_t *enc_len) {
    nc_tensor *feats = nc_from_data(ctx, NC_F32, NC_DIMS(b->batch_size, b->n_feats, b->max_frames), b->feats);
    return nc_conformer_fwd(ctx, &rm->base.encoder, feats, b->feat_len, enc_len);
}

/* decoder(targets) -> joint(enc, pred) -> loss, as EncDecRNNTModel.training_step
 * without fused_loss_wer. */
static nc_tensor *transducer_loss(nc_ctx *ctx, nc_rnnt_model *rm, const nc_asr_batch *b, nc_tensor *enc,
                                  const int64_t *enc_len) {
    int64_t B = b->batch_size;
    int64_t U = b->max_tokens > 0 ? b->max_tokens : 1;
    nc_tensor *tg = b->max_tokens > 0 ? nc_from_data(ctx, NC_I64, NC_DIMS(B, U), b->tokens)
                                      : nc_zeros(ctx, NC_I64, NC_DIMS(B, U));
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    nc_tensor *tl = nc_from_data(ctx, NC_I64, NC_DIMS(B), b->token_len);
    nc_tensor *pred = nc_rnnt_decoder_fwd(ctx, &rm->decoder, tg);
    if (rm->fused_batch_size > 0) {
        /* fuse_loss_wer: joint and loss per sub-batch, the logits never whole */
        const nc_rnnt_joint_loss_params fp = {
            .kind = rm->tdt ? NC_TRANSDUCER_TDT : rm->multiblank ? NC_TRANSDUCER_MULTIBLANK : NC_TRANSDUCER_RNNT,
            .loss = rm->loss,
            .activation = rm->joint.hp.activation, .dropout = rm->joint.hp.dropout,
            .fused_batch_size = rm->fused_batch_size};
        return nc_rnnt_joint_loss(ctx, nc_rnnt_joint_project_encoder(ctx, &rm->joint, enc),
                                  nc_rnnt_joint_project_prednet(ctx, &rm->joint, pred), rm->joint.out.weight,
                                  rm->joint.out.bias, tg, il, tl, &fp);
    }
    nc_tensor *logits = nc_rnnt_joint_fwd(ctx, &rm->joint, enc, pred);
    if (rm->tdt) return nc_tdt_loss(ctx, logits, tg, il, tl, &rm->loss);
    if (rm->multiblank) return nc_multiblank_rnnt_loss(ctx, logits, tg, il, tl, &rm->loss);
    return nc_rnnt_loss(ctx, logits, tg, il, tl, &rm->loss);
}

/* model.decoding on enc (B, T, D) into hyps[B]: greedy, or the best
 * hypothesis of beam search (RNNTDecoding keeps the first of the n-best). */
static nc_status decode(nc_ctx *ctx, const nc_rnnt_model *rm, nc_tensor *enc, const int64_t *enc_len,
                        nc_rnnt_hyp *hyps) {
    if (!rm->beam) return nc_rnnt_greedy_decode(ctx, &rm->decoder, &rm->joint, enc, enc_len, &rm->greedy, hyps);
    const int64_t B = enc->shape[0];
    nc_rnnt_nbest *nb = nc_calloc((size_t)(B > 0 ? B : 1), sizeof *nb);
    if (!nb) return nc_error(NC_ERR_OOM, "beam search results");
    nc_status s = nc_rnnt_beam_decode(ctx, &rm->decoder, &rm->joint, enc, enc_len, &rm->beam_params, nb);
    for (int64_t i = 0; i < B && !s; i++) {
        hyps[i] = nb[i].hyps[0];
        memset(&nb[i].hyps[0], 0, sizeof nb[i].hyps[0]);
    }
    for (int64_t i = 0; i < B; i++) nc_rnnt_nbest_free(&nb[i]);
    nc_free(nb);
    return s;
}

/* NeMo's RNN-T offsets (rnnt_decoding.py _compute_offsets over per-frame
 * alignments, one repetition per frame): a token emitted at frame t spans
 * [t, t + 1); TDT's (_compute_offsets_tdt): [t, t + its predicted
 * duration), which may be empty (duration 0). Then words as the CTC models
 * build them. */
static nc_status timestamps(const nc_ctc_model *cm, const nc_rnnt_hyp *r, nc_asr_hyp *h) {
    if (r->n > 0) {
        h->hyp.tokens = nc_malloc((size_t)r->n * sizeof *h->hyp.tokens);
        if (!h->hyp.tokens) return nc_error(NC_ERR_OOM, "timestamps of %lld tokens", (long long)r->n);
        h->hyp.n_tokens = r->n;
        for (int64_t k = 0; k < r->n; k++)
            h->hyp.tokens[k] = (nc_ctc_token){.id = r->tokens[k], .frame = r->frames[k], .last_frame = r->frames[k],
                                              .start_offset = r->frames[k],
                                              .end_offset = r->frames[k] + (r->durations ? r->durations[k] : 1)};
    }
    return nc_ctc_word_offsets(&h->hyp, cm->kinds, cm->vocab_size, cm->frame_seconds, &h->words, &h->n_words);
}

nc_status nc_rnnt_train_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    nc_rnnt_model *rm = m->impl;
    const nc_asr_batch *b = batch;
    int64_t *enc_len = nc_scratch(ctx, (size_t)b->batch_size * sizeof(int64_t));
    if (!enc_len) return nc_ctx_status(ctx);
    nc_tensor *enc = encode(ctx, rm, b, enc_len);
    *loss = transducer_loss(ctx, rm, b, enc, enc_len);
    return nc_ctx_status(ctx);
}

nc_status nc_rnnt_val_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    nc_rnnt_model *rm = m->impl;
    const nc_asr_batch *b = batch;
    int64_t B = b->batch_size;
    bool prev_grad = nc_set_grad_enabled(ctx, false);
    bool prev_train = nc_training(ctx);
    nc_set_training(ctx, false);
    int64_t *enc_len = nc_scratch(ctx, (size_t)B * sizeof(int64_t));
    nc_tensor *enc = enc_len ? encode(ctx, rm, b, enc_len) : NULL;
    nc_tensor *loss = enc ? transducer_loss(ctx, rm, b, enc, enc_len) : NULL;
    nc_status s = nc_ctx_status(ctx);
    nc_rnnt_hyp *hyps = NULL;
    if (!s) {
        sums[NC_CTC_SUM_LOSS] += nc_f32(loss)[0];
        sums[NC_CTC_SUM_BATCHES] += 1;
        hyps = nc_calloc((size_t)B, sizeof *hyps);
        s = hyps ? decode(ctx, rm, enc, enc_len, hyps) : nc_error(NC_ERR_OOM, "validation decode");
    }
    nc_set_grad_enabled(ctx, prev_grad);
    nc_set_training(ctx, prev_train);
    for (int64_t i = 0; i < B && !s; i++) {
        char *hyp = NULL;
        s = nc_ctc_ids_to_text(&rm->base, hyps[i].tokens, hyps[i].n, &hyp);
        if (!s) s = nc_asr_score_target(&rm->base, b, i, hyp, sums);
        nc_free(hyp);
    }
    if (hyps)
        for (int64_t i = 0; i < B; i++) nc_rnnt_hyp_free(&hyps[i]);
    nc_free(hyps);
    return s;
}

nc_status nc_rnnt_transcribe_batch(nc_model *m, nc_ctx *ctx, const nc_asr_batch *b, nc_asr_hyp *hyps) {
    nc_rnnt_model *rm = m->impl;
    int64_t B = b->batch_size;
    memset(hyps, 0, (size_t)B * sizeof *hyps);
    bool prev_grad = nc_set_grad_enabled(ctx, false);
    bool prev_train = nc_training(ctx);
    nc_set_training(ctx, false);
    int64_t *enc_len = nc_scratch(ctx, (size_t)B * sizeof(int64_t));
    nc_tensor *enc = enc_len ? encode(ctx, rm, b, enc_len) : NULL;
    nc_status s = nc_ctx_status(ctx);
    nc_rnnt_hyp *raw = NULL;
    if (!s) {
        raw = nc_calloc((size_t)B, sizeof *raw);
        s = raw ? decode(ctx, rm, enc, enc_len, raw) : nc_error(NC_ERR_OOM, "transcribe");
    }
    nc_set_grad_enabled(ctx, prev_grad);
    nc_set_training(ctx, prev_train);
    for (int64_t i = 0; i < B && !s; i++) {
        s = nc_ctc_ids_to_text(&rm->base, raw[i].tokens, raw[i].n, &hyps[i].text);
        hyps[i].hyp.score = raw[i].score;
        if (!s && rm->compute_timestamps) s = timestamps(&rm->base, &raw[i], &hyps[i]);
    }
    if (raw)
        for (int64_t i = 0; i < B; i++) nc_rnnt_hyp_free(&raw[i]);
    nc_free(raw);
    if (s)
        for (int64_t i = 0; i < B; i++) nc_asr_hyp_free(&hyps[i]);
    return s;
}

nc_tensor *nc_rnnt_encode(nc_ctx *ctx, nc_rnnt_model *rm, const nc_asr_batch *b, int64_t *enc_len) {
    return encode(ctx, rm, b, enc_len);
}

nc_tensor *nc_rnnt_head_loss(nc_ctx *ctx, nc_rnnt_model *rm, const nc_asr_batch *b, nc_tensor *enc,
                             const int64_t *enc_len) {
    return transducer_loss(ctx, rm, b, enc, enc_len);
}
