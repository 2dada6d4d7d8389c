/* Gradient cases of the fused (B, T, C) ops (src/ops/ops_fused.c, ops_norm_cl.c). */
#include "gradcheck.h"

static const int64_t lens[2] = {4, 2};

static nc_tensor *f_ad(nc_ctx *c, nc_tensor **x) { return nc_add_dropout(c, x[0], x[1], 0.3f, 0.5f); }
static nc_tensor *f_ad_nodrop(nc_ctx *c, nc_tensor **x) { return nc_add_dropout(c, x[0], x[1], 0.0f, 1.0f); }
static nc_tensor *f_ad_all(nc_ctx *c, nc_tensor **x) { return nc_add_dropout(c, x[0], x[1], 1.0f, 2.0f); }
static nc_tensor *f_ad_same(nc_ctx *c, nc_tensor **x) {
    /* the same tensor on both sides: its gradient is g + alpha * mask * g */
    return nc_add_dropout(c, x[0], x[0], 0.5f, 0.5f);
}
static nc_tensor *f_sd(nc_ctx *c, nc_tensor **x) { return nc_silu_dropout(c, x[0], 0.25f); }
static nc_tensor *f_gm(nc_ctx *c, nc_tensor **x) { return nc_glu_mask(c, x[0], lens); }
static nc_tensor *f_gm_nolen(nc_ctx *c, nc_tensor **x) { return nc_glu_mask(c, x[0], NULL); }
static nc_tensor *f_dw(nc_ctx *c, nc_tensor **x) { return nc_dwconv1d_tc(c, x[0], x[1], x[2], 1, 1); }
static nc_tensor *f_dw_causal(nc_ctx *c, nc_tensor **x) { return nc_dwconv1d_tc(c, x[0], x[1], NULL, 3, 0); }
static nc_tensor *f_dw_wide(nc_ctx *c, nc_tensor **x) {
    /* 40 channels: the 16-wide and scalar channel tails; kernel longer than T */
    return nc_dwconv1d_tc(c, x[0], x[1], x[2], 4, 2);
}
static nc_tensor *f_bn_silu(nc_ctx *c, nc_tensor **x) {
    return nc_batch_norm_cl(c, x[0], x[1], x[2], x[3], x[4], NULL, 0.1f, 1e-5f, true);
}
static nc_tensor *f_bn_plain(nc_ctx *c, nc_tensor **x) {
    return nc_batch_norm_cl(c, x[0], x[1], x[2], NULL, NULL, NULL, 0.1f, 1e-5f, false);
}

#define TRAIN(op_, label_, fn_, n_, ...) \
    {.op = op_, .label = label_, .fn = fn_, .n_in = n_, .in = {__VA_ARGS__}, .train = true}

static const gc_case cases[] = {
    TRAIN("add_dropout", "train p=0.3 alpha 0.5", f_ad, 2, IN(GC_GRAD, 3, 4, 5), IN(GC_GRAD, 3, 4, 5)),
    TRAIN("add_dropout", "train p=1", f_ad_all, 2, IN(GC_GRAD, 3, 4), IN(GC_GRAD, 3, 4)),
    TRAIN("add_dropout", "same tensor twice", f_ad_same, 1, IN(GC_GRAD, 4, 6)),
    GC_CASE("add_dropout", "eval / p=0", f_ad_nodrop, 2, IN(GC_GRAD, 2, 3), IN(GC_GRAD, 2, 3)),
    TRAIN("silu_dropout", "train p=0.25", f_sd, 1, IN(GC_GRAD, 3, 700)),
    GC_CASE("silu_dropout", "eval", f_sd, 1, IN(GC_GRAD, 4, 5)),
    GC_CASE("glu_mask", "lengths", f_gm, 1, IN(GC_GRAD, 2, 4, 6)),
    GC_CASE("glu_mask", "no mask", f_gm_nolen, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("dwconv1d_tc", "k3 same padding", f_dw, 3, IN(GC_GRAD, 2, 6, 5), IN(GC_GRAD, 5, 1, 3),
            IN(GC_GRAD, 5)),
    GC_CASE("dwconv1d_tc", "k4 causal no bias", f_dw_causal, 2, IN(GC_GRAD, 2, 5, 3),
            IN(GC_GRAD, 3, 1, 4)),
    GC_CASE("dwconv1d_tc", "40 channels k7", f_dw_wide, 3, IN(GC_GRAD, 1, 5, 40),
            IN(GC_GRAD, 40, 1, 7), IN(GC_GRAD, 40)),
    TRAIN("batch_norm_cl", "train silu", f_bn_silu, 5, IN(GC_GRAD, 2, 5, 3), IN(GC_GRAD, 3),
          IN(GC_GRAD, 3), IN(GC_CONST, 3), IN(GC_POS_CONST, 3)),
    GC_CASE("batch_norm_cl", "eval silu", f_bn_silu, 5, IN(GC_GRAD, 2, 5, 3), IN(GC_GRAD, 3),
            IN(GC_GRAD, 3), IN(GC_CONST, 3), IN(GC_POS_CONST, 3)),
    TRAIN("batch_norm_cl", "train no silu, 40 rows", f_bn_plain, 3, IN(GC_GRAD, 40, 4),
          IN(GC_GRAD, 4), IN(GC_GRAD, 4)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
