/* EncDecRNNTModel from a tiny config: NeMo's state_dict names (encoder.*,
 * decoder.prediction.*, joint.*), one training step with a finite loss and
 * a finite, non-zero gradient for every parameter (RNN-T, TDT and
 * multi-blank), the validation sums, batch transcription (greedy and beam
 * from model.decoding, word timestamps after nc_rnnt_change_decoding), and
 * refused configs naming their key. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/collections.h"
#include "asr/models/rnnt_model.h"

/* joint_extra: more keys of model.joint (e.g. "num_extra_outputs: 3, ") */
static nc_model *build_j(const char *joint_extra, const char *extra, nc_status want) {
    char t[2048];
    snprintf(t, sizeof t,
             "model:\n"
             "  labels: [' ', 'a', 'b', 'c']\n"
             "  preprocessor: {features: 16, n_fft: 128, window_size: 0.008, window_stride: 0.004}\n"
             "  encoder: {feat_in: 16, n_layers: 1, d_model: 8, n_heads: 2, conv_kernel_size: 3,\n"
             "            subsampling_conv_channels: 4, dropout: 0.0, dropout_pre_encoder: 0.0,\n"
             "            dropout_emb: 0.0}\n"
             "  decoder: {vocab_size: 4, blank_as_pad: true,\n"
             "            prednet: {pred_hidden: 6, pred_rnn_layers: 1, dropout: 0.0}}\n"
             "  joint: {%snum_classes: 4, fuse_loss_wer: false,\n"
             "          jointnet: {joint_hidden: 10, activation: relu, dropout: 0.0}}\n"
             "%s",
             joint_extra, extra);
    nc_cfg *root = NULL, *mc = NULL;
    nc_model *m = NULL;
    CHECK_OK(nc_cfg_parse(t, strlen(t), "test", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    nc_status s = nc_model_create(mc, "EncDecRNNTModel", &(nc_model_build_args){.seed = 1}, &m);
    CHECK(s == want);
    if (s) printf("refused as expected: %s\n", nc_last_error());
    nc_cfg_free(root);
    return m;
}

static nc_model *build(const char *extra, nc_status want) { return build_j("", extra, want); }

typedef struct data {
    float feats[2 * 16 * 48];
    int64_t feat_len[2], tokens[2 * 3], token_len[2], index[2];
    nc_asr_batch batch;
} data;

static void make_batch(data *d) {
    for (int i = 0; i < 2 * 16 * 48; i++) d->feats[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    d->feat_len[0] = 48;
    d->feat_len[1] = 40;
    for (int i = 0; i < 6; i++) d->tokens[i] = 1 + i % 3;
    d->tokens[5] = 0; /* padding */
    d->token_len[0] = 3;
    d->token_len[1] = 2;
    d->index[0] = 0;
    d->index[1] = 1;
    d->batch = (nc_asr_batch){.batch_size = 2, .feats = d->feats, .n_feats = 16, .max_frames = 48,
                              .feat_len = d->feat_len, .tokens = d->tokens, .max_tokens = 3,
                              .token_len = d->token_len, .sample_index = d->index};
}

static void check_step(nc_model *m, int64_t n_out) {
    if (!m) return;
    nc_rnnt_model *rm = nc_rnnt_of(m);
    CHECK(rm && rm->joint.n_out == n_out);
    CHECK(nc_params_find(m->params, "encoder.layers.0.conv.pointwise_conv1.weight") != NULL);
    CHECK(nc_params_find(m->params, "decoder.prediction.embed.weight") != NULL);
    CHECK(nc_params_find(m->params, "decoder.prediction.dec_rnn.lstm.weight_ih_l0") != NULL);
    CHECK(nc_params_find(m->params, "joint.joint_net.1.weight") != NULL);
    CHECK(nc_params_find(m->params, "joint.enc.weight") != NULL);
    /* RNNTDecoder's reset: the blank (padding) row of the embedding is zero. */
    nc_tensor *emb = nc_params_find(m->params, "decoder.prediction.embed.weight");
    CHECK(emb && emb->shape[0] == 5 && nc_f32(emb)[4 * 6] == 0.0f);
    static data d;
    make_batch(&d);
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, true);
    nc_set_grad_enabled(ctx, true);
    nc_params_zero_grad(m->params);
    nc_tensor *loss = NULL;
    CHECK_OK(m->cls->training_step(m, ctx, &d.batch, &loss));
    CHECK(loss && isfinite(nc_f32(loss)[0]) && nc_f32(loss)[0] > 0);
    CHECK_OK(nc_backward(ctx, loss));
    const float *g = nc_params_flat_grad(m->params);
    int bad = 0;
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        int64_t off = nc_params_offset_at(m->params, i);
        if (off < 0) continue;
        nc_tensor *p = nc_params_at(m->params, i);
        double norm = 0;
        bool finite = true;
        for (int64_t k = 0; k < nc_numel(p); k++) {
            finite &= isfinite(g[off + k]) != 0;
            norm += (double)g[off + k] * g[off + k];
        }
        if (!finite || norm == 0) {
            printf("parameter %s: gradient %s\n", p->name, finite ? "zero" : "not finite");
            bad++;
        }
    }
    CHECK(bad == 0);
    printf("%s: loss %.4f, %lld parameter tensors with finite non-zero gradients\n", m->cls->target,
           nc_f32(loss)[0], (long long)nc_params_count(m->params));
    nc_ctx_reset(ctx);
    double sums[NC_CTC_N_SUMS] = {0};
    CHECK_OK(m->cls->validation_step(m, ctx, &d.batch, sums));
    CHECK(sums[NC_CTC_SUM_BATCHES] == 1 && isfinite(sums[NC_CTC_SUM_LOSS]) && sums[NC_CTC_SUM_WORDS] > 0 &&
          sums[NC_CTC_SUM_CHARS] == 5);
    CHECK(nc_training(ctx));
    /* Transcription of the batch: text for every utterance, the mode restored. */
    nc_ctx_reset(ctx);
    nc_asr_hyp hyps[2];
    CHECK_OK(nc_rnnt_transcribe_batch(m, ctx, &d.batch, hyps));
    CHECK(hyps[0].text && hyps[1].text && nc_training(ctx));
    for (int i = 0; i < 2; i++) nc_asr_hyp_free(&hyps[i]);
    nc_ctx_free(ctx);
}

/* TDT timestamps (greedy and greedy_batch): each token spans [frame, frame
 * + its predicted duration) as NeMo's _compute_offsets_tdt, the duration one
 * of the model's, the same from both decoders; TDT beam search refuses them. */
static void check_tdt_timestamps(nc_model *m) {
    if (!m) return;
    static data d;
    make_batch(&d);
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_asr_hyp hyps[2][2];
    int64_t n_tokens = 0;
    for (int strategy = 0; strategy < 2; strategy++) {
        CHECK_OK(nc_rnnt_change_decoding(m, strategy ? "greedy_batch" : "greedy", 0, true));
        CHECK_OK(nc_rnnt_transcribe_batch(m, ctx, &d.batch, hyps[strategy]));
        nc_ctx_reset(ctx);
    }
    for (int i = 0; i < 2 && !nc_test_failures; i++) {
        const nc_ctc_hyp *a = &hyps[0][i].hyp, *b = &hyps[1][i].hyp;
        CHECK(a->n_tokens == b->n_tokens);
        n_tokens += a->n_tokens;
        for (int64_t k = 0; k < a->n_tokens && k < b->n_tokens; k++) {
            const int64_t dur = a->tokens[k].end_offset - a->tokens[k].start_offset;
            CHECK(a->tokens[k].start_offset == a->tokens[k].frame);
            CHECK(dur >= 0 && dur <= 2); /* durations [0, 1, 2] */
            CHECK(b->tokens[k].start_offset == a->tokens[k].start_offset &&
                  b->tokens[k].end_offset == a->tokens[k].end_offset);
        }
        for (int64_t w = 0; w < hyps[0][i].n_words; w++)
            CHECK(hyps[0][i].words[w].start_offset <= hyps[0][i].words[w].end_offset);
    }
    printf("TDT greedy timestamps: %lld tokens\n", (long long)n_tokens);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 2; i++) nc_asr_hyp_free(&hyps[s][i]);
    CHECK(nc_rnnt_change_decoding(m, "beam", 2, true) == NC_ERR_UNSUPPORTED);
    CHECK(strstr(nc_last_error(), "TDT beam") != NULL);
    nc_ctx_free(ctx);
}

