/* Behaviour of the normalisation, dropout and indexing ops beyond their
 * gradients: error messages, padding_idx, running statistics, dropout's
 * special cases and mask statistics, and threaded-vs-reference agreement
 * on sizes large enough to use OpenMP. */
#include <math.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/ctx.h"
#include "nemoc/ops.h"

static nc_ctx *new_ctx(bool reference) {
    nc_ctx_params p = nc_ctx_default_params();
    p.reference_kernels = reference;
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(&p, &ctx));
    return ctx;
}

static nc_tensor *randn(nc_ctx *ctx, int ndim, const int64_t *shape, bool grad) {
    nc_tensor *t = nc_empty(ctx, NC_F32, ndim, shape);
    if (!t) return NULL;
    nc_rng_normal(nc_ctx_rng(ctx), t->data, nc_numel(t), 0.0f, 1.0f);
    nc_requires_grad(t, grad);
    return t;
}

/* The op failed with `code` and a message containing `needle`; clears the error. */
static void expect_error(nc_ctx *ctx, const nc_tensor *out, nc_status code, const char *needle) {
    CHECK(out == NULL);
    CHECK(nc_ctx_status(ctx) == code);
    if (!strstr(nc_last_error(), needle))
        nc_test_fail(__FILE__, __LINE__, "error '%s' does not mention '%s'", nc_last_error(), needle);
    nc_ctx_clear_status(ctx);
}

static void test_embedding(void) {
    nc_ctx *ctx = new_ctx(false);
    nc_tensor *w = randn(ctx, NC_DIMS(4, 3), true);
    const int64_t ids[] = {1, 2, 1, 3, 2};
    nc_tensor *idx = nc_from_data(ctx, NC_I64, NC_DIMS(5), ids);
    nc_tensor *y = nc_embedding(ctx, w, idx, 2);
    CHECK(y && y->ndim == 2 && y->shape[0] == 5 && y->shape[1] == 3);
    /* the padding row still appears in the output (F.embedding does not zero it) */
    CHECK(y && memcmp(nc_f32(y) + 3, nc_f32(w) + 6, 3 * sizeof(float)) == 0);
    nc_tensor *ones = nc_full(ctx, NC_DIMS(5, 3), 1.0f);
    CHECK_OK(nc_backward_with(ctx, y, ones));
    const float *dw = w->grad ? nc_f32(w->grad) : NULL;
    CHECK(dw != NULL);
    if (dw) {
        for (int j = 0; j < 3; j++) {
            CHECK(dw[0 * 3 + j] == 0.0f); /* unused row */
            CHECK(dw[1 * 3 + j] == 2.0f); /* used twice */
            CHECK(dw[2 * 3 + j] == 0.0f); /* padding_idx: no gradient */
            CHECK(dw[3 * 3 + j] == 1.0f);
        }
    }
    const int64_t bad[] = {0, 4};
    nc_tensor *bidx = nc_from_data(ctx, NC_I64, NC_DIMS(2), bad);
    expect_error(ctx, nc_embedding(ctx, w, bidx, -1), NC_ERR_INVALID_ARG, "index 4 at position 1");
    const int64_t neg[] = {-1};
    nc_tensor *nidx = nc_from_data(ctx, NC_I64, NC_DIMS(1), neg);
    expect_error(ctx, nc_embedding(ctx, w, nidx, -1), NC_ERR_INVALID_ARG, "index -1");
    nc_ctx_free(ctx);
}

static void test_gather(void) {
    nc_ctx *ctx = new_ctx(false);
    const float xv[] = {1, 2, 3, 4, 5, 6};
    nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(2, 3), xv);
    const int64_t iv[] = {2, 0, 1, 1};
    nc_tensor *idx = nc_from_data(ctx, NC_I64, NC_DIMS(2, 2), iv);
    nc_tensor *y = nc_gather(ctx, x, 1, idx);
    const float want[] = {3, 1, 5, 5};
    CHECK(y && memcmp(y->data, want, sizeof want) == 0);
    /* int64 source (e.g. token ids), no gradient */
    const int64_t xi[] = {10, 11, 12, 13, 14, 15};
    nc_tensor *xl = nc_from_data(ctx, NC_I64, NC_DIMS(2, 3), xi);
    nc_tensor *yl = nc_gather(ctx, xl, -1, idx);
    const int64_t wl[] = {12, 10, 14, 14};
    CHECK(yl && memcmp(yl->data, wl, sizeof wl) == 0);
    const int64_t bv[] = {0, 3, 1, 1};
    nc_tensor *bidx = nc_from_data(ctx, NC_I64, NC_DIMS(2, 2), bv);
    expect_error(ctx, nc_gather(ctx, x, 1, bidx), NC_ERR_INVALID_ARG, "index 3 at position 1");
    nc_tensor *i1 = nc_from_data(ctx, NC_I64, NC_DIMS(4), iv);
    expect_error(ctx, nc_gather(ctx, x, 1, i1), NC_ERR_SHAPE, "as many dims");
    nc_ctx_free(ctx);
}

