/* Channels-last conv2d (nc_conv2d_cl): oneDNN's NHWC kernels against the
 * permute -> conv2d -> permute composition on the reference kernels, on
 * shapes bigger than the gradient cases (several of oneDNN's channel blocks,
 * odd spatial sizes with stride 2).
 *
 * - fp32: output and the gradients of loss = sum(y * r) for x, w and bias;
 *   max |fast - ref| <= 1e-5 * max(1, max |ref|) (fp32, different summation
 *   order over at most ~150 terms per output, ~1000 per weight gradient).
 * - bf16 (when oneDNN has a bf16 kernel on this CPU): the reference runs in
 *   fp32 on bf16-rounded x and w with an r that bf16 represents exactly, so
 *   the only differences are again summation order: same tolerance.
 * - NaN in the input reaches the output through the fused ReLU, as with
 *   nc_relu (a NaN feature must reach the loss, where the step is skipped),
 *   in fp32 and bf16.
 * - The Conformer subsampling geometry has a oneDNN kernel (fp32). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"
#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

typedef struct ccase {
    const char *label;
    int64_t N, H, W, Cin, Cout, groups, k, stride, pad;
    bool relu, bias;
} ccase;

typedef struct result {
    float *y, *dx, *dw, *db;
    int64_t ny;
} result;

static float *copyv(const float *src, int64_t n) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    memcpy(p, src, (size_t)n * sizeof(float));
    return p;
}

static void round_bf16(float *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) p[i] = nc_bf16_to_f32(nc_f32_to_bf16(p[i]));
}

/* y = conv2d_cl(x, w, b) and the gradients of sum(y * r), in a new ctx */
static result run(const ccase *c, bool reference, nc_precision prec, const float *xd,
                  const float *wd, const float *bd, const float *rd) {
    nc_ctx_params p = nc_ctx_default_params();
    p.reference_kernels = reference;
    p.precision = prec;
    nc_ctx *ctx;
    result res = {0};
    if (nc_ctx_create(&p, &ctx)) return res;
    nc_conv_params cp = nc_conv_default_params();
    cp.stride[0] = cp.stride[1] = c->stride;
    cp.pad_left[0] = cp.pad_left[1] = cp.pad_right[0] = cp.pad_right[1] = c->pad;
    cp.groups = c->groups;
    nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(c->N, c->H, c->W, c->Cin), xd);
    nc_tensor *w = nc_from_data(ctx, NC_F32, NC_DIMS(c->Cout, c->Cin / c->groups, c->k, c->k), wd);
    nc_tensor *b = c->bias ? nc_from_data(ctx, NC_F32, NC_DIMS(c->Cout), bd) : NULL;
    nc_requires_grad(x, true);
    nc_requires_grad(w, true);
    if (b) nc_requires_grad(b, true);
    nc_tensor *y = nc_conv2d_cl(ctx, x, w, b, &cp, c->relu);
    CHECK(y != NULL);
    if (y) {
        res.ny = nc_numel(y);
        res.y = copyv(y->data, res.ny);
        nc_tensor *r = nc_from_data(ctx, NC_F32, y->ndim, y->shape, rd);
        nc_tensor *loss = nc_sum(ctx, nc_reshape(ctx, nc_mul(ctx, y, r), NC_DIMS(res.ny)), 0, false);
        CHECK_OK(nc_backward(ctx, loss));
        res.dx = copyv(x->grad->data, nc_numel(x));
        res.dw = copyv(w->grad->data, nc_numel(w));
        if (b) res.db = copyv(b->grad->data, c->Cout);
    }
    nc_ctx_free(ctx);
    return res;
}

static void close_to(const char *label, const char *what, const float *got, const float *want,
                     int64_t n) {
    char buf[160];
    double mw = 1;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > mw) mw = fabs(want[i]);
    snprintf(buf, sizeof buf, "%s: %s", label, what);
    nc_test_allclose(buf, got, want, n, 0.0, 1e-5 * mw);
}

static void free_result(result *r) { free(r->y), free(r->dx), free(r->dw), free(r->db); }

static nc_conv_geom geom(const ccase *c) {
    int64_t OH = (c->H + 2 * c->pad - c->k) / c->stride + 1, OW = (c->W + 2 * c->pad - c->k) / c->stride + 1;
    return (nc_conv_geom){.N = c->N, .Cin = c->Cin, .Cout = c->Cout, .groups = c->groups,
                          .H = c->H, .W = c->W, .KH = c->k, .KW = c->k, .OH = OH, .OW = OW,
                          .sh = c->stride, .sw = c->stride, .ph = c->pad, .pw = c->pad,
                          .dh = 1, .dw = 1};
}