/* Beam decoding from the config, then transcription with timestamps
 * (nc_rnnt_change_decoding, as transcribe_speech.py): each token spans
 * [frame, frame + 1) as NeMo's RNN-T offsets, frames never go back, and each
 * word spans its tokens. */
static void check_decoding(nc_model *m) {
    if (!m) return;
    nc_rnnt_model *rm = nc_rnnt_of(m);
    CHECK(rm->beam && rm->beam_params.beam_size == 3 && !rm->beam_params.score_norm &&
          rm->beam_params.return_best_hypothesis);
    check_step(m, 5);
    static data d;
    make_batch(&d);
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    for (int strategy = 0; strategy < 2; strategy++) {
        CHECK_OK(nc_rnnt_change_decoding(m, strategy ? "beam" : "greedy_batch", 2, true));
        CHECK(rm->beam == (strategy == 1));
        nc_asr_hyp hyps[2];
        CHECK_OK(nc_rnnt_transcribe_batch(m, ctx, &d.batch, hyps));
        int64_t n_tokens = 0;
        for (int i = 0; i < 2 && !nc_test_failures; i++) {
            const nc_ctc_hyp *h = &hyps[i].hyp;
            n_tokens += h->n_tokens;
            for (int64_t k = 0; k < h->n_tokens; k++) {
                CHECK(h->tokens[k].start_offset == h->tokens[k].frame);
                CHECK(h->tokens[k].end_offset == h->tokens[k].frame + 1);
                CHECK(k == 0 || h->tokens[k].frame >= h->tokens[k - 1].frame);
            }
            for (int64_t w = 0; w < hyps[i].n_words; w++) {
                const nc_ctc_word *wd = &hyps[i].words[w];
                CHECK(wd->start_offset == h->tokens[wd->first_token].start_offset);
                CHECK(wd->end_offset == h->tokens[wd->last_token].end_offset);
                CHECK(wd->start_offset < wd->end_offset);
                CHECK(w == 0 || wd->start_offset >= hyps[i].words[w - 1].end_offset - 1);
            }
        }
        printf("%s decoding with timestamps: %lld tokens\n", strategy ? "beam" : "greedy", (long long)n_tokens);
        for (int i = 0; i < 2; i++) nc_asr_hyp_free(&hyps[i]);
        nc_ctx_reset(ctx);
    }
    CHECK(nc_rnnt_change_decoding(m, "maes", 2, false) == NC_ERR_UNSUPPORTED);
    CHECK(strstr(nc_last_error(), "rnnt_decoding.strategy") != NULL);
    CHECK(nc_rnnt_change_decoding(m, "beam", 0, false) == NC_ERR_CONFIG);
    nc_ctx_free(ctx);
}

