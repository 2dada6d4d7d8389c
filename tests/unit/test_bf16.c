/* bf16-mixed precision: the vectorised f32 -> bf16 conversion equals the
 * scalar round-to-nearest-even one (torch's) on every class of value; gemms
 * with pre-converted operands equal the ones converting on the fly; and a
 * 2-layer Transformer training step in bf16 stays within bf16 tolerance of
 * fp32 (loss within 1e-2 relative, gradients within 5e-2 of each tensor's
 * scale, or of 5% of the largest gradient for tensors whose gradient is
 * nearly zero) over three AdamW steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/conformer.h"
#include "nemoc/nn.h"
#include "nemoc/optim.h"
#include "nemoc/rng.h"

static void test_conversion(void) {
    const int64_t n = 200003; /* the threaded path and a ragged tail */
    float *x = nc_malloc((size_t)n * sizeof(float));
    uint16_t *v = nc_malloc((size_t)n * sizeof(uint16_t));
    nc_rng r;
    nc_rng_seed(&r, 3);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = nc_rng_u32(&r);
        if (i % 7 == 0) u = (u & 0xffff0000u) | 0x8000u; /* exact ties */
        memcpy(&x[i], &u, sizeof u);
    }
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-40f, -1e-40f,
                             3.4028235e38f, 1.0f + 1.0f / 256.0f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) x[i] = special[i];
    nc_convert_f32_to_bf16(x, v, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += v[i] != nc_f32_to_bf16(x[i]);
    CHECK(bad == 0);
    nc_free(x);
    nc_free(v);
}

static void test_preconverted_gemm(void) {
    const int64_t M = 37, N = 45, K = 70;
    float *A = nc_malloc((size_t)(M * K) * 4), *B = nc_malloc((size_t)(K * N) * 4);
    float *C1 = nc_malloc((size_t)(M * N) * 4), *C2 = nc_malloc((size_t)(M * N) * 4);
    uint16_t *A16 = nc_malloc((size_t)(M * K) * 2), *B16 = nc_malloc((size_t)(K * N) * 2);
    nc_rng r;
    nc_rng_seed(&r, 4);
    nc_rng_normal(&r, A, M * K, 0, 1);
    nc_rng_normal(&r, B, K * N, 0, 1);
    nc_convert_f32_to_bf16(A, A16, M * K);
    nc_convert_f32_to_bf16(B, B16, K * N);
    /* A stored transposed (K, M), B as (N, K) transposed too */
    nc_gemm_args g = {.ta = true, .tb = true, .M = M, .N = N, .K = K, .alpha = 1, .beta = 0,
                      .A = A, .lda = M, .B = B, .ldb = K, .C = C1, .ldc = N, .batch = 1};
    CHECK_OK(nc_cpu_gemm(NC_GEMM_AUTO, NC_PREC_BF16, false, &g));
    g.C = C2, g.A16 = A16, g.B16 = B16;
    CHECK_OK(nc_cpu_gemm(NC_GEMM_AUTO, NC_PREC_BF16, false, &g));
    CHECK(memcmp(C1, C2, (size_t)(M * N) * 4) == 0);
    /* Without a bf16 kernel: fp32 products of the bf16-rounded operands,
     * exact per product, so only the summation order differs. Also with a
     * batch stride, beta and a bias. */
    nc_cpu_gemm_bf16_emulate(true);
    g.C = C2, g.A16 = NULL, g.B16 = NULL;
    CHECK_OK(nc_cpu_gemm(NC_GEMM_AUTO, NC_PREC_BF16, false, &g));
    double worst = 0;
    for (int64_t i = 0; i < M * N; i++) {
        double d = fabs((double)C1[i] - C2[i]) / (1.0 + fabs((double)C1[i]));
        worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-5);
    float bias[45];
    for (int i = 0; i < 45; i++) bias[i] = 0.1f * (float)i;
    nc_gemm_args h = {.M = M / 2, .N = N, .K = K, .alpha = 0.5f, .beta = 1.0f, .A = A, .lda = K,
                      .stride_a = (M / 2) * K, .B = B, .ldb = N, .stride_b = 0, .C = C1,
                      .ldc = N, .stride_c = (M / 2) * N, .batch = 2, .bias = bias};
    for (int64_t i = 0; i < M * N; i++) C1[i] = C2[i] = 1.0f;
    CHECK_OK(nc_cpu_gemm(NC_GEMM_AUTO, NC_PREC_BF16, false, &h));
    nc_cpu_gemm_bf16_emulate(false);
    h.C = C2;
    CHECK_OK(nc_cpu_gemm(NC_GEMM_AUTO, NC_PREC_BF16, false, &h));
    worst = 0;
    for (int64_t i = 0; i < 2 * (M / 2) * N; i++) {
        double d = fabs((double)C1[i] - C2[i]) / (1.0 + fabs((double)C1[i]));
        worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-5 && C1[0] != 1.0f);
    nc_free(A), nc_free(B), nc_free(C1), nc_free(C2), nc_free(A16), nc_free(B16);
}

