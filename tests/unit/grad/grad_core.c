/* Gradient cases: matmul family, element-wise, reductions, shape ops, softmax, losses. */
#include "gradcheck.h"


static nc_tensor *f_matmul(nc_ctx *c, nc_tensor **x) { return nc_matmul(c, x[0], x[1], false, false); }
static nc_tensor *f_matmul_tt(nc_ctx *c, nc_tensor **x) { return nc_matmul(c, x[0], x[1], true, true); }
static nc_tensor *f_matmul_tn(nc_ctx *c, nc_tensor **x) { return nc_matmul(c, x[0], x[1], true, false); }
static nc_tensor *f_matmul_nt(nc_ctx *c, nc_tensor **x) { return nc_matmul(c, x[0], x[1], false, true); }
static nc_tensor *f_linear(nc_ctx *c, nc_tensor **x) { return nc_linear(c, x[0], x[1], x[2]); }
static nc_tensor *f_linear_nob(nc_ctx *c, nc_tensor **x) { return nc_linear(c, x[0], x[1], NULL); }
static nc_tensor *f_add(nc_ctx *c, nc_tensor **x) { return nc_add(c, x[0], x[1]); }
static nc_tensor *f_sub(nc_ctx *c, nc_tensor **x) { return nc_sub(c, x[0], x[1]); }
static nc_tensor *f_mul(nc_ctx *c, nc_tensor **x) { return nc_mul(c, x[0], x[1]); }
static nc_tensor *f_div(nc_ctx *c, nc_tensor **x) { return nc_div(c, x[0], x[1]); }
static nc_tensor *f_add_scaled(nc_ctx *c, nc_tensor **x) { return nc_add_scaled(c, x[0], x[1], 0.5f); }
static nc_tensor *f_scale(nc_ctx *c, nc_tensor **x) { return nc_scale(c, x[0], -1.7f); }
static nc_tensor *f_add_scalar(nc_ctx *c, nc_tensor **x) { return nc_add_scalar(c, x[0], 0.3f); }
static nc_tensor *f_relu(nc_ctx *c, nc_tensor **x) { return nc_relu(c, x[0]); }
static nc_tensor *f_leaky(nc_ctx *c, nc_tensor **x) { return nc_leaky_relu(c, x[0], 0.1f); }
static nc_tensor *f_silu(nc_ctx *c, nc_tensor **x) { return nc_silu(c, x[0]); }
static nc_tensor *f_gelu(nc_ctx *c, nc_tensor **x) { return nc_gelu(c, x[0], false); }
static nc_tensor *f_gelu_tanh(nc_ctx *c, nc_tensor **x) { return nc_gelu(c, x[0], true); }
static nc_tensor *f_tanh(nc_ctx *c, nc_tensor **x) { return nc_tanh(c, x[0]); }
static nc_tensor *f_sigmoid(nc_ctx *c, nc_tensor **x) { return nc_sigmoid(c, x[0]); }
static nc_tensor *f_exp(nc_ctx *c, nc_tensor **x) { return nc_exp(c, x[0]); }
static nc_tensor *f_log(nc_ctx *c, nc_tensor **x) { return nc_log(c, x[0]); }
static nc_tensor *f_sqrt(nc_ctx *c, nc_tensor **x) { return nc_sqrt(c, x[0]); }
static nc_tensor *f_pow(nc_ctx *c, nc_tensor **x) { return nc_pow(c, x[0], 2.5f); }
static nc_tensor *f_glu(nc_ctx *c, nc_tensor **x) { return nc_glu(c, x[0], 1); }
static nc_tensor *f_glu_last(nc_ctx *c, nc_tensor **x) { return nc_glu(c, x[0], -1); }
static nc_tensor *f_sum1(nc_ctx *c, nc_tensor **x) { return nc_sum(c, x[0], 1, false); }
static nc_tensor *f_sum_all(nc_ctx *c, nc_tensor **x) { return nc_sum(c, x[0], NC_ALL_DIMS, false); }
static nc_tensor *f_mean_last(nc_ctx *c, nc_tensor **x) { return nc_mean(c, x[0], -1, true); }
static nc_tensor *f_mean_all(nc_ctx *c, nc_tensor **x) { return nc_mean(c, x[0], NC_ALL_DIMS, false); }
static nc_tensor *f_max0(nc_ctx *c, nc_tensor **x) { return nc_max(c, x[0], 0, false); }
static nc_tensor *f_max_last(nc_ctx *c, nc_tensor **x) { return nc_max(c, x[0], -1, true); }
static nc_tensor *f_reshape(nc_ctx *c, nc_tensor **x) {
    return nc_mul(c, nc_reshape(c, x[0], NC_DIMS(4, -1)), x[1]);
}
static nc_tensor *f_transpose(nc_ctx *c, nc_tensor **x) { return nc_transpose(c, x[0], 0, 2); }
static nc_tensor *f_permute(nc_ctx *c, nc_tensor **x) { return nc_permute(c, x[0], (int[]){2, 0, 3, 1}); }
static nc_tensor *f_slice(nc_ctx *c, nc_tensor **x) { return nc_slice(c, x[0], 1, 1, 6, 2); }
static nc_tensor *f_slice_neg(nc_ctx *c, nc_tensor **x) { return nc_slice(c, x[0], -1, -3, 100, 1); }
static nc_tensor *f_concat(nc_ctx *c, nc_tensor **x) { return nc_concat(c, 3, x, 1); }
static nc_tensor *f_pad(nc_ctx *c, nc_tensor **x) { return nc_pad(c, x[0], -1, 2, 1, 0.5f); }
static nc_tensor *f_pad_crop(nc_ctx *c, nc_tensor **x) { return nc_pad(c, x[0], 1, -1, 2, 0.0f); }
static nc_tensor *f_copy(nc_ctx *c, nc_tensor **x) { return nc_contiguous_copy(c, x[0]); }
static nc_tensor *f_cast(nc_ctx *c, nc_tensor **x) { return nc_cast(c, x[0], NC_F32); }
static nc_tensor *f_softmax(nc_ctx *c, nc_tensor **x) { return nc_softmax(c, x[0], -1); }
static nc_tensor *f_softmax_mid(nc_ctx *c, nc_tensor **x) { return nc_softmax(c, x[0], 1); }
static nc_tensor *f_log_softmax(nc_ctx *c, nc_tensor **x) { return nc_log_softmax(c, x[0], -1); }
static nc_tensor *f_log_softmax0(nc_ctx *c, nc_tensor **x) { return nc_log_softmax(c, x[0], 0); }
static nc_tensor *f_ce(nc_ctx *c, nc_tensor **x) {
    return nc_cross_entropy(c, x[0], x[1], -100, 0.0f, NC_REDUCE_MEAN);
}
static nc_tensor *f_ce_ignore_smooth(nc_ctx *c, nc_tensor **x) {
    /* targets are drawn in [0, 5); 2 is treated as ignore_index */
    return nc_cross_entropy(c, x[0], x[1], 2, 0.1f, NC_REDUCE_MEAN);
}
static nc_tensor *f_ce_none(nc_ctx *c, nc_tensor **x) {
    return nc_cross_entropy(c, x[0], x[1], -100, 0.2f, NC_REDUCE_NONE);
}
static nc_tensor *f_ce_sum(nc_ctx *c, nc_tensor **x) {
    return nc_cross_entropy(c, x[0], x[1], -100, 0.0f, NC_REDUCE_SUM);
}
static nc_tensor *f_rel_shift(nc_ctx *c, nc_tensor **x) { return nc_rel_shift(c, x[0]); }
static nc_tensor *f_mse(nc_ctx *c, nc_tensor **x) { return nc_mse_loss(c, x[0], x[1], NC_REDUCE_MEAN); }