int main(void) {
    CHECK_OK(nc_register_collections());
    nc_model *m = build("", NC_OK);
    check_step(m, 5);
    nc_model_free(m);
    m = build("  loss: {loss_name: tdt, tdt_kwargs: {durations: [0, 1, 2], sigma: 0.05, omega: 0.0}}\n"
              "  decoding: {strategy: greedy, greedy: {max_symbols: 5}}\n",
              NC_OK);
    check_step(m, 8);
    nc_model_free(m);
    m = build("  loss: {warprnnt_numba_kwargs: {fastemit_lambda: 0.001, clamp: 1.0}}\n", NC_OK);
    check_step(m, 5);
    nc_model_free(m);
    /* multi-blank (conf/conformer/multiblank/conformer_multiblank_transducer_bpe.yaml's
     * keys): the joint grows by the big blanks, the decoding takes the loss's durations */
    m = build("  loss: {loss_name: multiblank_rnnt,\n"
              "         multiblank_rnnt_kwargs: {big_blank_durations: [2, 4], sigma: 0.05}}\n",
              NC_OK);
    check_step(m, 7);
    if (m) {
        nc_rnnt_model *rm = nc_rnnt_of(m);
        CHECK(rm->multiblank && rm->loss.n_big_blanks == 2 && rm->loss.big_blank_durations[1] == 4);
        CHECK(fabs(rm->loss.sigma - 0.05) < 1e-12);
        CHECK(rm->greedy.n_big_blanks == 2 && rm->greedy.big_blank_durations[0] == 2);
        CHECK(rm->greedy.batched); /* NeMo's default strategy greedy_batch */
    }
    nc_model_free(m);
    m = build_j("num_extra_outputs: 3, ", "  decoding: {strategy: greedy}\n"
              "  loss: {loss_name: multiblank_rnnt, multiblank_rnnt_kwargs: {big_blank_durations: [2, 4, 8]}}\n",
              NC_OK);
    check_step(m, 8);
    if (m) CHECK(!nc_rnnt_of(m)->greedy.batched);
    nc_model_free(m);
    static const char *const bad_big[] = {"[]", "[4, 2]", "[1, 2]", "[2, 2]"};
    for (int i = 0; i < 4; i++) {
        char extra[256];
        snprintf(extra, sizeof extra,
                 "  loss: {loss_name: multiblank_rnnt, multiblank_rnnt_kwargs: {big_blank_durations: %s}}\n",
                 bad_big[i]);
        CHECK(build(extra, NC_ERR_CONFIG) == NULL);
        CHECK(strstr(nc_last_error(), "model.loss.multiblank_rnnt_kwargs.big_blank_durations") != NULL);
    }
    CHECK(build("  loss: {loss_name: multiblank_rnnt}\n", NC_ERR_CONFIG) == NULL); /* no durations */
    CHECK(strstr(nc_last_error(), "big_blank_durations") != NULL);
    CHECK(build_j("num_extra_outputs: 2, ",
                "  loss: {loss_name: multiblank_rnnt, multiblank_rnnt_kwargs: {big_blank_durations: [2, 4, 8]}}\n",
                NC_ERR_CONFIG) == NULL);
    CHECK(strstr(nc_last_error(), "model.joint.num_extra_outputs") != NULL);
    CHECK(build("  loss: {loss_name: multiblank_rnnt_pytorch}\n", NC_ERR_UNSUPPORTED) == NULL);
    /* NeMo has no multi-blank beam search */
    CHECK(build("  decoding: {strategy: beam}\n"
                "  loss: {loss_name: multiblank_rnnt, multiblank_rnnt_kwargs: {big_blank_durations: [2]}}\n",
                NC_ERR_UNSUPPORTED) == NULL);
    CHECK(strstr(nc_last_error(), "multi-blank") != NULL);
    m = build("  decoding: {strategy: beam, beam: {beam_size: 3, score_norm: false}}\n", NC_OK);
    check_decoding(m);
    nc_model_free(m);
    m = build("  loss: {loss_name: tdt, tdt_kwargs: {durations: [0, 1, 2]}}\n"
              "  decoding: {strategy: beam, beam: {beam_size: 2}}\n",
              NC_OK);
    check_step(m, 8);
    check_tdt_timestamps(m);
    nc_model_free(m);
    CHECK(build("  decoding: {strategy: tsd}\n", NC_ERR_UNSUPPORTED) == NULL);
    CHECK(strstr(nc_last_error(), "model.decoding.strategy") != NULL);
    CHECK(build("  decoding: {strategy: beam, beam: {search_type: maes}}\n", NC_ERR_UNSUPPORTED) == NULL);
    CHECK(strstr(nc_last_error(), "model.decoding.beam.search_type") != NULL);
    CHECK(build("  loss: {loss_name: warprnnt_gpu}\n", NC_ERR_UNSUPPORTED) == NULL);
    CHECK(strstr(nc_last_error(), "model.loss.loss_name") != NULL);
    CHECK(build("  loss: {loss_name: tdt, tdt_kwargs: {durations: [1, 2]}}\n", NC_ERR_CONFIG) == NULL);
    return nc_test_finish("rnnt_model");
}
