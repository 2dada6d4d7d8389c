/* A hybrid TDT-CTC .nemo made by NeMo's own modules (tests/ref/gen_hybrid_nemo.py:
 * AudioToMelSpectrogramPreprocessor, FastConformer ConformerEncoder,
 * RNNTDecoder, RNNTJoint with TDT durations, ConvASRDecoder as ctc_decoder,
 * packed with EncDecHybridRNNTCTCModel's target and config keys) loads into
 * nemoc (every state_dict key by name and shape), and on NeMo's features of
 * four utterances (one zero-padded batch, eval mode) gives:
 *   encoded lengths equal, encoder outputs within 1e-4 absolute at valid frames;
 *   the CTC head's log-probs within 1e-4 absolute at valid frames;
 *   greedy TDT tokens identical to NeMo's GreedyTDTInfer (max_symbols 10);
 * and transcribes the same batch through the two batch paths a hybrid uses
 * (decoder_type=ctc: the text of NeMo's greedy CTC decoding of its log-probs;
 * decoder_type=rnnt: one character per TDT token). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asr/models/hybrid_model.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"

#define TOL 1e-4

int main(void) {
    CHECK_OK(nc_register_collections());
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", nc_test_src("tests/ref/hybrid_nemo"));
    snprintf(path, sizeof path, "%s/model.nemo", dir);
    nc_model *m = NULL;
    CHECK_OK(nc_model_load(path, &m));
    nc_hybrid_model *hm = m ? nc_hybrid_of(m) : NULL;
    CHECK(hm && m->cls == &nc_hybrid_model_class && hm->rnnt.tdt);
    nc_tensor *feats = nc_test_npy(dir, "feats"), *fl = nc_test_npy(dir, "feat_lengths");
    nc_tensor *enc_ref = nc_test_npy(dir, "encoded"), *el_ref = nc_test_npy(dir, "encoded_lengths");
    nc_tensor *lp_ref = nc_test_npy(dir, "ctc_log_probs");
    nc_tensor *tok_ref = nc_test_npy(dir, "tdt_tokens"), *tl_ref = nc_test_npy(dir, "tdt_lens");
    if (!hm || !feats || !fl || !enc_ref || !el_ref || !lp_ref || !tok_ref || !tl_ref) goto done;
    const int64_t B = feats->shape[0], F = feats->shape[1], T = feats->shape[2];
    const int64_t T2 = enc_ref->shape[1], D = enc_ref->shape[2], V1 = lp_ref->shape[2];
    nc_asr_batch b = {.batch_size = B, .feats = nc_f32(feats), .n_feats = F, .max_frames = T,
                      .feat_len = nc_i64(fl)};
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_grad_enabled(ctx, false);
    nc_set_training(ctx, false);
    int64_t enc_len[16] = {0};
    CHECK(B <= 16);
    nc_tensor *enc = nc_rnnt_encode(ctx, &hm->rnnt, &b, enc_len);
    nc_tensor *lp = enc ? nc_conv_asr_decoder_fwd(ctx, &hm->rnnt.base.decoder, enc) : NULL;
    CHECK_OK(nc_ctx_status(ctx));
    if (!lp) goto free_ctx;
    CHECK(enc->shape[1] == T2 && enc->shape[2] == D && lp->shape[2] == V1);
    double enc_worst = 0, lp_worst = 0;
    for (int64_t i = 0; i < B; i++) {
        CHECK(enc_len[i] == nc_i64(el_ref)[i]);
        for (int64_t t = 0; t < nc_i64(el_ref)[i]; t++) {
            for (int64_t c = 0; c < D; c++) {
                double d = fabs(nc_f32(enc)[(i * T2 + t) * D + c] - nc_f32(enc_ref)[(i * T2 + t) * D + c]);
                if (d > enc_worst) enc_worst = d;
            }
            for (int64_t v = 0; v < V1; v++) {
                double d = fabs(nc_f32(lp)[(i * T2 + t) * V1 + v] - nc_f32(lp_ref)[(i * T2 + t) * V1 + v]);
                if (d > lp_worst) lp_worst = d;
            }
        }
    }
    printf("encoder max |diff| %.3g, ctc_decoder log-probs max |diff| %.3g (tolerance %g)\n", enc_worst, lp_worst,
           TOL);
    CHECK(enc_worst <= TOL && lp_worst <= TOL);
    /* Greedy TDT on nemoc's encoder output, against NeMo's GreedyTDTInfer. */
    nc_rnnt_hyp hyps[16];
    memset(hyps, 0, sizeof hyps);
    CHECK_OK(nc_rnnt_greedy_decode(ctx, &hm->rnnt.decoder, &hm->rnnt.joint, enc, enc_len, &hm->rnnt.greedy, hyps));
    for (int64_t i = 0; i < B; i++) {
        bool same = hyps[i].n == nc_i64(tl_ref)[i];
        for (int64_t k = 0; same && k < hyps[i].n; k++)
            same = hyps[i].tokens[k] == nc_i64(tok_ref)[i * tok_ref->shape[1] + k];
        printf("utt%lld: %lld TDT tokens, %s NeMo's\n", (long long)i, (long long)hyps[i].n, same ? "as" : "NOT as");
        CHECK(same);
        nc_rnnt_hyp_free(&hyps[i]);
    }
    /* The batch through both transcription paths a hybrid uses (ctc_predict.c). */
    nc_ctx_reset(ctx);
    nc_asr_hyp out[16];
    nc_transcribe_params tp = {.beam_size = 1};
    CHECK_OK(nc_ctc_transcribe_batch(m, ctx, &b, &tp, out));
    for (int64_t i = 0; i < B; i++) {
        /* NeMo's greedy CTC text: argmax of its log-probs per valid frame, collapsed, blanks dropped. */
        char want[256] = "";
        size_t o = 0;
        for (int64_t t = 0, prev = -1; t < nc_i64(el_ref)[i] && o + 8 < sizeof want; t++) {
            const float *row = nc_f32(lp_ref) + (i * T2 + t) * V1;
            int64_t k = 0;
            for (int64_t v = 1; v < V1; v++)
                if (row[v] > row[k]) k = v;
            if (k != prev && k != V1 - 1)
                o += (size_t)snprintf(want + o, sizeof want - o, "%s", hm->rnnt.base.pieces[k]);
            prev = k;
        }
        CHECK(out[i].text && !strcmp(out[i].text, want));
        printf("utt%lld ctc: '%s' (NeMo's greedy: '%s')\n", (long long)i, out[i].text ? out[i].text : "", want);
        nc_asr_hyp_free(&out[i]);
    }
    nc_ctx_reset(ctx);
    CHECK_OK(nc_rnnt_transcribe_batch(m, ctx, &b, out));
    for (int64_t i = 0; i < B; i++) {
        CHECK(out[i].text && (int64_t)strlen(out[i].text) == nc_i64(tl_ref)[i]); /* one char per token */
        printf("utt%lld rnnt: '%s'\n", (long long)i, out[i].text ? out[i].text : "");
        nc_asr_hyp_free(&out[i]);
    }
free_ctx:
    nc_ctx_free(ctx);
done:;
    nc_tensor *all[] = {feats, fl, enc_ref, el_ref, lp_ref, tok_ref, tl_ref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_tensor_free(all[i]);
    nc_model_free(m);
    return nc_test_finish("hybrid_nemo");
}
