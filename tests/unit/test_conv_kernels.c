/* Convolution kernels on shapes the gradient cases are too small to reach,
 * argument checking of the conv/pool/LSTM ops, and their arena behaviour.
 *
 * - Fast kernels vs the reference loops, all three passes, on long rows
 *   (the depthwise kernel's 64-wide register tiles and 8-wide tail), strided
 *   and dilated depthwise rows, 2-D depthwise, and im2col with the column
 *   budget forced down to one or two samples so the chunk loop runs several
 *   times. Tolerance: max |fast - ref| <= 1e-5 * max(1, max |ref|) (fp32
 *   with different summation orders over at most a few hundred terms).
 * - Bad arguments fail with the documented status and no output.
 * - Forward-only (no grad) calls hand their scratch back to the arena. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"
#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

static float *randv(nc_rng *r, int64_t n) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    nc_rng_normal(r, p, n, 0.0f, 1.0f);
    return p;
}

static void check_close(const char *what, const float *got, const float *want, int64_t n) {
    nc_test_checks++;
    double md = 0, mw = 1;
    int64_t worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= md)) md = d, worst = i;
        if (fabs(want[i]) > mw) mw = fabs(want[i]);
    }
    if (!(md <= 1e-5 * mw))
        nc_test_fail(__FILE__, __LINE__, "%s: max diff %.3g > %.3g (worst [%lld] %.8g vs %.8g)",
                     what, md, 1e-5 * mw, (long long)worst, got[worst], want[worst]);
}

typedef struct kcase {
    const char *label;
    nc_conv_geom g;
    int64_t col_budget;
} kcase;

/* Output size from input size, kernel, stride, leading/trailing pad, dilation. */
static int64_t osz(int64_t in, int64_t k, int64_t s, int64_t pl, int64_t pr, int64_t d) {
    return (in + pl + pr - d * (k - 1) - 1) / s + 1;
}

static nc_conv_geom g1d(int64_t N, int64_t Cin, int64_t Cout, int64_t groups, int64_t L, int64_t K,
                        int64_t s, int64_t pl, int64_t pr, int64_t d) {
    return (nc_conv_geom){.N = N, .Cin = Cin, .Cout = Cout, .groups = groups, .H = 1, .W = L,
                          .KH = 1, .KW = K, .OH = 1, .OW = osz(L, K, s, pl, pr, d), .sh = 1,
                          .sw = s, .ph = 0, .pw = pl, .dh = 1, .dw = d};
}

static void run_kernel_case(const kcase *kc, nc_rng *r) {
    const nc_conv_geom *g = &kc->g;
    int64_t nx = g->N * g->Cin * g->H * g->W, ny = g->N * g->Cout * g->OH * g->OW;
    int64_t nw = g->Cout * (g->Cin / g->groups) * g->KH * g->KW;
    float *x = randv(r, nx), *w = randv(r, nw), *dy = randv(r, ny);
    float *y_f = calloc((size_t)ny, 4), *y_r = calloc((size_t)ny, 4);
    float *dx_f = calloc((size_t)nx, 4), *dx_r = calloc((size_t)nx, 4);
    float *dw_f = calloc((size_t)nw, 4), *dw_r = calloc((size_t)nw, 4);
    nc_conv_exec e = {.engine = NC_GEMM_AUTO, .prec = NC_PREC_F32, .reference = false,
                      .threads = true, .col_budget = kc->col_budget};
    int64_t nf = 0;
    for (int pass = NC_CONV_FWD; pass <= NC_CONV_BWD_WEIGHT; pass++) {
        int64_t k = nc_conv_work_floats(g, (nc_conv_pass)pass, &e);
        nf = k > nf ? k : nf;
    }
    e.work = malloc((size_t)(nf ? nf : 1) * sizeof(float));
    CHECK_OK(nc_conv_forward(g, &e, x, w, y_f));
    CHECK_OK(nc_conv_backward_data(g, &e, dy, w, dx_f));
    CHECK_OK(nc_conv_backward_weight(g, &e, dy, x, dw_f));
    nc_conv_ref_forward(g, x, w, y_r);
    nc_conv_ref_backward_data(g, dy, w, dx_r);
    nc_conv_ref_backward_weight(g, dy, x, dw_r);
    char what[160];
    snprintf(what, sizeof what, "%s: forward", kc->label);
    check_close(what, y_f, y_r, ny);
    snprintf(what, sizeof what, "%s: backward data", kc->label);
    check_close(what, dx_f, dx_r, nx);
    snprintf(what, sizeof what, "%s: backward weight", kc->label);
    check_close(what, dw_f, dw_r, nw);
    free(x), free(w), free(dy), free(y_f), free(y_r), free(dx_f), free(dx_r), free(dw_f);
    free(dw_r), free(e.work);
}

