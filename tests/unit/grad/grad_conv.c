/* Gradient cases: conv1d, conv2d, conv_transpose1d, pooling, LSTM.
 * Shapes are small so the finite differences stay fast, but each case is
 * chosen to reach a different kernel path: im2col + gemm, the 1x1 gemm,
 * the depthwise row kernels (including their 16-wide interior tile), strided
 * and dilated taps, and grouped products. */
#include "gradcheck.h"

static nc_conv_params cp(int64_t s, int64_t pl, int64_t pr, int64_t d, int64_t groups) {
    nc_conv_params p = nc_conv_default_params();
    p.stride[0] = s, p.pad_left[0] = pl, p.pad_right[0] = pr, p.dilation[0] = d;
    p.groups = groups;
    return p;
}

/* ---- conv1d ---- */
static nc_tensor *f_c1_basic(nc_ctx *c, nc_tensor **x) {
    return nc_conv1d(c, x[0], x[1], x[2], NULL);
}
static nc_tensor *f_c1_stride(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 2, 1, 1, 1);
    return nc_conv1d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c1_causal(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 4, 0, 2, 1); /* k = 3, dilation 2: left (k-1)*d */
    return nc_conv1d(c, x[0], x[1], NULL, &p);
}
static nc_tensor *f_c1_groups(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 1, 1, 1, 2);
    return nc_conv1d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c1_dw_same(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 2, 2, 1, 4);
    return nc_conv1d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c1_dw_tile(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 1, 1, 1, 2);
    return nc_conv1d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c1_dw_causal(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 4, 0, 1, 2);
    return nc_conv1d(c, x[0], x[1], NULL, &p);
}
static nc_tensor *f_c1_dw_strided(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 2, 1, 2, 3);
    return nc_conv1d(c, x[0], x[1], NULL, &p);
}
static nc_tensor *f_c1_pointwise(nc_ctx *c, nc_tensor **x) {
    return nc_conv1d(c, x[0], x[1], x[2], NULL);
}
static nc_tensor *f_c1_pointwise_g2(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 0, 0, 1, 2);
    return nc_conv1d(c, x[0], x[1], NULL, &p);
}

/* ---- conv2d ---- */
static nc_tensor *f_c2_subsample(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 1, 1);
    p.stride[1] = 2, p.pad_left[1] = 1, p.pad_right[1] = 1;
    return nc_conv2d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c2_relu(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 1, 1);
    p.stride[1] = 2, p.pad_left[1] = 1, p.pad_right[1] = 1;
    return nc_conv2d_relu(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c2_groups_dil(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 1, 1, 2, 2);
    p.pad_left[1] = 2, p.pad_right[1] = 0, p.dilation[1] = 1;
    return nc_conv2d(c, x[0], x[1], NULL, &p);
}
static nc_tensor *f_c2_dw(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 1, 3);
    p.stride[1] = 2, p.pad_left[1] = 1, p.pad_right[1] = 1;
    return nc_conv2d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_c2_asym(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 1, 0, 1, 1);
    p.stride[1] = 2, p.pad_left[1] = 0, p.pad_right[1] = 1;
    return nc_conv2d(c, x[0], x[1], x[2], &p);
}

/* ---- channels-last conv2d (x (N, H, W, C)) ---- */
static nc_tensor *f_cl_sub_relu(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 1, 1);
    p.stride[1] = 2, p.pad_left[1] = 1, p.pad_right[1] = 1;
    return nc_conv2d_cl(c, x[0], x[1], x[2], &p, true);
}
static nc_tensor *f_cl_dw(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 1, 4);
    p.stride[1] = 2, p.pad_left[1] = 1, p.pad_right[1] = 1;
    return nc_conv2d_cl(c, x[0], x[1], x[2], &p, false);
}
static nc_tensor *f_cl_pointwise_relu(nc_ctx *c, nc_tensor **x) {
    return nc_conv2d_cl(c, x[0], x[1], x[2], NULL, true);
}
static nc_tensor *f_cl_dil_asym(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(1, 2, 0, 2, 1);
    p.stride[1] = 2, p.pad_left[1] = 0, p.pad_right[1] = 1, p.dilation[1] = 1;
    return nc_conv2d_cl(c, x[0], x[1], NULL, &p, false);
}

/* ---- conv_transpose1d ---- */
static nc_tensor *f_ct_s4(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(4, 2, 2, 1, 1);
    p.output_padding = 3;
    return nc_conv_transpose1d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_ct_groups(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 2, 2);
    p.output_padding = 1;
    return nc_conv_transpose1d(c, x[0], x[1], x[2], &p);
}
static nc_tensor *f_ct_dw(nc_ctx *c, nc_tensor **x) {
    nc_conv_params p = cp(2, 1, 1, 1, 3);
    return nc_conv_transpose1d(c, x[0], x[1], NULL, &p);
}

