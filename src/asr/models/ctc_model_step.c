/* EncDecCTCModel steps: training (CTC loss), validation (loss + greedy WER),
 * and batch transcription with greedy or beam decoding. */
#include <string.h>

#include "nemoc/alloc.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/wer.h"

/* Encoder + decoder on a loader batch: log-probs (B, T', V+1), encoded lengths. */
static nc_tensor *forward(nc_ctx *ctx, nc_ctc_model *cm, const nc_asr_batch *b, int64_t *enc_len) {
    nc_tensor *feats = nc_from_data(ctx, NC_F32, NC_DIMS(b->batch_size, b->n_feats, b->max_frames), b->feats);
    nc_tensor *enc = nc_conformer_fwd(ctx, &cm->encoder, feats, b->feat_len, enc_len);
    return nc_conv_asr_decoder_fwd(ctx, &cm->decoder, enc);
}

static nc_tensor *ctc_loss(nc_ctx *ctx, nc_ctc_model *cm, const nc_asr_batch *b, nc_tensor *lp,
                           const int64_t *enc_len) {
    int64_t B = b->batch_size;
    int64_t S = b->max_tokens > 0 ? b->max_tokens : 1;
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    nc_tensor *tg = b->max_tokens > 0 ? nc_from_data(ctx, NC_I64, NC_DIMS(B, S), b->tokens)
                                      : nc_zeros(ctx, NC_I64, NC_DIMS(B, S));
    nc_tensor *tl = nc_from_data(ctx, NC_I64, NC_DIMS(B), b->token_len);
    /* NeMo's models pass zero_infinity=True to CTCLoss. */
    return nc_ctc_loss(ctx, lp, tg, il, tl, nc_conv_asr_decoder_blank(&cm->decoder), cm->reduction, true);
}

nc_status nc_ctc_train_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    nc_ctc_model *cm = m->impl;
    const nc_asr_batch *b = batch;
    int64_t *enc_len = nc_scratch(ctx, (size_t)b->batch_size * sizeof(int64_t));
    if (!enc_len) return nc_ctx_status(ctx);
    nc_tensor *lp = forward(ctx, cm, b, enc_len);
    *loss = ctc_loss(ctx, cm, b, lp, enc_len);
    return nc_ctx_status(ctx);
}

nc_status nc_ctc_ids_to_text(const nc_ctc_model *cm, const int64_t *ids, int64_t n, char **text) {
    if (cm->bpe) {
        int32_t *tmp = nc_malloc((size_t)(n ? n : 1) * sizeof(int32_t));
        if (!tmp) return nc_error(NC_ERR_OOM, "decode");
        for (int64_t i = 0; i < n; i++) tmp[i] = (int32_t)ids[i];
        nc_status s = nc_tokenizer_decode(cm->tokenizer, tmp, n, text);
        nc_free(tmp);
        return s;
    }
    size_t len = 1;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < cm->vocab_size) len += strlen(cm->pieces[ids[i]]);
    char *t = nc_malloc(len);
    if (!t) return nc_error(NC_ERR_OOM, "decode");
    size_t o = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= cm->vocab_size) continue;
        size_t l = strlen(cm->pieces[ids[i]]);
        memcpy(t + o, cm->pieces[ids[i]], l);
        o += l;
    }
    t[o] = 0;
    *text = t;
    return NC_OK;
}

static nc_status hyp_text(const nc_ctc_model *cm, const nc_ctc_hyp *h, char **text) {
    int64_t *ids = nc_malloc((size_t)(h->n_tokens ? h->n_tokens : 1) * sizeof(int64_t));
    if (!ids) return nc_error(NC_ERR_OOM, "decode");
    for (int64_t i = 0; i < h->n_tokens; i++) ids[i] = h->tokens[i].id;
    nc_status s = nc_ctc_ids_to_text(cm, ids, h->n_tokens, text);
    nc_free(ids);
    return s;
}

nc_status nc_ctc_val_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    nc_ctc_model *cm = m->impl;
    const nc_asr_batch *b = batch;
    int64_t B = b->batch_size;
    bool prev_grad = nc_set_grad_enabled(ctx, false);
    bool prev_train = nc_training(ctx);
    nc_set_training(ctx, false);
    int64_t *enc_len = nc_scratch(ctx, (size_t)B * sizeof(int64_t));
    nc_tensor *lp = enc_len ? forward(ctx, cm, b, enc_len) : NULL;
    nc_tensor *loss = lp ? ctc_loss(ctx, cm, b, lp, enc_len) : NULL;
    nc_set_grad_enabled(ctx, prev_grad);
    nc_set_training(ctx, prev_train);
    nc_status s = nc_ctx_status(ctx);
    if (s) return s;
    sums[NC_CTC_SUM_LOSS] += nc_f32(loss)[0];
    sums[NC_CTC_SUM_BATCHES] += 1;
    nc_tensor *lens = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    nc_ctc_hyp *hyps = nc_calloc((size_t)B, sizeof *hyps);
    if (!lens || !hyps) {
        nc_free(hyps);
        return nc_error(NC_ERR_OOM, "validation decode");
    }
    s = nc_ctc_greedy_decode(lp, lens, nc_conv_asr_decoder_blank(&cm->decoder), hyps);
    for (int64_t i = 0; i < B && !s; i++) {
        char *hyp = NULL;
        s = hyp_text(cm, &hyps[i], &hyp);
        if (!s) s = nc_asr_score_target(cm, b, i, hyp, sums);
        nc_free(hyp);
    }
    for (int64_t i = 0; i < B; i++) nc_ctc_hyp_free(&hyps[i]);
    nc_free(hyps);
    return s;
}

