/* Core engine proof: a 2-layer pre-LN Transformer encoder stack (d=64, 4
 * heads, GELU MLP) with a cross-entropy head, against PyTorch
 * (tests/ref/gen_transformer.py): logits and every gradient within 1e-4
 * relative in fp32, and the losses of 3 AdamW steps within 1e-5. */
#include <math.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/nn.h"
#include "nemoc/optim.h"

typedef struct model {
    nc_params *p;
    nc_tfm_encoder_m enc;
    nc_linear_m head;
} model;

static nc_tensor *forward_loss(nc_ctx *ctx, model *m, nc_tensor *x, nc_tensor *pad,
                               nc_tensor *target, nc_tensor **logits_out) {
    nc_tensor *h = nc_tfm_encoder_fwd(ctx, &m->enc, x, pad);
    nc_tensor *logits = nc_linear_fwd(ctx, &m->head, h);
    if (logits_out) *logits_out = logits;
    int64_t C = m->head.weight->shape[0];
    nc_tensor *flat = nc_reshape(ctx, logits, NC_DIMS(-1, C));
    nc_tensor *tg = nc_reshape(ctx, target, NC_DIMS(-1));
    return nc_cross_entropy(ctx, flat, tg, -100, 0.0f, NC_REDUCE_MEAN);
}

int main(void) {
    const char *dir = nc_test_src("tests/ref/transformer");
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    model m = {0};
    CHECK_OK(nc_params_create(&m.p));
    CHECK_OK(nc_tfm_encoder_init(&m.enc, m.p, "", 2, 64, 4, 256, 0.0f));
    CHECK_OK(nc_linear_init(&m.head, m.p, "head", 64, 11, true));
    CHECK_OK(nc_params_finalize(m.p));
    CHECK(nc_test_load_params(m.p, d, "w.") == (int)nc_params_count(m.p));

    nc_tensor *x0 = nc_test_npy(d, "x"), *pad0 = nc_test_npy(d, "pad"), *tg0 = nc_test_npy(d, "target");
    nc_tensor *logits_ref = nc_test_npy(d, "logits"), *loss_ref = nc_test_npy(d, "loss");
    nc_tensor *gx_ref = nc_test_npy(d, "grad.x"), *adamw = nc_test_npy(d, "adamw_losses");
    if (nc_test_failures) return nc_test_finish("transformer_ref");

    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_tensor *x = nc_from_data(ctx, NC_F32, x0->ndim, x0->shape, x0->data);
    nc_tensor *pad = nc_from_data(ctx, NC_U8, pad0->ndim, pad0->shape, pad0->data);
    nc_tensor *tg = nc_from_data(ctx, NC_I64, tg0->ndim, tg0->shape, tg0->data);
    nc_requires_grad(x, true);
    nc_tensor *logits;
    nc_tensor *loss = forward_loss(ctx, &m, x, pad, tg, &logits);
    CHECK_OK(nc_ctx_status(ctx));
    if (loss) {
        double e = nc_test_rel_err(nc_f32(logits), nc_f32(logits_ref), nc_numel(logits_ref));
        printf("logits relative error %.3g\n", e);
        CHECK(e <= 1e-4);
        CHECK_NEAR(nc_f32(loss)[0], nc_f32(loss_ref)[0], 1e-5 * fabs(nc_f32(loss_ref)[0]));
        CHECK_OK(nc_backward(ctx, loss));
        double ex = nc_test_rel_err(nc_f32(x->grad), nc_f32(gx_ref), nc_numel(gx_ref));
        printf("input gradient relative error %.3g\n", ex);
        CHECK(ex <= 1e-4);
        nc_test_check_grads(m.p, d, "grad.", 1e-4);
    }
    nc_ctx_reset(ctx);

    /* Three AdamW steps (lr 1e-3, betas 0.9/0.98, eps 1e-8, wd 1e-3). */
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    op.lr = 1e-3;
    op.betas[0] = 0.9;
    op.betas[1] = 0.98;
    op.eps = 1e-8;
    op.weight_decay = 1e-3;
    nc_optim *opt;
    CHECK_OK(nc_optim_create(m.p, &op, &opt));
    for (int step = 0; step <= 3; step++) {
        nc_params_zero_grad(m.p);
        x = nc_from_data(ctx, NC_F32, x0->ndim, x0->shape, x0->data);
        pad = nc_from_data(ctx, NC_U8, pad0->ndim, pad0->shape, pad0->data);
        tg = nc_from_data(ctx, NC_I64, tg0->ndim, tg0->shape, tg0->data);
        loss = forward_loss(ctx, &m, x, pad, tg, NULL);
        CHECK_OK(nc_ctx_status(ctx));
        if (!loss) break;
        float want = nc_f32(adamw)[step];
        printf("adamw step %d loss %.7f (torch %.7f)\n", step, nc_f32(loss)[0], want);
        CHECK_NEAR(nc_f32(loss)[0], want, 1e-5 * fabs(want));
        if (step < 3) {
            CHECK_OK(nc_backward(ctx, loss));
            CHECK_OK(nc_optim_step(opt));
        }
        nc_ctx_reset(ctx);
    }
    nc_optim_free(opt);
    nc_ctx_free(ctx);
    nc_tfm_encoder_free(&m.enc);
    nc_params_free(m.p);
    nc_tensor *all[] = {x0, pad0, tg0, logits_ref, loss_ref, gx_ref, adamw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nc_tensor_free(all[i]);
    return nc_test_finish("transformer_ref");
}