static const gc_case cases[] = {
    GC_CASE("matmul", "2d", f_matmul, 2, IN(GC_GRAD, 3, 4), IN(GC_GRAD, 4, 5)),
    GC_CASE("matmul", "batched", f_matmul, 2, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 2, 4, 5)),
    GC_CASE("matmul", "batched shared b", f_matmul, 2, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 4, 5)),
    GC_CASE("matmul", "ta tb batched", f_matmul_tt, 2, IN(GC_GRAD, 2, 4, 3), IN(GC_GRAD, 2, 5, 4)),
    GC_CASE("matmul", "ta shared", f_matmul_tn, 2, IN(GC_GRAD, 2, 4, 3), IN(GC_GRAD, 4, 5)),
    GC_CASE("matmul", "tb shared", f_matmul_nt, 2, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 5, 4)),
    GC_CASE("matmul", "4d heads", f_matmul_nt, 2, IN(GC_GRAD, 2, 2, 3, 4), IN(GC_GRAD, 2, 2, 5, 4)),
    GC_CASE("linear", "bias 3d", f_linear, 3, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 5, 4), IN(GC_GRAD, 5)),
    GC_CASE("linear", "no bias", f_linear_nob, 2, IN(GC_GRAD, 6, 4), IN(GC_GRAD, 3, 4)),
    GC_CASE("add", "same", f_add, 2, IN(GC_GRAD, 3, 4), IN(GC_GRAD, 3, 4)),
    GC_CASE("add", "bias broadcast", f_add, 2, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 4)),
    GC_CASE("add", "middle broadcast", f_add, 2, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 2, 1, 4)),
    GC_CASE("add", "both broadcast", f_add, 2, IN(GC_GRAD, 3, 1), IN(GC_GRAD, 1, 4)),
    GC_CASE("sub", "broadcast", f_sub, 2, IN(GC_GRAD, 2, 3), IN(GC_GRAD, 2, 1)),
    GC_CASE("mul", "same", f_mul, 2, IN(GC_GRAD, 3, 4), IN(GC_GRAD, 3, 4)),
    GC_CASE("mul", "broadcast", f_mul, 2, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 3, 1)),
    GC_CASE("mul", "scalar", f_mul, 2, IN(GC_GRAD, 2, 3), GC_SCALAR(GC_GRAD)),
    GC_CASE("div", "broadcast", f_div, 2, IN(GC_GRAD, 2, 3), IN(GC_POS, 3)),
    GC_CASE("add_scaled", "residual", f_add_scaled, 2, IN(GC_GRAD, 2, 3), IN(GC_GRAD, 2, 3)),
    GC_CASE("scale", "", f_scale, 1, IN(GC_GRAD, 2, 3)),
    GC_CASE("add_scalar", "", f_add_scalar, 1, IN(GC_GRAD, 2, 3)),
    GC_CASE("relu", "", f_relu, 1, IN(GC_DISTINCT, 3, 5)),
    GC_CASE("leaky_relu", "", f_leaky, 1, IN(GC_DISTINCT, 3, 5)),
    GC_CASE("silu", "", f_silu, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("gelu", "erf", f_gelu, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("gelu_tanh", "tanh approximation", f_gelu_tanh, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("tanh", "", f_tanh, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("sigmoid", "", f_sigmoid, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("exp", "", f_exp, 1, IN(GC_GRAD, 3, 5)),
    GC_CASE("log", "", f_log, 1, IN(GC_POS, 3, 5)),
    GC_CASE("sqrt", "", f_sqrt, 1, IN(GC_POS, 3, 5)),
    GC_CASE("pow", "2.5", f_pow, 1, IN(GC_POS, 3, 5)),
    GC_CASE("glu", "channels", f_glu, 1, IN(GC_GRAD, 2, 6, 3)),
    GC_CASE("glu", "last dim", f_glu_last, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("sum", "dim 1", f_sum1, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("sum", "all", f_sum_all, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("mean", "last keepdim", f_mean_last, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("mean", "all", f_mean_all, 1, IN(GC_GRAD, 2, 3)),
    GC_CASE("max", "dim 0", f_max0, 1, IN(GC_DISTINCT, 3, 4)),
    GC_CASE("max", "last keepdim", f_max_last, 1, IN(GC_DISTINCT, 2, 3, 4)),
    GC_CASE("reshape", "-1", f_reshape, 2, IN(GC_GRAD, 2, 2, 6), IN(GC_GRAD, 4, 6)),
    GC_CASE("permute", "transpose 0 2", f_transpose, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("permute", "4d", f_permute, 1, IN(GC_GRAD, 2, 3, 4, 5)),
    GC_CASE("slice", "step 2", f_slice, 1, IN(GC_GRAD, 2, 7, 3)),
    GC_CASE("slice", "negative start", f_slice_neg, 1, IN(GC_GRAD, 2, 5)),
    GC_CASE("concat", "three", f_concat, 3, IN(GC_GRAD, 2, 1, 3), IN(GC_GRAD, 2, 2, 3), IN(GC_CONST, 2, 3, 3)),
    GC_CASE("pad", "last dim", f_pad, 1, IN(GC_GRAD, 2, 3, 4)),
    GC_CASE("pad", "crop left", f_pad_crop, 1, IN(GC_GRAD, 2, 4, 3)),
    GC_CASE("contiguous_copy", "", f_copy, 1, IN(GC_GRAD, 2, 3)),
    GC_CASE("cast", "f32 to f32", f_cast, 1, IN(GC_GRAD, 2, 3)),
    GC_CASE("softmax", "last", f_softmax, 1, IN(GC_GRAD, 3, 6)),
    GC_CASE("softmax", "middle dim", f_softmax_mid, 1, IN(GC_GRAD, 2, 5, 3)),
    GC_CASE("log_softmax", "last", f_log_softmax, 1, IN(GC_GRAD, 3, 6)),
    GC_CASE("log_softmax", "dim 0", f_log_softmax0, 1, IN(GC_GRAD, 4, 3)),
    GC_CASE("cross_entropy", "mean", f_ce, 2, IN(GC_GRAD, 6, 5), GC_IDX(5, 6)),
    GC_CASE("cross_entropy", "ignore + smoothing", f_ce_ignore_smooth, 2, IN(GC_GRAD, 8, 5), GC_IDX(5, 8)),
    GC_CASE("cross_entropy", "none + smoothing", f_ce_none, 2, IN(GC_GRAD, 4, 5), GC_IDX(5, 4)),
    GC_CASE("cross_entropy", "sum", f_ce_sum, 2, IN(GC_GRAD, 4, 5), GC_IDX(5, 4)),
    GC_CASE("rel_shift", "(B, H, T, 2T-1)", f_rel_shift, 1, IN(GC_GRAD, 2, 2, 4, 7)),
    GC_CASE("mse_loss", "mean", f_mse, 2, IN(GC_GRAD, 3, 4), IN(GC_GRAD, 3, 4)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
