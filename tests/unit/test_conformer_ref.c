/* Conformer-CTC (striding 4x) and FastConformer-CTC (dw_striding 8x) against
 * the PyTorch re-implementation of NeMo's modules (tests/ref/gen_conformer.py):
 * log-probs within 1e-4 relative (train and eval mode), the CTC loss
 * (mean_batch), every parameter gradient within 1e-3 relative, and the
 * BatchNorm running statistics after the training step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/conformer.h"
#include "nemoc/ctc.h"
#include "nemoc/conv_asr_decoder.h"

typedef struct spec {
    const char *name;
    nc_subsampling sub;
    int64_t factor, kernel, vocab;
} spec;

static void run(const spec *sp) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", nc_test_src("tests/ref/conformer"), sp->name);
    nc_conformer_cfg cfg = nc_conformer_default_cfg();
    cfg.feat_in = 40;
    cfg.n_layers = 2;
    cfg.d_model = 48;
    cfg.n_heads = 4;
    cfg.conv_kernel_size = sp->kernel;
    cfg.subsampling = sp->sub;
    cfg.subsampling_factor = sp->factor;
    cfg.subsampling_conv_channels = 16;
    cfg.dropout = cfg.dropout_pre_encoder = cfg.dropout_emb = cfg.dropout_att = 0.0f;
    nc_params *p;
    nc_conformer enc;
    nc_conv_asr_decoder dec;
    CHECK_OK(nc_params_create(&p));
    CHECK_OK(nc_conformer_init(&enc, p, "encoder", &cfg));
    CHECK_OK(nc_conv_asr_decoder_init(&dec, p, "decoder", cfg.d_model, sp->vocab));
    CHECK_OK(nc_params_finalize(p));
    CHECK(nc_test_load_params(p, dir, "w.") == (int)nc_params_count(p));
    nc_tensor *feats0 = nc_test_npy(dir, "feats"), *len0 = nc_test_npy(dir, "lengths");
    nc_tensor *tg0 = nc_test_npy(dir, "targets"), *tl0 = nc_test_npy(dir, "target_lengths");
    nc_tensor *lp_ref = nc_test_npy(dir, "log_probs"), *lp_eval = nc_test_npy(dir, "log_probs_eval");
    nc_tensor *enc_ref = nc_test_npy(dir, "encoded"), *el_ref = nc_test_npy(dir, "encoded_lengths");
    nc_tensor *loss_ref = nc_test_npy(dir, "loss");
    if (nc_test_failures) return;
    int64_t B = feats0->shape[0];
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    int64_t enc_len[16];

    /* Eval mode first: running statistics, no grad. */
    nc_set_training(ctx, false);
    nc_set_grad_enabled(ctx, false);
    nc_tensor *feats = nc_from_data(ctx, NC_F32, feats0->ndim, feats0->shape, feats0->data);
    nc_tensor *lp = nc_conv_asr_decoder_fwd(ctx, &dec, nc_conformer_fwd(ctx, &enc, feats, nc_i64(len0), enc_len));
    CHECK_OK(nc_ctx_status(ctx));
    if (lp) {
        double e = nc_test_rel_err(nc_f32(lp), nc_f32(lp_eval), nc_numel(lp_eval));
        printf("%s eval log-probs relative error %.3g\n", sp->name, e);
        CHECK(e <= 1e-4);
    }
    nc_ctx_reset(ctx);

    /* Training mode: batch statistics, loss and gradients. */
    nc_set_training(ctx, true);
    nc_set_grad_enabled(ctx, true);
    feats = nc_from_data(ctx, NC_F32, feats0->ndim, feats0->shape, feats0->data);
    nc_tensor *encoded = nc_conformer_fwd(ctx, &enc, feats, nc_i64(len0), enc_len);
    lp = nc_conv_asr_decoder_fwd(ctx, &dec, encoded);
    nc_tensor *il = nc_from_data(ctx, NC_I64, NC_DIMS(B), enc_len);
    nc_tensor *tg = nc_from_data(ctx, NC_I64, tg0->ndim, tg0->shape, tg0->data);
    nc_tensor *tl = nc_from_data(ctx, NC_I64, tl0->ndim, tl0->shape, tl0->data);
    nc_tensor *loss = nc_ctc_loss(ctx, lp, tg, il, tl, sp->vocab, NC_LOSS_MEAN_BATCH, true);
    CHECK_OK(nc_ctx_status(ctx));
    if (loss) {
        for (int64_t b = 0; b < B; b++) CHECK(enc_len[b] == nc_i64(el_ref)[b]);
        double ee = nc_test_rel_err(nc_f32(encoded), nc_f32(enc_ref), nc_numel(enc_ref));
        double e = nc_test_rel_err(nc_f32(lp), nc_f32(lp_ref), nc_numel(lp_ref));
        printf("%s encoder relative error %.3g, log-probs %.3g, loss %.6f (torch %.6f)\n", sp->name,
               ee, e, nc_f32(loss)[0], nc_f32(loss_ref)[0]);
        CHECK(ee <= 1e-4);
        CHECK(e <= 1e-4);
        CHECK_NEAR(nc_f32(loss)[0], nc_f32(loss_ref)[0], 1e-4 * fabs(nc_f32(loss_ref)[0]));
        CHECK_OK(nc_backward(ctx, loss));
        nc_test_check_grads(p, dir, "grad.", 1e-3);
        /* Running statistics after one training-mode forward. */
        for (int64_t i = 0; i < nc_params_count(p); i++) {
            nc_tensor *t = nc_params_at(p, i);
            if (!strstr(t->name, "running_")) continue;
            char n[600];
            snprintf(n, sizeof n, "after.%s", t->name);
            nc_tensor *want = nc_test_npy(dir, n);
            if (want) nc_test_allclose(n, nc_f32(t), nc_f32(want), nc_numel(want), 1e-5, 1e-6);
            nc_tensor_free(want);
        }
    }
    nc_ctx_free(ctx);
    nc_conformer_free(&enc);
    nc_params_free(p);
    nc_tensor *all[] = {feats0, len0, tg0, tl0, lp_ref, lp_eval, enc_ref, el_ref, loss_ref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_tensor_free(all[i]);
}

int main(void) {
    const spec specs[] = {
        {.name = "conformer_ctc", .sub = NC_SUBSAMPLING_STRIDING, .factor = 4, .kernel = 7, .vocab = 28},
        {.name = "fastconformer_ctc", .sub = NC_SUBSAMPLING_DW_STRIDING, .factor = 8, .kernel = 9, .vocab = 40},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) run(&specs[i]);
    return nc_test_finish("conformer_ref");
}
