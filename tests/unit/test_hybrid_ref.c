/* The hybrid transducer + CTC loss of EncDecHybridRNNTCTCModel against
 * tests/ref/gen_hybrid.py: NeMo's own RNNTDecoder, RNNTJoint, ConvASRDecoder,
 * RNNTLoss ('pytorch' / 'tdt_pytorch') and CTCLoss with NeMo's reductions,
 * combined as training_step does, (1 - w) * transducer + w * CTC, on a fixed
 * random encoder output. The heads here are built by nemoc's hybrid model
 * from a config with the same sizes and keys, and the fixture's weights are
 * loaded into them under NeMo's state_dict names (decoder.*, joint.*,
 * ctc_decoder.decoder_layers.0.*): every one found, none left over.
 * Tolerances: the combined loss and its transducer part within 1e-5
 * relative; every head parameter gradient and the encoder-output gradient
 * max |diff| <= 1e-5 * max |want| per tensor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asr/models/hybrid_model.h"
#include "nc_test.h"
#include "nemoc/collections.h"

#define TOL 1e-5

static const char *const heads[] = {"decoder.", "joint.", "ctc_decoder.", NULL};

static bool is_head(const char *name) {
    for (int i = 0; heads[i]; i++)
        if (!strncmp(name, heads[i], strlen(heads[i]))) return true;
    return false;
}

static nc_model *build(const char *transducer, const char *aux) {
    char t[2048];
    snprintf(t, sizeof t,
             "model:\n"
             "  labels: [' ', 'a', 'b', 'c', 'd']\n"
             "  preprocessor: {features: 16, n_fft: 128, window_size: 0.008, window_stride: 0.004}\n"
             "  encoder: {feat_in: 16, n_layers: 1, d_model: 8, n_heads: 2, conv_kernel_size: 3,\n"
             "            subsampling_conv_channels: 4, dropout: 0.0, dropout_pre_encoder: 0.0,\n"
             "            dropout_emb: 0.0}\n"
             "  decoder: {blank_as_pad: true, prednet: {pred_hidden: 6, pred_rnn_layers: 1, dropout: 0.0}}\n"
             "  joint: {fuse_loss_wer: false, jointnet: {joint_hidden: 7, activation: relu, dropout: 0.0}}\n"
             "%s"
             "  aux_ctc:\n"
             "    decoder: {_target_: nemo.collections.asr.modules.ConvASRDecoder, feat_in: null,\n"
             "              num_classes: -1, vocabulary: []}\n"
             "%s",
             transducer, aux);
    nc_cfg *root = NULL, *mc = NULL;
    nc_model *m = NULL;
    CHECK_OK(nc_cfg_parse(t, strlen(t), "test", &root));
    CHECK_OK(nc_cfg_get_node(root, "model", &mc));
    CHECK_OK(nc_model_create(mc, "EncDecHybridRNNTCTCModel", &(nc_model_build_args){.seed = 1}, &m));
    nc_cfg_free(root);
    return m;
}

static void test_case(const char *name, const char *transducer, const char *aux) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", nc_test_src("tests/ref/hybrid"), name);
    nc_model *m = build(transducer, aux);
    nc_hybrid_model *hm = nc_hybrid_of(m);
    CHECK(hm != NULL);
    if (!hm) {
        nc_model_free(m);
        return;
    }
    /* Every head parameter from the fixture, by name and shape. */
    int n_heads = 0, n_loaded = 0;
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        nc_tensor *dst = nc_params_at(m->params, i);
        if (!is_head(dst->name)) continue;
        n_heads++;
        char key[512];
        snprintf(key, sizeof key, "w.%s", dst->name);
        nc_tensor *src = nc_test_npy(dir, key);
        CHECK(src != NULL);
        if (!src) continue;
        CHECK(nc_numel(src) == nc_numel(dst));
        if (nc_numel(src) == nc_numel(dst) && nc_tensor_convert(src, dst) == NC_OK) n_loaded++;
        nc_tensor_free(src);
    }
    printf("%s: %d head tensors loaded of %d\n", name, n_loaded, n_heads);
    CHECK(n_heads == 13 && n_loaded == n_heads);
    nc_tensor *enc0 = nc_test_npy(dir, "enc"), *tg0 = nc_test_npy(dir, "targets");
    nc_tensor *il0 = nc_test_npy(dir, "il"), *tl0 = nc_test_npy(dir, "tl");
    nc_tensor *loss_ref = nc_test_npy(dir, "loss"), *rnnt_ref = nc_test_npy(dir, "loss_rnnt");
    nc_tensor *ge_ref = nc_test_npy(dir, "grad_enc");
    CHECK(enc0 && tg0 && il0 && tl0 && loss_ref && rnnt_ref && ge_ref);
    if (!(enc0 && tg0 && il0 && tl0 && loss_ref && rnnt_ref && ge_ref)) goto done;
    nc_asr_batch b = {.batch_size = tg0->shape[0], .tokens = nc_i64(tg0), .max_tokens = tg0->shape[1],
                      .token_len = nc_i64(tl0)};
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, true);
    nc_set_grad_enabled(ctx, true);
    nc_params_zero_grad(m->params);
    nc_tensor *enc = nc_from_data(ctx, NC_F32, enc0->ndim, enc0->shape, enc0->data);
    nc_requires_grad(enc, true);
    nc_tensor *loss = nc_hybrid_head_loss(ctx, hm, &b, enc, nc_i64(il0), NULL);
    nc_tensor *rnnt = nc_rnnt_head_loss(ctx, &hm->rnnt, &b, enc, nc_i64(il0));
    CHECK_OK(nc_ctx_status(ctx));
    if (loss && rnnt) {
        printf("%s: loss %.7f (NeMo %.7f), transducer part %.7f (NeMo %.7f)\n", name, nc_f32(loss)[0],
               nc_f32(loss_ref)[0], nc_f32(rnnt)[0], nc_f32(rnnt_ref)[0]);
        CHECK_NEAR(nc_f32(loss)[0], nc_f32(loss_ref)[0], TOL * fabs(nc_f32(loss_ref)[0]));
        CHECK_NEAR(nc_f32(rnnt)[0], nc_f32(rnnt_ref)[0], TOL * fabs(nc_f32(rnnt_ref)[0]));
        CHECK_OK(nc_backward(ctx, loss));
        double worst = 0;
        const char *worst_name = "";
        for (int64_t i = 0; i < nc_params_count(m->params); i++) {
            nc_tensor *t = nc_params_at(m->params, i);
            if (!is_head(t->name)) continue;
            char key[512];
            snprintf(key, sizeof key, "grad.%s", t->name);
            nc_tensor *want = nc_test_npy(dir, key);
            CHECK(want && t->grad && nc_numel(want) == nc_numel(t));
            if (!want || !t->grad || nc_numel(want) != nc_numel(t)) {
                nc_tensor_free(want);
                continue;
            }
            double e = nc_test_rel_err(nc_f32(t->grad), nc_f32(want), nc_numel(want));
            if (e > worst) worst = e, worst_name = t->name;
            CHECK(e <= TOL);
            nc_tensor_free(want);
        }
        printf("%s: worst head gradient relative error %.3g (%s)\n", name, worst, worst_name);
        double e = nc_test_rel_err(nc_f32(enc->grad), nc_f32(ge_ref), nc_numel(ge_ref));
        printf("%s: encoder-output gradient relative error %.3g\n", name, e);
        CHECK(e <= TOL);
    }
    nc_ctx_free(ctx);
done:
    nc_tensor_free(enc0);
    nc_tensor_free(tg0);
    nc_tensor_free(il0);
    nc_tensor_free(tl0);
    nc_tensor_free(loss_ref);
    nc_tensor_free(rnnt_ref);
    nc_tensor_free(ge_ref);
    nc_model_free(m);
}

int main(void) {
    CHECK_OK(nc_register_collections());
    /* the case settings of gen_hybrid.py */
    test_case("rnnt",
              "  rnnt_reduction: mean_batch\n"
              "  loss: {loss_name: default}\n",
              "    ctc_loss_weight: 0.3\n"
              "    ctc_reduction: mean_batch\n");
    test_case("tdt",
              "  rnnt_reduction: mean_volume\n"
              "  loss: {loss_name: tdt, tdt_kwargs: {durations: [0, 1, 2, 3], sigma: 0.05, omega: 0.0}}\n",
              "    ctc_loss_weight: 0.5\n"
              "    ctc_reduction: mean\n");
    return nc_test_finish("hybrid_ref");
}