static void run_case(const ccase *c, nc_rng *rng, bool bf16) {
    int64_t nx = c->N * c->H * c->W * c->Cin, nw = c->Cout * (c->Cin / c->groups) * c->k * c->k;
    const nc_conv_geom g = geom(c);
    int64_t ny = c->N * g.OH * g.OW * c->Cout;
    float *x = malloc((size_t)nx * sizeof(float)), *w = malloc((size_t)nw * sizeof(float));
    float *b = malloc((size_t)c->Cout * sizeof(float)), *r = malloc((size_t)ny * sizeof(float));
    nc_rng_normal(rng, x, nx, 0.0f, 1.0f);
    nc_rng_normal(rng, w, nw, 0.0f, 0.3f);
    nc_rng_normal(rng, b, c->Cout, 0.0f, 0.5f);
    nc_rng_normal(rng, r, ny, 0.0f, 1.0f);
    round_bf16(r, ny);
    if (bf16) round_bf16(x, nx), round_bf16(w, nw); /* what the bf16 kernel sees */
    result fast = run(c, false, bf16 ? NC_PREC_BF16 : NC_PREC_F32, x, w, b, r);
    result ref = run(c, true, NC_PREC_F32, x, w, b, r);
    char label[128];
    snprintf(label, sizeof label, "%s (%s)", c->label, bf16 ? "bf16" : "fp32");
    if (fast.y && ref.y) {
        CHECK(fast.ny == ny && ref.ny == ny);
        close_to(label, "y", fast.y, ref.y, ny);
        close_to(label, "dx", fast.dx, ref.dx, nx);
        close_to(label, "dw", fast.dw, ref.dw, nw);
        if (c->bias) close_to(label, "db", fast.db, ref.db, c->Cout);
    }
    free_result(&fast), free_result(&ref);
    free(x), free(w), free(b), free(r);
}

static void test_nan_passes(nc_precision prec) {
    nc_ctx_params cp0 = nc_ctx_default_params();
    cp0.precision = prec;
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(&cp0, &ctx));
    float x[72] = {0}, w[144], b[16] = {0};
    for (int i = 0; i < 144; i++) w[i] = (i % 3) - 1.0f;
    x[4 * 8 + 4] = NAN;
    nc_conv_params cp = nc_conv_default_params();
    cp.stride[0] = cp.stride[1] = 2;
    cp.pad_left[0] = cp.pad_left[1] = cp.pad_right[0] = cp.pad_right[1] = 1;
    nc_tensor *y = nc_conv2d_cl(ctx, nc_from_data(ctx, NC_F32, NC_DIMS(1, 9, 8, 1), x),
                                nc_from_data(ctx, NC_F32, NC_DIMS(16, 1, 3, 3), w),
                                nc_from_data(ctx, NC_F32, NC_DIMS(16), b), &cp, true);
    CHECK(y != NULL);
    CHECK(nc_conv_cl_available(&(nc_conv_geom){.N = 1, .Cin = 1, .Cout = 16, .groups = 1, .H = 9,
                                               .W = 8, .KH = 3, .KW = 3, .OH = 5, .OW = 4,
                                               .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1,
                                               .dw = 1},
                               false, true, true));
    if (y) {
        /* input (4, 4) feeds output rows/cols 2 (taps 1 of stride 2, pad 1): y[0, 2, 2, :] */
        int nan = 0;
        for (int64_t i = 0; i < nc_numel(y); i++) nan += isnan(nc_f32(y)[i]);
        CHECK(nan == 16);
        for (int o = 0; o < 16; o++) CHECK(isnan(nc_f32(y)[(2 * 4 + 2) * 16 + o]));
    }
    nc_ctx_free(ctx);
}

int main(void) {
    nc_rng rng;
    nc_rng_seed(&rng, 5);
    static const ccase cases[] = {
        {"subsampling conv 1, Cin 1", 2, 37, 30, 1, 32, 1, 3, 2, 1, true, true},
        {"subsampling conv 2, 48 -> 40", 2, 19, 15, 48, 40, 1, 3, 2, 1, true, true},
        {"depthwise 3x3 stride 2", 2, 19, 15, 32, 32, 32, 3, 2, 1, false, true},
        {"pointwise 1x1, no bias", 2, 10, 7, 24, 40, 1, 1, 1, 0, true, false},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    /* the Conformer-S subsampling (d_model 176) must not fall back to im2col */
    ccase conformer = {"conformer", 8, 800, 40, 176, 176, 1, 3, 2, 1, true, true};
    nc_conv_geom g = geom(&conformer);
    CHECK(nc_conv_cl_available(&g, false, true, true));
    for (int i = 0; i < n; i++) run_case(&cases[i], &rng, false);
    if (nc_conv_cl_available(&g, true, true, true)) {
        for (int i = 0; i < n; i++) run_case(&cases[i], &rng, true);
    } else {
        printf("conv_cl: oneDNN has no bf16 convolution on this CPU; bf16 cases skipped\n");
    }
    test_nan_passes(NC_PREC_F32);
    test_nan_passes(NC_PREC_BF16);
    nc_cpu_dnnl_cache_clear();
    return nc_test_finish("conv_cl");
}