nc_status nc_asr_add_edit_sums(const char *ref, const char *hyp, double *sums, nc_edit_counts *w, nc_edit_counts *c) {
    nc_edit_counts wc, cc;
    nc_status s = nc_wer_counts(ref, hyp, &wc);
    if (!s) s = nc_cer_counts(ref, hyp, &cc);
    if (s) return s;
    sums[NC_CTC_SUM_WORD_ERRORS] += (double)nc_edit_errors(&wc);
    sums[NC_CTC_SUM_WORDS] += (double)wc.ref_len;
    sums[NC_CTC_SUM_CHAR_ERRORS] += (double)nc_edit_errors(&cc);
    sums[NC_CTC_SUM_CHARS] += (double)cc.ref_len;
    if (w) *w = wc;
    if (c) *c = cc;
    return NC_OK;
}

nc_status nc_asr_score_target(const nc_ctc_model *cm, const nc_asr_batch *b, int64_t i, const char *hyp,
                              double *sums) {
    char *ref = NULL;
    nc_status s = nc_ctc_ids_to_text(cm, b->tokens + i * b->max_tokens, b->token_len[i], &ref);
    if (!s) s = nc_asr_add_edit_sums(ref, hyp, sums, NULL, NULL);
    nc_free(ref);
    return s;
}

void nc_asr_hyp_free(nc_asr_hyp *h) {
    nc_free(h->text);
    nc_free(h->log_probs);
    nc_ctc_hyp_free(&h->hyp);
    nc_free(h->words);
    memset(h, 0, sizeof *h);
}

nc_status nc_ctc_transcribe_batch(nc_model *m, nc_ctx *ctx, const nc_asr_batch *b,
                                  const nc_transcribe_params *p, nc_asr_hyp *hyps) {
    nc_ctc_model *cm = m->impl;
    int64_t B = b->batch_size;
    bool prev_grad = nc_set_grad_enabled(ctx, false);
    bool prev_train = nc_training(ctx);
    nc_set_training(ctx, false);
    int64_t *enc_len = nc_scratch(ctx, (size_t)B * sizeof(int64_t));
    nc_tensor *lp = enc_len ? forward(ctx, cm, b, enc_len) : NULL;
    nc_set_grad_enabled(ctx, prev_grad);
    nc_set_training(ctx, prev_train);
    nc_status s = nc_ctx_status(ctx);
    if (s) return s;
    nc_tensor *lens = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    if (!lens) return nc_ctx_status(ctx);
    return nc_ctc_decode_log_probs(cm, lp, lens, p, hyps);
}

nc_status nc_ctc_decode_log_probs(const nc_ctc_model *cm, const nc_tensor *lp, const nc_tensor *lens,
                                  const nc_transcribe_params *p, nc_asr_hyp *hyps) {
    const int64_t B = lp->shape[0];
    nc_status s = NC_OK;
    int64_t blank = nc_conv_asr_decoder_blank(&cm->decoder);
    memset(hyps, 0, (size_t)B * sizeof *hyps);
    nc_ctc_hyp *raw = nc_calloc((size_t)B, sizeof *raw);
    if (!raw) return nc_error(NC_ERR_OOM, "transcribe");
    if (p->beam_size > 1) {
        nc_ctc_beam_params bp = nc_ctc_beam_default_params();
        bp.beam_size = p->beam_size;
        nc_ctc_nbest *nb = nc_calloc((size_t)B, sizeof *nb);
        if (!nb) {
            nc_free(raw);
            return nc_error(NC_ERR_OOM, "transcribe");
        }
        s = nc_ctc_beam_decode(lp, lens, blank, &bp, nb);
        for (int64_t i = 0; i < B && !s; i++) {
            /* keep the best hypothesis, free the rest */
            raw[i] = nb[i].hyps[0];
            memset(&nb[i].hyps[0], 0, sizeof nb[i].hyps[0]);
        }
        for (int64_t i = 0; i < B; i++) nc_ctc_nbest_free(&nb[i]);
        nc_free(nb);
    } else {
        s = nc_ctc_greedy_decode(lp, lens, blank, raw);
    }
    for (int64_t i = 0; i < B && !s; i++) {
        hyps[i].hyp = raw[i];
        memset(&raw[i], 0, sizeof raw[i]);
        s = hyp_text(cm, &hyps[i].hyp, &hyps[i].text);
        if (!s && p->log_probs) {
            /* the utterance's valid frames of lp (B, T, V+1) */
            const int64_t T = nc_i64(lens)[i], V1 = lp->shape[2];
            hyps[i].log_probs = nc_malloc((size_t)(T > 0 ? T : 1) * (size_t)V1 * sizeof(float));
            if (!hyps[i].log_probs) s = nc_error(NC_ERR_OOM, "log-probs of %lld frames", (long long)T);
            else memcpy(hyps[i].log_probs, nc_f32(lp) + i * lp->shape[1] * V1, (size_t)(T * V1) * sizeof(float));
            hyps[i].n_frames = T;
        }
        if (!s && p->timestamps) {
            nc_ctc_fill_offsets(&hyps[i].hyp);
            s = nc_ctc_word_offsets(&hyps[i].hyp, cm->kinds, cm->vocab_size, cm->frame_seconds,
                                    &hyps[i].words, &hyps[i].n_words);
        }
    }
    for (int64_t i = 0; i < B; i++) nc_ctc_hyp_free(&raw[i]);
    nc_free(raw);
    if (s)
        for (int64_t i = 0; i < B; i++) nc_asr_hyp_free(&hyps[i]);
    return s;
}