typedef struct model {
    nc_params *p;
    nc_tfm_encoder_m enc;
    nc_linear_m head;
    nc_optim *opt;
} model;

static void build(model *m) {
    nc_rng r;
    nc_rng_seed(&r, 11);
    CHECK_OK(nc_params_create(&m->p));
    CHECK_OK(nc_tfm_encoder_init(&m->enc, m->p, "enc", 2, 64, 4, 256, 0.0f));
    CHECK_OK(nc_linear_init(&m->head, m->p, "head", 64, 13, true));
    CHECK_OK(nc_params_finalize(m->p));
    CHECK_OK(nc_params_initialize(m->p, &r));
    nc_optim_params op = nc_optim_default_params(NC_OPTIM_ADAMW);
    CHECK_OK(nc_optim_create(m->p, &op, &m->opt));
}

/* one step; returns the loss and copies the gradients out */
static float step(model *m, nc_precision prec, const float *x, const int64_t *y, float *grads) {
    nc_ctx_params cp = nc_ctx_default_params();
    cp.precision = prec;
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(&cp, &ctx));
    nc_params_zero_grad(m->p);
    nc_tensor *xt = nc_from_data(ctx, NC_F32, NC_DIMS(3, 40, 64), x);
    nc_tensor *yt = nc_from_data(ctx, NC_I64, NC_DIMS(120), y);
    nc_tensor *h = nc_linear_fwd(ctx, &m->head, nc_tfm_encoder_fwd(ctx, &m->enc, xt, NULL));
    nc_tensor *loss = nc_cross_entropy(ctx, nc_reshape(ctx, h, NC_DIMS(120, 13)), yt, -100, 0.0f,
                                       NC_REDUCE_MEAN);
    CHECK_OK(nc_backward(ctx, loss));
    float lv = loss ? nc_f32(loss)[0] : NAN;
    memcpy(grads, nc_params_flat_grad(m->p), (size_t)nc_params_flat_size(m->p) * sizeof(float));
    CHECK_OK(nc_optim_step(m->opt));
    nc_ctx_free(ctx);
    return lv;
}

