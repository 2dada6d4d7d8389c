/* ConvSubsampling ('striding' and 'dw_striding') at subsampling_factor 2, 4,
 * 8, 16 and 32 against NeMo's own ConvSubsampling (tests/ref/gen_subsampling.py
 * runs nemo/collections/asr/parts/submodules/subsampling.py, with its
 * MaskedConvSequential time masks): dw_striding at 32 has nine convs, more
 * than the old fixed pre_conv[8] held. The encoder runs with n_layers 0 and
 * xscaling off, so its output is pre_encode's. Per case, in training mode
 * with gradients, on a batch of two (one padded):
 *   output (padded frames included) within 1e-5 of max(1, max|want|);
 *   encoded lengths equal;
 *   the gradient of sum(out * G) for every parameter within 1e-4 relative. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/conformer.h"
#include "nemoc/ops.h"

static void run(const char *dir, nc_subsampling kind, const char *kind_name, int64_t factor, const nc_tensor *x0,
                const nc_tensor *len0) {
    char name[64], pre[96];
    snprintf(name, sizeof name, "%s_%lld", kind_name, (long long)factor);
    nc_conformer_cfg cfg = nc_conformer_default_cfg();
    cfg.feat_in = x0->shape[2];
    cfg.n_layers = 0;
    cfg.d_model = 8;
    cfg.n_heads = 1;
    cfg.subsampling = kind;
    cfg.subsampling_factor = factor;
    cfg.subsampling_conv_channels = 4;
    cfg.xscaling = false;
    cfg.dropout = cfg.dropout_pre_encoder = cfg.dropout_emb = cfg.dropout_att = 0.0f;
    nc_params *p;
    nc_conformer enc;
    CHECK_OK(nc_params_create(&p));
    CHECK_OK(nc_conformer_init(&enc, p, "encoder", &cfg));
    CHECK_OK(nc_params_finalize(p));
    CHECK(enc.n_pre_conv == (kind == NC_SUBSAMPLING_STRIDING ? 1 : 2) * (int)log2((double)factor) -
                                (kind == NC_SUBSAMPLING_STRIDING ? 0 : 1));
    snprintf(pre, sizeof pre, "%s.w.", name);
    CHECK(nc_test_load_params(p, dir, pre) == (int)nc_params_count(p));
    char fn[128];
    snprintf(fn, sizeof fn, "%s.out", name);
    nc_tensor *want = nc_test_npy(dir, fn);
    snprintf(fn, sizeof fn, "%s.out_lengths", name);
    nc_tensor *want_len = nc_test_npy(dir, fn);
    snprintf(fn, sizeof fn, "%s.G", name);
    nc_tensor *G0 = nc_test_npy(dir, fn);
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    if (want && want_len && G0 && ctx) {
        nc_set_training(ctx, true);
        nc_set_grad_enabled(ctx, true);
        /* NeMo's input is (B, T, F); nemoc's encoder takes (B, F, T). */
        const int64_t B = x0->shape[0], T = x0->shape[1], F = x0->shape[2];
        nc_tensor *feats = nc_empty(ctx, NC_F32, NC_DIMS(B, F, T));
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t f = 0; f < F; f++) nc_f32(feats)[(b * F + f) * T + t] = nc_f32(x0)[(b * T + t) * F + f];
        int64_t out_len[2];
        nc_tensor *out = nc_conformer_fwd(ctx, &enc, feats, nc_i64(len0), out_len);
        CHECK_OK(nc_ctx_status(ctx));
        if (out) {
            CHECK(out->ndim == 3 && out->shape[1] == want->shape[1] && out->shape[2] == want->shape[2]);
            for (int64_t b = 0; b < B; b++) CHECK(out_len[b] == nc_i64(want_len)[b]);
            double e = nc_test_rel_err(nc_f32(out), nc_f32(want), nc_numel(want));
            printf("%s: %d convs, output %lld frames, relative error %.3g\n", name, enc.n_pre_conv,
                   (long long)out->shape[1], e);
            CHECK(e <= 1e-5);
            nc_tensor *G = nc_from_data(ctx, NC_F32, G0->ndim, G0->shape, G0->data);
            nc_tensor *prod = nc_reshape(ctx, nc_mul(ctx, out, G), NC_DIMS(nc_numel(out)));
            nc_tensor *loss = nc_sum(ctx, prod, 0, false);
            CHECK_OK(nc_ctx_status(ctx));
            if (loss) {
                CHECK_OK(nc_backward(ctx, loss));
                snprintf(pre, sizeof pre, "%s.g.", name);
                nc_test_check_grads(p, dir, pre, 1e-4);
            }
        }
    }
    nc_ctx_free(ctx);
    nc_tensor_free(want);
    nc_tensor_free(want_len);
    nc_tensor_free(G0);
    nc_conformer_free(&enc);
    nc_params_free(p);
}

int main(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", nc_test_src("tests/ref/subsampling"));
    nc_tensor *x0 = nc_test_npy(dir, "x"), *len0 = nc_test_npy(dir, "lengths");
    if (x0 && len0)
        for (int64_t f = 2; f <= 32; f *= 2) {
            run(dir, NC_SUBSAMPLING_STRIDING, "striding", f, x0, len0);
            run(dir, NC_SUBSAMPLING_DW_STRIDING, "dw_striding", f, x0, len0);
        }
    nc_tensor_free(x0);
    nc_tensor_free(len0);
    return nc_test_finish("subsampling");
}