static void test_masked_fill(void) {
    nc_ctx *ctx = new_ctx(false);
    nc_tensor *x = randn(ctx, NC_DIMS(2, 3, 4), false);
    const uint8_t mv[] = {1, 0, 0, 1};
    nc_tensor *m = nc_from_data(ctx, NC_U8, NC_DIMS(4), mv);
    nc_tensor *y = nc_masked_fill(ctx, x, m, -7.0f);
    bool ok = y != NULL;
    for (int64_t i = 0; ok && i < 24; i++)
        ok = nc_f32(y)[i] == (mv[i % 4] ? -7.0f : nc_f32(x)[i]);
    CHECK(ok);
    nc_tensor *big = nc_zeros(ctx, NC_U8, NC_DIMS(3, 3, 4));
    expect_error(ctx, nc_masked_fill(ctx, x, big, 0.0f), NC_ERR_SHAPE, "does not broadcast");
    nc_tensor *m5 = nc_zeros(ctx, NC_U8, NC_DIMS(5));
    expect_error(ctx, nc_masked_fill(ctx, x, m5, 0.0f), NC_ERR_SHAPE, "does not broadcast");
    nc_ctx_free(ctx);
}

static void test_dropout(void) {
    nc_ctx *ctx = new_ctx(false);
    nc_tensor *x = randn(ctx, NC_DIMS(100, 100), true);
    nc_set_training(ctx, false);
    CHECK(nc_dropout(ctx, x, 0.5f) == x); /* eval: identity, nothing recorded */
    nc_set_training(ctx, true);
    CHECK(nc_dropout(ctx, x, 0.0f) == x);
    nc_rng before = *nc_ctx_rng(ctx);
    nc_tensor *z = nc_dropout(ctx, x, 1.0f);
    bool zero = z != NULL;
    for (int64_t i = 0; zero && i < 10000; i++) zero = nc_f32(z)[i] == 0.0f;
    CHECK(zero);
    CHECK(memcmp(&before, nc_ctx_rng(ctx), sizeof before) == 0); /* p == 1 draws nothing */
    expect_error(ctx, nc_dropout(ctx, x, 1.5f), NC_ERR_INVALID_ARG, "between 0 and 1");
    expect_error(ctx, nc_dropout(ctx, x, -0.1f), NC_ERR_INVALID_ARG, "between 0 and 1");
    /* Kept values are x / (1 - p); the kept fraction is 1 - p (10000 draws:
     * standard deviation 0.0046, we allow 5 of them). */
    const float p = 0.3f, scale = 1.0f / 0.7f;
    nc_tensor *y = nc_dropout(ctx, x, p);
    int64_t kept = 0;
    bool values = y != NULL;
    for (int64_t i = 0; values && i < 10000; i++) {
        float v = nc_f32(y)[i], xv = nc_f32(x)[i];
        if (v != 0.0f) {
            kept++;
            values = v == xv * scale;
        }
    }
    CHECK(values);
    CHECK_NEAR((double)kept / 10000.0, 0.7, 0.023);
    /* gradient = mask / (1 - p) */
    nc_tensor *ones = nc_full(ctx, NC_DIMS(100, 100), 1.0f);
    CHECK_OK(nc_backward_with(ctx, y, ones));
    bool grads = x->grad != NULL;
    for (int64_t i = 0; grads && i < 10000; i++)
        grads = nc_f32(x->grad)[i] == (nc_f32(y)[i] != 0.0f ? scale : 0.0f);
    CHECK(grads);
    nc_ctx_free(ctx);
}