/* ---- pooling ---- */
static nc_tensor *f_max_k3s2p1(nc_ctx *c, nc_tensor **x) { return nc_max_pool1d(c, x[0], 3, 2, 1); }
static nc_tensor *f_max_k2(nc_ctx *c, nc_tensor **x) { return nc_max_pool1d(c, x[0], 2, 0, 0); }
static nc_tensor *f_avg_incl(nc_ctx *c, nc_tensor **x) { return nc_avg_pool1d(c, x[0], 3, 2, 1, true); }
static nc_tensor *f_avg_excl(nc_ctx *c, nc_tensor **x) { return nc_avg_pool1d(c, x[0], 3, 2, 1, false); }
static nc_tensor *f_avg_k4s3p2(nc_ctx *c, nc_tensor **x) { return nc_avg_pool1d(c, x[0], 4, 3, 2, false); }

/* ---- lstm ---- */
/* y, h_n and c_n stacked along T, so every output's gradient is checked. */
static nc_tensor *stack3(nc_ctx *c, nc_tensor *y, nc_tensor *hn, nc_tensor *cn) {
    nc_tensor *parts[3] = {y, hn, cn};
    if (!y || !hn || !cn) return NULL;
    return nc_concat(c, 3, parts, 0);
}
static nc_tensor *f_lstm2(nc_ctx *c, nc_tensor **x) {
    nc_lstm_weights w[2] = {{.w_ih = x[1], .w_hh = x[2], .b_ih = x[3], .b_hh = x[4]},
                            {.w_ih = x[5], .w_hh = x[6], .b_ih = x[7], .b_hh = x[8]}};
    nc_tensor *hn, *cn;
    nc_tensor *y = nc_lstm(c, x[0], 2, w, x[9], x[10], &hn, &cn);
    return stack3(c, y, hn, cn);
}
static nc_tensor *f_lstm1_plain(nc_ctx *c, nc_tensor **x) {
    nc_lstm_weights w = {.w_ih = x[1], .w_hh = x[2]};
    return nc_lstm(c, x[0], 1, &w, NULL, NULL, NULL, NULL);
}
static nc_tensor *f_lstm1_c0(nc_ctx *c, nc_tensor **x) {
    nc_lstm_weights w = {.w_ih = x[1], .w_hh = x[2], .b_hh = x[3]};
    nc_tensor *cn;
    nc_tensor *y = nc_lstm(c, x[0], 1, &w, NULL, x[4], NULL, &cn);
    nc_tensor *parts[2] = {y, cn};
    return y && cn ? nc_concat(c, 2, parts, 0) : NULL;
}