static void test_kernels(void) {
    nc_conv_geom dw2d = {.N = 2, .Cin = 3, .Cout = 3, .groups = 3, .H = 6, .W = 90, .KH = 3,
                         .KW = 5, .OH = 6, .OW = 90, .sh = 1, .sw = 1, .ph = 1, .pw = 2,
                         .dh = 1, .dw = 1};
    nc_conv_geom c2 = {.N = 5, .Cin = 3, .Cout = 4, .groups = 1, .H = 9, .W = 8, .KH = 3, .KW = 3,
                       .OH = osz(9, 3, 2, 1, 1, 1), .OW = osz(8, 3, 2, 1, 1, 1), .sh = 2, .sw = 2,
                       .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    int64_t c2_col = c2.Cin * 9 * c2.OH * c2.OW;
    const kcase cases[] = {
        {"depthwise k31 same, L 300", g1d(2, 3, 3, 3, 300, 31, 1, 15, 15, 1), 0},
        {"depthwise k9 causal, L 150", g1d(2, 4, 4, 4, 150, 9, 1, 8, 0, 1), 0},
        {"depthwise k5 dilation 3, L 130", g1d(1, 2, 2, 2, 130, 5, 1, 6, 6, 3), 0},
        {"depthwise k4 stride 2, L 101", g1d(2, 2, 2, 2, 101, 4, 2, 1, 2, 1), 0},
        {"depthwise 2-D 3x5, W 90", dw2d, 0},
        {"conv2d s2 p1, one sample per chunk", c2, c2_col},
        {"conv2d s2 p1, two samples per chunk", c2, 2 * c2_col + 1},
        {"conv2d s2 p1, blocks of 2 output rows", c2, c2.Cin * 9 * c2.OW * 2},
        {"conv2d s2 p1, blocks of 1 output row", c2, 1},
        {"conv1d groups 2 stride 3, chunked", g1d(5, 4, 6, 2, 40, 5, 3, 2, 1, 2), 200},
        {"conv1d channel multiplier 2 (groups = Cin)", g1d(2, 3, 6, 3, 70, 3, 1, 1, 1, 1), 0},
        {"pointwise, L 77", g1d(3, 5, 7, 1, 77, 1, 1, 0, 0, 1), 0},
        {"1x1 with trailing pad (not pointwise)", g1d(2, 3, 2, 1, 10, 1, 1, 0, 2, 1), 0},
    };
    nc_rng r;
    nc_rng_seed(&r, 5);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_kernel_case(&cases[i], &r);
}

/* Each call must fail with `want` and return NULL; the ctx is cleared after. */
#define EXPECT_FAIL(ctx, call, want)                                                            \
    do {                                                                                        \
        nc_tensor *r_ = (call);                                                                 \
        CHECK(r_ == NULL);                                                                      \
        nc_test_checks++;                                                                       \
        if (nc_ctx_status(ctx) != (want))                                                       \
            nc_test_fail(__FILE__, __LINE__, "%s: status %s, want %s (%s)", #call,              \
                         nc_status_str(nc_ctx_status(ctx)), nc_status_str(want), nc_last_error()); \
        nc_ctx_clear_status(ctx);                                                               \
    } while (0)

static void test_errors(void) {
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_tensor *x = nc_zeros(ctx, NC_F32, NC_DIMS(2, 4, 10));
    nc_tensor *w = nc_zeros(ctx, NC_F32, NC_DIMS(6, 4, 3));
    nc_tensor *w_g2 = nc_zeros(ctx, NC_F32, NC_DIMS(6, 2, 3));
    nc_tensor *b5 = nc_zeros(ctx, NC_F32, NC_DIMS(5));
    nc_tensor *xi = nc_zeros(ctx, NC_I64, NC_DIMS(2, 4, 10));
    nc_conv_params p = nc_conv_default_params();

    p.groups = 3; /* does not divide Cin 4 */
    EXPECT_FAIL(ctx, nc_conv1d(ctx, x, w_g2, NULL, &p), NC_ERR_INVALID_ARG);
    p.groups = 2; /* weight's Cin/groups must be 2, is 4 */
    EXPECT_FAIL(ctx, nc_conv1d(ctx, x, w, NULL, &p), NC_ERR_SHAPE);
    p = nc_conv_default_params();
    EXPECT_FAIL(ctx, nc_conv1d(ctx, x, w, b5, &p), NC_ERR_SHAPE);
    EXPECT_FAIL(ctx, nc_conv1d(ctx, xi, w, NULL, &p), NC_ERR_DTYPE);
    EXPECT_FAIL(ctx, nc_conv2d(ctx, x, w, NULL, &p), NC_ERR_SHAPE);
    p.stride[0] = 0;
    EXPECT_FAIL(ctx, nc_conv1d(ctx, x, w, NULL, &p), NC_ERR_INVALID_ARG);
    p = nc_conv_default_params();
    p.pad_left[0] = -1;
    EXPECT_FAIL(ctx, nc_conv1d(ctx, x, w, NULL, &p), NC_ERR_INVALID_ARG);
    p = nc_conv_default_params();
    p.dilation[0] = 5; /* span 11 > 10 */
    EXPECT_FAIL(ctx, nc_conv1d(ctx, x, w, NULL, &p), NC_ERR_SHAPE);

    /* conv_transpose1d: w (Cin=4, Cout/groups, K) */
    nc_tensor *wt = nc_zeros(ctx, NC_F32, NC_DIMS(4, 3, 3));
    p = nc_conv_default_params();
    p.pad_left[0] = 1; /* torch's padding is symmetric */
    EXPECT_FAIL(ctx, nc_conv_transpose1d(ctx, x, wt, NULL, &p), NC_ERR_INVALID_ARG);
    p = nc_conv_default_params();
    p.stride[0] = 2, p.output_padding = 2; /* must be < max(stride, dilation) */
    EXPECT_FAIL(ctx, nc_conv_transpose1d(ctx, x, wt, NULL, &p), NC_ERR_INVALID_ARG);
    EXPECT_FAIL(ctx, nc_conv_transpose1d(ctx, x, w, NULL, NULL), NC_ERR_SHAPE);
    nc_tensor *yt = nc_conv_transpose1d(ctx, x, wt, NULL, NULL);
    CHECK(yt && yt->shape[1] == 3 && yt->shape[2] == 12);

    /* pooling */
    EXPECT_FAIL(ctx, nc_max_pool1d(ctx, x, 3, 1, 2), NC_ERR_INVALID_ARG); /* pad > k/2 */
    EXPECT_FAIL(ctx, nc_avg_pool1d(ctx, x, 0, 1, 0, true), NC_ERR_INVALID_ARG);
    EXPECT_FAIL(ctx, nc_max_pool1d(ctx, x, 11, 1, 0), NC_ERR_SHAPE);
    nc_tensor *mp = nc_max_pool1d(ctx, x, 3, 0, 0); /* stride 0 = kernel */
    CHECK(mp && mp->shape[2] == 3);

    /* lstm: H = 2, I = 4 */
    nc_tensor *xs = nc_zeros(ctx, NC_F32, NC_DIMS(3, 2, 4));
    nc_lstm_weights lw = {.w_ih = nc_zeros(ctx, NC_F32, NC_DIMS(8, 4)),
                          .w_hh = nc_zeros(ctx, NC_F32, NC_DIMS(8, 2))};
    nc_lstm_weights bad = lw;
    bad.w_ih = nc_zeros(ctx, NC_F32, NC_DIMS(8, 3));
    EXPECT_FAIL(ctx, nc_lstm(ctx, xs, 1, &bad, NULL, NULL, NULL, NULL), NC_ERR_SHAPE);
    bad = lw;
    bad.b_ih = b5;
    EXPECT_FAIL(ctx, nc_lstm(ctx, xs, 1, &bad, NULL, NULL, NULL, NULL), NC_ERR_SHAPE);
    bad = lw;
    bad.w_hh = NULL;
    EXPECT_FAIL(ctx, nc_lstm(ctx, xs, 1, &bad, NULL, NULL, NULL, NULL), NC_ERR_INVALID_ARG);
    nc_tensor *h0 = nc_zeros(ctx, NC_F32, NC_DIMS(2, 2, 2)); /* 2 layers, but 1 given */
    nc_tensor *hn = (nc_tensor *)1;
    EXPECT_FAIL(ctx, nc_lstm(ctx, xs, 1, &lw, h0, NULL, &hn, NULL), NC_ERR_SHAPE);
    CHECK(hn == NULL);
    EXPECT_FAIL(ctx, nc_lstm(ctx, xs, 0, &lw, NULL, NULL, NULL, NULL), NC_ERR_INVALID_ARG);
    nc_ctx_free(ctx);
}

/* No-grad calls leave only their outputs in the arena (scratch handed back),
 * and give the same values as recorded calls. */
static void test_scratch_and_nograd(void) {
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_rng r;
    nc_rng_seed(&r, 11);
    float *xd = randv(&r, 2 * 8 * 50), *wd = randv(&r, 8 * 8 * 5);
    nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(2, 8, 50), xd);
    nc_tensor *w = nc_from_data(ctx, NC_F32, NC_DIMS(8, 8, 5), wd);
    nc_conv_params p = nc_conv_default_params();
    p.pad_left[0] = 2, p.pad_right[0] = 2;
    size_t before = nc_arena_used(nc_ctx_arena(ctx));
    nc_tensor *y = nc_conv1d(ctx, x, w, NULL, &p); /* im2col path: 8*5*50 floats of columns */
    size_t grew = nc_arena_used(nc_ctx_arena(ctx)) - before;
    CHECK(y != NULL);
    CHECK(grew < nc_nbytes(y) + 1024);

    /* LSTM, 2 layers: forward-only output equals the recorded one */
    float *wih0 = randv(&r, 12 * 8), *whh0 = randv(&r, 12 * 3), *wih1 = randv(&r, 12 * 3);
    float *whh1 = randv(&r, 12 * 3), *xs = randv(&r, 5 * 2 * 8);
    nc_tensor *tx = nc_from_data(ctx, NC_F32, NC_DIMS(5, 2, 8), xs);
    nc_lstm_weights lw[2] = {
        {.w_ih = nc_from_data(ctx, NC_F32, NC_DIMS(12, 8), wih0),
         .w_hh = nc_from_data(ctx, NC_F32, NC_DIMS(12, 3), whh0)},
        {.w_ih = nc_from_data(ctx, NC_F32, NC_DIMS(12, 3), wih1),
         .w_hh = nc_from_data(ctx, NC_F32, NC_DIMS(12, 3), whh1)},
    };
    nc_requires_grad(lw[0].w_ih, true);
    nc_set_grad_enabled(ctx, false);
    before = nc_arena_used(nc_ctx_arena(ctx));
    nc_tensor *hn1 = NULL, *cn1 = NULL;
    nc_tensor *y1 = nc_lstm(ctx, tx, 2, lw, NULL, NULL, &hn1, &cn1);
    grew = nc_arena_used(nc_ctx_arena(ctx)) - before;
    CHECK(y1 && hn1 && cn1 && !nc_needs_grad(y1));
    /* packed y, h_n, c_n (5*2*3 + 2*2*2*3 floats) plus three headers */
    CHECK(grew < (size_t)(5 * 2 * 3 + 24) * sizeof(float) + 1024);
    CHECK(nc_tape_size(ctx) == 0);
    nc_set_grad_enabled(ctx, true);
    nc_tensor *hn2 = NULL;
    nc_tensor *y2 = nc_lstm(ctx, tx, 2, lw, NULL, NULL, &hn2, NULL);
    CHECK(y2 && hn2 && nc_needs_grad(y2));
    if (y1 && y2) CHECK(memcmp(y1->data, y2->data, nc_nbytes(y1)) == 0);
    if (hn1 && hn2) CHECK(memcmp(hn1->data, hn2->data, nc_nbytes(hn1)) == 0);
    /* h_n is the last step of the top layer's output */
    if (y2 && hn2) CHECK(memcmp(nc_f32(hn2) + 2 * 3, nc_f32(y2) + 4 * 2 * 3, 6 * sizeof(float)) == 0);
    free(xd), free(wd), free(wih0), free(whh0), free(wih1), free(whh1), free(xs);
    nc_ctx_free(ctx);
}

int main(void) {
    test_kernels();
    test_errors();
    test_scratch_and_nograd();
    nc_cpu_dnnl_cache_clear();
    return nc_test_finish("conv_kernels");
}
