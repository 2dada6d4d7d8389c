/* Gradient cases: normalisation, dropout and indexing ops. */
#include "gradcheck.h"

static nc_tensor *f_ln(nc_ctx *c, nc_tensor **x) { return nc_layer_norm(c, x[0], x[1], x[2], 1e-5f); }
static nc_tensor *f_ln_plain(nc_ctx *c, nc_tensor **x) { return nc_layer_norm(c, x[0], NULL, NULL, 1e-5f); }
static nc_tensor *f_ln_w(nc_ctx *c, nc_tensor **x) { return nc_layer_norm(c, x[0], x[1], NULL, 1e-3f); }
static nc_tensor *f_ln_b(nc_ctx *c, nc_tensor **x) { return nc_layer_norm(c, x[0], NULL, x[1], 1e-5f); }
/* inputs: x, weight, bias, running_mean, running_var */
static nc_tensor *f_bn(nc_ctx *c, nc_tensor **x) {
    return nc_batch_norm(c, x[0], x[1], x[2], x[3], x[4], NULL, 0.1f, 1e-5f);
}
static nc_tensor *f_bn_noaffine(nc_ctx *c, nc_tensor **x) {
    return nc_batch_norm(c, x[0], NULL, NULL, x[1], x[2], NULL, 0.1f, 1e-5f);
}
/* track_running_stats=False: batch statistics in eval too */
static nc_tensor *f_bn_nostats(nc_ctx *c, nc_tensor **x) {
    return nc_batch_norm(c, x[0], x[1], x[2], NULL, NULL, NULL, 0.1f, 1e-5f);
}
static nc_tensor *f_gn(nc_ctx *c, nc_tensor **x) { return nc_group_norm(c, x[0], 2, x[1], x[2], 1e-5f); }
static nc_tensor *f_gn1(nc_ctx *c, nc_tensor **x) { return nc_group_norm(c, x[0], 1, x[1], x[2], 1e-5f); }
static nc_tensor *f_gn_plain(nc_ctx *c, nc_tensor **x) { return nc_group_norm(c, x[0], 3, NULL, NULL, 1e-5f); }
static nc_tensor *f_gn_inst(nc_ctx *c, nc_tensor **x) { return nc_group_norm(c, x[0], 4, x[1], NULL, 1e-5f); }
static nc_tensor *f_drop(nc_ctx *c, nc_tensor **x) { return nc_dropout(c, x[0], 0.3f); }
static nc_tensor *f_drop_half(nc_ctx *c, nc_tensor **x) { return nc_dropout(c, x[0], 0.5f); }
static nc_tensor *f_drop_all(nc_ctx *c, nc_tensor **x) {
    /* p == 1: every output is 0 (gradient 0); the added input keeps the loss non-trivial */
    return nc_add(c, nc_dropout(c, x[0], 1.0f), x[1]);
}
static nc_tensor *f_gather1(nc_ctx *c, nc_tensor **x) { return nc_gather(c, x[0], 1, x[1]); }
static nc_tensor *f_gather0(nc_ctx *c, nc_tensor **x) { return nc_gather(c, x[0], 0, x[1]); }
static nc_tensor *f_gather_last(nc_ctx *c, nc_tensor **x) { return nc_gather(c, x[0], -1, x[1]); }
static nc_tensor *f_mfill(nc_ctx *c, nc_tensor **x) { return nc_masked_fill(c, x[0], x[1], -1e4f); }
static nc_tensor *f_mfill0(nc_ctx *c, nc_tensor **x) { return nc_masked_fill(c, x[0], x[1], 0.0f); }
static nc_tensor *f_emb(nc_ctx *c, nc_tensor **x) { return nc_embedding(c, x[0], x[1], -1); }
/* padding_idx rows still appear in the forward output but get no gradient,
 * which finite differences cannot see; so the case zeroes the padded
 * positions afterwards (as a model masks them) and FD then agrees. The
 * exclusion itself is checked directly in tests/unit/test_ops_norm.c. */
static nc_tensor *f_emb_pad(nc_ctx *c, nc_tensor **x) {
    int64_t n = nc_numel(x[1]);
    nc_tensor *m = nc_empty(c, NC_U8, NC_DIMS(n, 1));
    if (!m) return NULL;
    for (int64_t i = 0; i < n; i++) ((uint8_t *)m->data)[i] = nc_i64(x[1])[i] == 2;
    return nc_masked_fill(c, nc_embedding(c, x[0], x[1], 2), m, 0.0f);
}

#define BN_TRAIN(label_, fn_, n_, ...) \
    {.op = "batch_norm", .label = label_, .fn = fn_, .n_in = n_, .in = {__VA_ARGS__}, .train = true}
#define TRAIN_CASE(op_, label_, fn_, n_, ...) \
    {.op = op_, .label = label_, .fn = fn_, .n_in = n_, .in = {__VA_ARGS__}, .train = true}