static void test_batch_norm_stats(void) {
    nc_ctx *ctx = new_ctx(false);
    /* channel 0 holds 1, 2, 3, 4; channel 1 holds 10 everywhere */
    const float xv[] = {1, 10, 2, 10, 3, 10, 4, 10};
    nc_tensor *x = nc_from_data(ctx, NC_F32, NC_DIMS(4, 2), xv);
    nc_tensor *rm = nc_zeros(ctx, NC_F32, NC_DIMS(2));
    nc_tensor *rv = nc_full(ctx, NC_DIMS(2), 1.0f);
    nc_tensor *nbt = nc_zeros(ctx, NC_I64, NC_DIMS(1));
    nc_tensor *y = nc_batch_norm(ctx, x, NULL, NULL, rm, rv, nbt, 0.1f, 0.0f);
    CHECK(y != NULL);
    /* batch mean 2.5, biased var 1.25, unbiased 5/3 */
    CHECK_NEAR(nc_f32(rm)[0], 0.25, 1e-7);
    CHECK_NEAR(nc_f32(rv)[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-7);
    CHECK_NEAR(nc_f32(rm)[1], 1.0, 1e-7);
    CHECK_NEAR(nc_f32(rv)[1], 0.9, 1e-7);
    CHECK(nc_i64(nbt)[0] == 1);
    CHECK_NEAR(nc_f32(y)[0], (1 - 2.5) / sqrt(1.25), 1e-6);
    nc_batch_norm(ctx, x, NULL, NULL, rm, rv, nbt, 0.1f, 0.0f);
    CHECK(nc_i64(nbt)[0] == 2);
    CHECK_NEAR(nc_f32(rm)[0], 0.9 * 0.25 + 0.25, 1e-7);
    /* eval: running statistics, nothing updated */
    nc_set_training(ctx, false);
    float rm0 = nc_f32(rm)[0], rv0 = nc_f32(rv)[0];
    nc_tensor *ye = nc_batch_norm(ctx, x, NULL, NULL, rm, rv, nbt, 0.1f, 1e-5f);
    CHECK(ye && nc_f32(rm)[0] == rm0 && nc_f32(rv)[0] == rv0 && nc_i64(nbt)[0] == 2);
    CHECK(ye && fabs(nc_f32(ye)[0] - (1 - rm0) / sqrt(rv0 + 1e-5)) < 1e-6);
    /* one value per channel cannot be normalised in training */
    nc_set_training(ctx, true);
    nc_tensor *one = nc_zeros(ctx, NC_F32, NC_DIMS(1, 2));
    expect_error(ctx, nc_batch_norm(ctx, one, NULL, NULL, rm, rv, NULL, 0.1f, 1e-5f), NC_ERR_SHAPE,
                 "more than 1 value per channel");
    nc_tensor *w3 = nc_zeros(ctx, NC_F32, NC_DIMS(3));
    expect_error(ctx, nc_batch_norm(ctx, x, w3, NULL, rm, rv, NULL, 0.1f, 1e-5f), NC_ERR_SHAPE,
                 "weight must have shape (2)");
    expect_error(ctx, nc_batch_norm(ctx, x, NULL, NULL, rm, NULL, NULL, 0.1f, 1e-5f),
                 NC_ERR_INVALID_ARG, "both");
    nc_ctx_free(ctx);
}

static void test_norm_errors(void) {
    nc_ctx *ctx = new_ctx(false);
    nc_tensor *x = randn(ctx, NC_DIMS(2, 6, 5), false);
    expect_error(ctx, nc_group_norm(ctx, x, 4, NULL, NULL, 1e-5f), NC_ERR_SHAPE,
                 "6 channels are not divisible into 4 groups");
    nc_tensor *w = nc_zeros(ctx, NC_F32, NC_DIMS(6));
    expect_error(ctx, nc_layer_norm(ctx, x, w, NULL, 1e-5f), NC_ERR_SHAPE,
                 "weight must have shape (5)");
    nc_ctx_free(ctx);
}

/* Large inputs: the threaded kernels agree with the single-threaded reference. */
static void test_large(void) {
    const int64_t B = 8, T = 256, C = 384;
    nc_tensor *got[3] = {0}, *grads[3] = {0};
    for (int ref = 0; ref < 2; ref++) {
        nc_ctx *ctx = new_ctx(ref);
        nc_rng_seed(nc_ctx_rng(ctx), 5);
        nc_tensor *x = randn(ctx, NC_DIMS(B, C, T), true);
        nc_tensor *w = randn(ctx, NC_DIMS(C), true);
        nc_tensor *rm = nc_zeros(ctx, NC_F32, NC_DIMS(C)), *rv = nc_full(ctx, NC_DIMS(C), 1.0f);
        nc_tensor *outs[3] = {
            nc_batch_norm(ctx, x, w, NULL, rm, rv, NULL, 0.1f, 1e-5f),
            nc_group_norm(ctx, x, 8, w, NULL, 1e-5f),
            nc_layer_norm(ctx, nc_reshape(ctx, x, NC_DIMS(B * C, T)), NULL, NULL, 1e-5f),
        };
        nc_tensor *sum = nc_add(ctx, nc_add(ctx, outs[0], outs[1]),
                                nc_reshape(ctx, outs[2], NC_DIMS(B, C, T)));
        nc_tensor *g = randn(ctx, NC_DIMS(B, C, T), false);
        CHECK_OK(nc_backward_with(ctx, sum, g));
        for (int k = 0; k < 3; k++) {
            nc_tensor *o = outs[k];
            if (!o) continue;
            if (ref) {
                char what[64];
                snprintf(what, sizeof what, "large op %d fast vs reference", k);
                nc_test_allclose(what, got[k]->data, o->data, nc_numel(o), 1e-5, 1e-5);
            } else {
                nc_tensor_clone(o, &got[k]);
            }
        }
        nc_tensor *gs[2] = {x->grad, w->grad};
        for (int k = 0; k < 2; k++) {
            if (!gs[k]) continue;
            if (ref) {
                double e = nc_test_rel_err(grads[k]->data, gs[k]->data, nc_numel(gs[k]));
                CHECK(e < 1e-5);
            } else {
                nc_tensor_clone(gs[k], &grads[k]);
            }
        }
        nc_ctx_free(ctx);
    }
    for (int k = 0; k < 3; k++) {
        nc_tensor_free(got[k]);
        nc_tensor_free(grads[k]);
    }
}

int main(void) {
    test_embedding();
    test_gather();
    test_masked_fill();
    test_dropout();
    test_batch_norm_stats();
    test_norm_errors();
    test_large();
    return nc_test_finish("ops_norm");
}