static void test_training_step(void) {
    model a = {0}, b = {0};
    build(&a);
    build(&b);
    float *x = nc_malloc(3 * 40 * 64 * sizeof(float));
    int64_t y[120];
    nc_rng r;
    nc_rng_seed(&r, 12);
    nc_rng_normal(&r, x, 3 * 40 * 64, 0, 1);
    nc_rng_randint(&r, y, 120, 0, 13);
    int64_t n = nc_params_flat_size(a.p);
    float *ga = nc_malloc((size_t)n * sizeof(float)), *gb = nc_malloc((size_t)n * sizeof(float));
    for (int s = 0; s < 3; s++) {
        float la = step(&a, NC_PREC_F32, x, y, ga), lb = step(&b, NC_PREC_BF16, x, y, gb);
        /* The key projection's bias has a zero gradient in exact arithmetic
         * (softmax ignores a constant added to a row of scores): it is noise
         * in both precisions, so a tensor's error is taken relative to its own
         * largest gradient or 5% of the largest gradient overall, whichever
         * is larger. */
        double worst = 0, gmax = 0;
        const char *wn = "";
        for (int64_t i = 0; i < n; i++) gmax = fabs(ga[i]) > gmax ? fabs(ga[i]) : gmax;
        for (int64_t i = 0; i < nc_params_count(a.p); i++) {
            if (nc_params_kind_at(a.p, i) != NC_PARAM_TRAINABLE) continue;
            int64_t off = nc_params_offset_at(a.p, i), k = nc_numel(nc_params_at(a.p, i));
            double md = 0, mw = 0;
            for (int64_t j = 0; j < k; j++) {
                md = fabs(gb[off + j] - ga[off + j]) > md ? fabs(gb[off + j] - ga[off + j]) : md;
                mw = fabs(ga[off + j]) > mw ? fabs(ga[off + j]) : mw;
            }
            double e = md / (mw > 0.05 * gmax ? mw : 0.05 * gmax);
            if (e > worst) worst = e, wn = nc_params_at(a.p, i)->name;
        }
        printf("step %d: loss fp32 %.5f bf16 %.5f, worst gradient error %.3g (%s)\n", s, la, lb,
               worst, wn);
        CHECK(fabs(la - lb) <= 1e-2 * fabs(la));
        CHECK(worst <= 5e-2);
    }
    nc_free(x), nc_free(ga), nc_free(gb);
    nc_optim_free(a.opt), nc_optim_free(b.opt);
    nc_tfm_encoder_free(&a.enc), nc_tfm_encoder_free(&b.enc);
    nc_params_free(a.p), nc_params_free(b.p);
}

/* Inference frees each Conformer layer's arena space as it goes
 * (nc_conformer_fwd without grad); bf16 weight copies made in that space
 * must not be handed out again, nor their bookkeeping overwritten. The
 * same forward with grad enabled (nothing freed) gives the reference:
 * identical arithmetic, so identical bits, in eval mode. */
static void test_frugal_inference(void) {
    nc_conformer_cfg cfg = nc_conformer_default_cfg();
    cfg.feat_in = 16, cfg.n_layers = 3, cfg.d_model = 32, cfg.n_heads = 4;
    cfg.conv_kernel_size = 5, cfg.subsampling_conv_channels = 8;
    nc_params *p;
    nc_conformer enc;
    nc_rng r;
    nc_rng_seed(&r, 9);
    CHECK_OK(nc_params_create(&p));
    CHECK_OK(nc_conformer_init(&enc, p, "encoder", &cfg));
    CHECK_OK(nc_params_finalize(p));
    CHECK_OK(nc_params_initialize(p, &r));
    const int64_t B = 2, T = 64;
    float *f = nc_malloc((size_t)(B * cfg.feat_in * T) * sizeof(float));
    nc_rng_normal(&r, f, B * cfg.feat_in * T, 0.0f, 1.0f);
    int64_t len[2] = {64, 50}, out_len[2];
    nc_ctx_params cp = nc_ctx_default_params();
    cp.precision = NC_PREC_BF16;
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(&cp, &ctx));
    nc_set_training(ctx, false);
    float *ref = NULL;
    int64_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        nc_set_grad_enabled(ctx, pass == 1);
        nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(B, cfg.feat_in, T), f);
        nc_tensor *y = nc_conformer_fwd(ctx, &enc, x, len, out_len);
        CHECK_OK(nc_ctx_status(ctx));
        if (!y) break;
        if (pass == 0) {
            n = nc_numel(y);
            ref = nc_malloc((size_t)n * sizeof(float));
            memcpy(ref, y->data, (size_t)n * sizeof(float));
        } else {
            CHECK(nc_numel(y) == n && memcmp(ref, y->data, (size_t)n * sizeof(float)) == 0);
        }
        nc_ctx_reset(ctx);
    }
    nc_free(ref);
    nc_free(f);
    nc_ctx_free(ctx);
    nc_conformer_free(&enc);
    nc_params_free(p);
}

int main(void) {
    test_conversion();
    test_frugal_inference();
    test_preconverted_gemm();
    test_training_step();
    return nc_test_finish("bf16");
}