static const gc_case cases[] = {
    GC_CASE("conv1d", "bias", f_c1_basic, 3, IN(GC_GRAD, 2, 3, 7), IN(GC_GRAD, 4, 3, 3), IN(GC_GRAD, 4)),
    GC_CASE("conv1d", "stride 2 pad 2/1", f_c1_stride, 3, IN(GC_GRAD, 2, 3, 9), IN(GC_GRAD, 4, 3, 3), IN(GC_GRAD, 4)),
    GC_CASE("conv1d", "causal k3 dilation 2", f_c1_causal, 2, IN(GC_GRAD, 2, 2, 8), IN(GC_GRAD, 3, 2, 3)),
    GC_CASE("conv1d", "groups 2", f_c1_groups, 3, IN(GC_GRAD, 2, 4, 6), IN(GC_GRAD, 6, 2, 3), IN(GC_GRAD, 6)),
    GC_CASE("conv1d", "depthwise k5 same", f_c1_dw_same, 3, IN(GC_GRAD, 2, 4, 9), IN(GC_GRAD, 4, 1, 5), IN(GC_GRAD, 4)),
    GC_CASE("conv1d", "depthwise tile L24", f_c1_dw_tile, 3, IN(GC_GRAD, 1, 2, 24), IN(GC_GRAD, 2, 1, 3), IN(GC_GRAD, 2)),
    GC_CASE("conv1d", "depthwise causal k5", f_c1_dw_causal, 2, IN(GC_GRAD, 2, 2, 7), IN(GC_GRAD, 2, 1, 5)),
    GC_CASE("conv1d", "depthwise stride 2 dil 2", f_c1_dw_strided, 2, IN(GC_GRAD, 2, 3, 10), IN(GC_GRAD, 3, 1, 3)),
    GC_CASE("conv1d", "pointwise", f_c1_pointwise, 3, IN(GC_GRAD, 2, 4, 5), IN(GC_GRAD, 3, 4, 1), IN(GC_GRAD, 3)),
    GC_CASE("conv1d", "pointwise groups 2", f_c1_pointwise_g2, 2, IN(GC_GRAD, 2, 4, 5), IN(GC_GRAD, 4, 2, 1)),
    GC_CASE("conv2d", "stride 2 pad 1 (subsampling)", f_c2_subsample, 3, IN(GC_GRAD, 2, 1, 7, 6), IN(GC_GRAD, 3, 1, 3, 3), IN(GC_GRAD, 3)),
    {.op = "conv2d_relu", .label = "stride 2 pad 1 (subsampling)", .fn = f_c2_relu, .n_in = 3,
     .in = {IN(GC_GRAD, 2, 1, 7, 6), IN(GC_GRAD, 3, 1, 3, 3), IN(GC_GRAD, 3)}, .eps = 1e-3f},
    GC_CASE("conv2d", "groups 2 dilation 2x1", f_c2_groups_dil, 2, IN(GC_GRAD, 1, 4, 7, 5), IN(GC_GRAD, 4, 2, 3, 3)),
    GC_CASE("conv2d", "depthwise stride 2 pad 1", f_c2_dw, 3, IN(GC_GRAD, 2, 3, 6, 5), IN(GC_GRAD, 3, 1, 3, 3), IN(GC_GRAD, 3)),
    GC_CASE("conv2d", "asymmetric pad, stride 1x2", f_c2_asym, 3, IN(GC_GRAD, 1, 2, 5, 4), IN(GC_GRAD, 3, 2, 2, 2), IN(GC_GRAD, 3)),
    {.op = "conv2d_cl", .label = "relu, stride 2 pad 1, Cin 1 (subsampling)", .fn = f_cl_sub_relu,
     .n_in = 3, .in = {IN(GC_GRAD, 2, 9, 8, 1), IN(GC_GRAD, 5, 1, 3, 3), IN(GC_GRAD, 5)}, .eps = 1e-3f},
    {.op = "conv2d_cl", .label = "relu, stride 2 pad 1, Cin 3", .fn = f_cl_sub_relu,
     .n_in = 3, .in = {IN(GC_GRAD, 2, 7, 6, 3), IN(GC_GRAD, 4, 3, 3, 3), IN(GC_GRAD, 4)}, .eps = 1e-3f},
    GC_CASE("conv2d_cl", "depthwise stride 2 pad 1", f_cl_dw, 3, IN(GC_GRAD, 2, 6, 5, 4), IN(GC_GRAD, 4, 1, 3, 3), IN(GC_GRAD, 4)),
    {.op = "conv2d_cl", .label = "relu, pointwise 1x1", .fn = f_cl_pointwise_relu,
     .n_in = 3, .in = {IN(GC_GRAD, 2, 3, 4, 5), IN(GC_GRAD, 6, 5, 1, 1), IN(GC_GRAD, 6)}, .eps = 1e-3f},
    GC_CASE("conv2d_cl", "dilation 2x1, stride 1x2, asymmetric pad, no bias", f_cl_dil_asym, 2, IN(GC_GRAD, 1, 7, 6, 3), IN(GC_GRAD, 4, 3, 2, 3)),
    GC_CASE("conv_transpose1d", "stride 4 pad 2 outpad 3", f_ct_s4, 3, IN(GC_GRAD, 2, 3, 4), IN(GC_GRAD, 3, 2, 8), IN(GC_GRAD, 2)),
    GC_CASE("conv_transpose1d", "groups 2 dil 2 outpad 1", f_ct_groups, 3, IN(GC_GRAD, 2, 4, 5), IN(GC_GRAD, 4, 1, 3), IN(GC_GRAD, 2)),
    GC_CASE("conv_transpose1d", "depthwise stride 2", f_ct_dw, 2, IN(GC_GRAD, 1, 3, 5), IN(GC_GRAD, 3, 1, 4)),
    GC_CASE("max_pool1d", "k3 s2 p1", f_max_k3s2p1, 1, IN(GC_DISTINCT, 2, 3, 9)),
    GC_CASE("max_pool1d", "k2 default stride", f_max_k2, 1, IN(GC_DISTINCT, 2, 2, 8)),
    GC_CASE("avg_pool1d", "k3 s2 p1 include pad", f_avg_incl, 1, IN(GC_GRAD, 2, 3, 9)),
    GC_CASE("avg_pool1d", "k3 s2 p1 exclude pad", f_avg_excl, 1, IN(GC_GRAD, 2, 3, 9)),
    GC_CASE("avg_pool1d", "k4 s3 p2 exclude pad", f_avg_k4s3p2, 1, IN(GC_GRAD, 1, 2, 10)),
    GC_CASE("lstm", "2 layers, h0/c0 grad", f_lstm2, 11, IN(GC_GRAD, 4, 2, 3),
            IN(GC_GRAD, 12, 3), IN(GC_GRAD, 12, 3), IN(GC_GRAD, 12), IN(GC_GRAD, 12),
            IN(GC_GRAD, 12, 3), IN(GC_GRAD, 12, 3), IN(GC_GRAD, 12), IN(GC_GRAD, 12),
            IN(GC_GRAD, 2, 2, 3), IN(GC_GRAD, 2, 2, 3)),
    GC_CASE("lstm", "1 layer, no bias, zero state", f_lstm1_plain, 3, IN(GC_GRAD, 5, 2, 3),
            IN(GC_GRAD, 8, 3), IN(GC_GRAD, 8, 2)),
    GC_CASE("lstm", "b_hh only, c0 grad, c_n", f_lstm1_c0, 5, IN(GC_GRAD, 3, 2, 2),
            IN(GC_GRAD, 8, 2), IN(GC_GRAD, 8, 2), IN(GC_GRAD, 8), IN(GC_GRAD, 1, 2, 2)),
};

__attribute__((constructor)) static void reg(void) {
    gc_register(cases, (int)(sizeof cases / sizeof cases[0]));
}