static const gc_case cases[] = {
    GC_CASE("layer_norm", "2d no weight/bias", f_ln_plain, 1, IN(GC_GRAD, 4, 7)),
    GC_CASE("layer_norm", "3d affine", f_ln, 3, IN(GC_GRAD, 2, 3, 8), IN(GC_GRAD, 8), IN(GC_GRAD, 8)),
    GC_CASE("layer_norm", "weight only, eps 1e-3", f_ln_w, 2, IN(GC_GRAD, 5, 6), IN(GC_GRAD, 6)),
    GC_CASE("layer_norm", "bias only", f_ln_b, 2, IN(GC_GRAD, 3, 2, 5), IN(GC_GRAD, 5)),
    GC_CASE("layer_norm", "wide rows (C=70)", f_ln, 3, IN(GC_GRAD, 3, 70), IN(GC_GRAD, 70), IN(GC_GRAD, 70)),
    BN_TRAIN("train (N,C)", f_bn, 5, IN(GC_GRAD, 6, 3), IN(GC_GRAD, 3), IN(GC_GRAD, 3),
             IN(GC_CONST, 3), IN(GC_POS_CONST, 3)),
    BN_TRAIN("train (N,C,T)", f_bn, 5, IN(GC_GRAD, 3, 4, 5), IN(GC_GRAD, 4), IN(GC_GRAD, 4),
             IN(GC_CONST, 4), IN(GC_POS_CONST, 4)),
    BN_TRAIN("train (N,C,H,W)", f_bn, 5, IN(GC_GRAD, 2, 3, 2, 3), IN(GC_GRAD, 3), IN(GC_GRAD, 3),
             IN(GC_CONST, 3), IN(GC_POS_CONST, 3)),
    BN_TRAIN("train no affine", f_bn_noaffine, 3, IN(GC_GRAD, 2, 3, 6), IN(GC_CONST, 3),
             IN(GC_POS_CONST, 3)),
    BN_TRAIN("train no running stats", f_bn_nostats, 3, IN(GC_GRAD, 4, 2, 3), IN(GC_GRAD, 2),
             IN(GC_GRAD, 2)),
    GC_CASE("batch_norm", "eval (N,C)", f_bn, 5, IN(GC_GRAD, 5, 3), IN(GC_GRAD, 3), IN(GC_GRAD, 3),
            IN(GC_CONST, 3), IN(GC_POS_CONST, 3)),
    GC_CASE("batch_norm", "eval (N,C,T)", f_bn, 5, IN(GC_GRAD, 2, 4, 5), IN(GC_GRAD, 4),
            IN(GC_GRAD, 4), IN(GC_CONST, 4), IN(GC_POS_CONST, 4)),
    GC_CASE("batch_norm", "eval no affine", f_bn_noaffine, 3, IN(GC_GRAD, 2, 3, 4), IN(GC_CONST, 3),
            IN(GC_POS_CONST, 3)),
    GC_CASE("batch_norm", "eval no running stats", f_bn_nostats, 3, IN(GC_GRAD, 3, 2, 4),
            IN(GC_GRAD, 2), IN(GC_GRAD, 2)),
    GC_CASE("group_norm", "2 groups (N,C,T)", f_gn, 3, IN(GC_GRAD, 2, 4, 5), IN(GC_GRAD, 4), IN(GC_GRAD, 4)),
    GC_CASE("group_norm", "1 group", f_gn1, 3, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 3), IN(GC_GRAD, 3)),
    GC_CASE("group_norm", "3 groups no affine (N,C)", f_gn_plain, 1, IN(GC_GRAD, 4, 6)),
    GC_CASE("group_norm", "instance norm 4d", f_gn_inst, 2, IN(GC_GRAD, 2, 4, 2, 3), IN(GC_GRAD, 4)),
    TRAIN_CASE("dropout", "train p=0.3", f_drop, 1, IN(GC_GRAD, 4, 9)),
    TRAIN_CASE("dropout", "train p=0.5 3d", f_drop_half, 1, IN(GC_GRAD, 2, 3, 5)),
    TRAIN_CASE("dropout", "train p=1", f_drop_all, 2, IN(GC_GRAD, 3, 4), IN(GC_GRAD, 3, 4)),
    GC_CASE("dropout", "eval (identity)", f_drop, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("gather", "dim 1", f_gather1, 2, IN(GC_GRAD, 3, 5), GC_IDX(5, 3, 4)),
    GC_CASE("gather", "dim 0 smaller index", f_gather0, 2, IN(GC_GRAD, 4, 3), GC_IDX(4, 6, 2)),
    GC_CASE("gather", "last dim 3d", f_gather_last, 2, IN(GC_GRAD, 2, 3, 4), GC_IDX(4, 2, 3, 2)),
    GC_CASE("masked_fill", "same shape", f_mfill, 2, IN(GC_GRAD, 3, 4), {.kind = GC_MASK, .ndim = 2, .shape = {3, 4}}),
    GC_CASE("masked_fill", "attention mask (B,1,1,T)", f_mfill, 2, IN(GC_GRAD, 2, 2, 3, 4),
            {.kind = GC_MASK, .ndim = 4, .shape = {2, 1, 1, 4}}),
    GC_CASE("masked_fill", "column mask (T,1)", f_mfill0, 2, IN(GC_GRAD, 2, 5, 3),
            {.kind = GC_MASK, .ndim = 2, .shape = {5, 1}}),
    GC_CASE("embedding", "2d indices", f_emb, 2, IN(GC_GRAD, 6, 4), GC_IDX(6, 2, 5)),
    GC_CASE("embedding", "padding_idx 2", f_emb_pad, 2, IN(GC_GRAD, 5, 3), GC_IDX(5, 12)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
