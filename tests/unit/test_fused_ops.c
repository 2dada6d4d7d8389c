/* The fused ops against the chains of plain ops they replace, forward and
 * every input gradient, at sizes where the threaded paths run:
 *   attention (NeMo rel-pos form with masks; causal decoder form) vs
 *     matmul / rel_shift / masked_fill / softmax compositions,
 *   glu_mask vs glu + masked_fill, dwconv1d_tc vs transpose + conv1d + transpose,
 *   batch_norm_cl(+SiLU) vs transpose + batch_norm + silu + transpose (train
 *     and eval, running statistics too), add_dropout vs add_scaled + dropout
 *     and silu_dropout vs dropout(silu) (the same noise: bit-identical).
 * Tolerance: 1e-4 relative to each array's scale (different summation orders). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/ctx.h"
#include "nemoc/nn.h"
#include "nemoc/ops.h"
#include "nemoc/rng.h"

#define MAXIN 8

typedef nc_tensor *(*chain_fn)(nc_ctx *ctx, nc_tensor **in, void *arg);

typedef struct result {
    float *out;
    int64_t n;
    float *grad[MAXIN];
    int64_t gn[MAXIN];
} result;

/* Builds inputs from shapes (seeded), runs fn, backprops sum(out * w). */
static void run(chain_fn fn, void *arg, int n_in, const int64_t shapes[][4], const int *ndims,
                const bool *grad, uint64_t ctx_seed, bool train, result *r) {
    nc_ctx_params p = nc_ctx_default_params();
    p.seed = ctx_seed;
    nc_ctx *ctx;
    CHECK_OK(nc_ctx_create(&p, &ctx));
    nc_set_training(ctx, train);
    nc_rng rng;
    nc_rng_seed(&rng, 5);
    nc_tensor *in[MAXIN];
    for (int i = 0; i < n_in; i++) {
        in[i] = nc_empty(ctx, NC_F32, ndims[i], shapes[i]);
        nc_rng_normal(&rng, nc_f32(in[i]), nc_numel(in[i]), 0.0f, 1.0f);
        nc_requires_grad(in[i], grad[i]);
    }
    nc_tensor *out = fn(ctx, in, arg);
    CHECK_OK(nc_ctx_status(ctx));
    if (!out) {
        nc_ctx_free(ctx);
        return;
    }
    r->n = nc_numel(out);
    r->out = nc_malloc((size_t)r->n * sizeof(float));
    memcpy(r->out, out->data, (size_t)r->n * sizeof(float));
    nc_tensor *w = nc_empty(ctx, NC_F32, out->ndim, out->shape);
    nc_rng_normal(&rng, nc_f32(w), r->n, 0.0f, 1.0f);
    CHECK_OK(nc_backward_with(ctx, out, w));
    for (int i = 0; i < n_in; i++) {
        r->grad[i] = NULL;
        if (!grad[i]) continue;
        r->gn[i] = nc_numel(in[i]);
        r->grad[i] = nc_calloc((size_t)r->gn[i], sizeof(float));
        if (in[i]->grad) memcpy(r->grad[i], in[i]->grad->data, (size_t)r->gn[i] * sizeof(float));
    }
    nc_ctx_free(ctx);
}

static void compare(const char *name, const result *a, const result *b, int n_in, double tol) {
    char what[128];
    snprintf(what, sizeof what, "%s forward", name);
    double e = a->out && b->out && a->n == b->n ? nc_test_rel_err(a->out, b->out, a->n) : 1.0;
    printf("%-34s forward rel err %.3g\n", name, e);
    CHECK(e <= tol);
    for (int i = 0; i < n_in; i++) {
        if (!a->grad[i] && !b->grad[i]) continue;
        CHECK(a->grad[i] && b->grad[i]);
        if (!a->grad[i] || !b->grad[i]) continue;
        double g = nc_test_rel_err(a->grad[i], b->grad[i], a->gn[i]);
        printf("%-34s grad %d rel err %.3g\n", name, i, g);
        CHECK(g <= tol);
    }
    (void)what;
}

static void free_result(result *r, int n_in) {
    nc_free(r->out);
    for (int i = 0; i < n_in; i++) nc_free(r->grad[i]);
}

/* ---- attention ---- */

typedef struct attn_arg {
    int64_t H;
    const int64_t *len;
    bool rel, causal;
} attn_arg;

static nc_tensor *attn_fused(nc_ctx *ctx, nc_tensor **x, void *va) {
    const attn_arg *a = va;
    nc_attention_params p = {.n_heads = a->H, .lengths = a->len, .mask_queries = a->rel,
                             .causal = a->causal};
    return a->rel ? nc_attention(ctx, x[0], x[1], x[2], x[3], x[4], x[5], &p)
                  : nc_attention(ctx, x[0], x[1], x[2], NULL, NULL, NULL, &p);
}

/* NeMo's RelPositionMultiHeadAttention / MultiHeadAttention core from plain ops */
static nc_tensor *attn_chain(nc_ctx *ctx, nc_tensor **x, void *va) {
    const attn_arg *a = va;
    int64_t B = x[0]->shape[0], T = x[0]->shape[1], D = x[0]->shape[2], H = a->H, dk = D / H;
    nc_tensor *mask = nc_empty(ctx, NC_U8, NC_DIMS(B, 1, T, T));
    uint8_t *m = mask->data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++)
                m[(b * T + i) * T + j] = j >= a->len[b] || (a->rel && i >= a->len[b]) ||
                                         (a->causal && j > i);
    nc_tensor *k = nc_split_heads(ctx, x[1], H), *v = nc_split_heads(ctx, x[2], H);
    nc_tensor *scores;
    if (a->rel) {
        nc_tensor *q = nc_reshape(ctx, x[0], NC_DIMS(B, T, H, dk));
        nc_tensor *qu = nc_permute(ctx, nc_add(ctx, q, x[4]), (int[]){0, 2, 1, 3});
        nc_tensor *qv = nc_permute(ctx, nc_add(ctx, q, x[5]), (int[]){0, 2, 1, 3});
        nc_tensor *p = nc_permute(ctx, nc_reshape(ctx, x[3], NC_DIMS(2 * T - 1, H, dk)),
                                  (int[]){1, 0, 2}); /* (H, 2T-1, dk) */
        nc_tensor *pb = nc_concat(ctx, (int)B, (nc_tensor *[]){p, p, p, p, p, p, p, p}, 0);
        pb = nc_reshape(ctx, pb, NC_DIMS(B, H, 2 * T - 1, dk));
        nc_tensor *bd = nc_rel_shift(ctx, nc_matmul(ctx, qv, pb, false, true));
        scores = nc_add(ctx, nc_matmul(ctx, qu, k, false, true), bd);
    } else {
        scores = nc_matmul(ctx, nc_split_heads(ctx, x[0], H), k, false, true);
    }
    scores = nc_masked_fill(ctx, nc_scale(ctx, scores, 1.0f / sqrtf((float)dk)), mask, -10000.0f);
    nc_tensor *attn = nc_masked_fill(ctx, nc_softmax(ctx, scores, -1), mask, 0.0f);
    return nc_merge_heads(ctx, nc_matmul(ctx, attn, v, false, false));
}

static void test_attention(void) {
    const int64_t B = 4, T = 150, H = 2, dk = 8, D = H * dk; /* 3 blocks of positional rows */
    static const int64_t len[4] = {150, 101, 64, 1};
    const int64_t shapes[6][4] = {{B, T, D}, {B, T, D}, {B, T, D}, {2 * T - 1, D}, {H, dk}, {H, dk}};
    const int nd[6] = {3, 3, 3, 2, 2, 2};
    const bool g[6] = {true, true, true, true, true, true};
    attn_arg rel = {.H = H, .len = len, .rel = true}, causal = {.H = H, .len = len, .causal = true};
    result a = {0}, b = {0};
    run(attn_fused, &rel, 6, shapes, nd, g, 1, true, &a);
    run(attn_chain, &rel, 6, shapes, nd, g, 1, true, &b);
    compare("attention rel-pos + masks", &a, &b, 6, 1e-4);
    free_result(&a, 6), free_result(&b, 6);
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    run(attn_fused, &causal, 3, shapes, nd, g, 1, true, &a);
    run(attn_chain, &causal, 3, shapes, nd, g, 1, true, &b);
    compare("attention causal + key padding", &a, &b, 3, 1e-4);
    free_result(&a, 3), free_result(&b, 3);
}

/* ---- conv module pieces ---- */

static const int64_t conv_len[3] = {70, 41, 12};

static nc_tensor *glu_fused(nc_ctx *ctx, nc_tensor **x, void *arg) {
    (void)arg;
    return nc_glu_mask(ctx, x[0], conv_len);
}
static nc_tensor *glu_chain(nc_ctx *ctx, nc_tensor **x, void *arg) {
    (void)arg;
    int64_t B = x[0]->shape[0], T = x[0]->shape[1];
    nc_tensor *m = nc_empty(ctx, NC_U8, NC_DIMS(B, T, 1));
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) ((uint8_t *)m->data)[b * T + t] = t >= conv_len[b];
    return nc_masked_fill(ctx, nc_glu(ctx, x[0], -1), m, 0.0f);
}

static nc_tensor *dw_fused(nc_ctx *ctx, nc_tensor **x, void *arg) {
    const int64_t *pad = arg;
    return nc_dwconv1d_tc(ctx, x[0], x[1], x[2], pad[0], pad[1]);
}
static nc_tensor *dw_chain(nc_ctx *ctx, nc_tensor **x, void *arg) {
    const int64_t *pad = arg;
    nc_conv_params p = nc_conv_default_params();
    p.groups = x[0]->shape[2];
    p.pad_left[0] = pad[0], p.pad_right[0] = pad[1];
    nc_tensor *h = nc_conv1d(ctx, nc_transpose(ctx, x[0], 1, 2), x[1], x[2], &p);
    return nc_transpose(ctx, h, 1, 2);
}

typedef struct bn_arg {
    nc_tensor *rm, *rv; /* running stats (heap), updated by the op */
} bn_arg;

static nc_tensor *bn_fused(nc_ctx *ctx, nc_tensor **x, void *va) {
    bn_arg *a = va;
    return nc_batch_norm_cl(ctx, x[0], x[1], x[2], a->rm, a->rv, NULL, 0.1f, 1e-5f, true);
}
static nc_tensor *bn_chain(nc_ctx *ctx, nc_tensor **x, void *va) {
    bn_arg *a = va;
    nc_tensor *h = nc_batch_norm(ctx, nc_transpose(ctx, x[0], 1, 2), x[1], x[2], a->rm, a->rv,
                                 NULL, 0.1f, 1e-5f);
    return nc_transpose(ctx, nc_silu(ctx, h), 1, 2);
}

static void test_conv_pieces(void) {
    const int64_t B = 3, T = 70, C = 40, K = 31;
    {
        const int64_t sh[1][4] = {{B, T, 2 * C}};
        const int nd[1] = {3};
        const bool g[1] = {true};
        result a = {0}, b = {0};
        run(glu_fused, NULL, 1, sh, nd, g, 1, true, &a);
        run(glu_chain, NULL, 1, sh, nd, g, 1, true, &b);
        compare("glu_mask", &a, &b, 1, 1e-5);
        free_result(&a, 1), free_result(&b, 1);
    }
    const int64_t pads[2][2] = {{15, 15}, {30, 0}};
    for (int pi = 0; pi < 2; pi++) {
        const int64_t sh[3][4] = {{B, T, C}, {C, 1, K}, {C}};
        const int nd[3] = {3, 3, 1};
        const bool g[3] = {true, true, true};
        result a = {0}, b = {0};
        run(dw_fused, (void *)pads[pi], 3, sh, nd, g, 1, true, &a);
        run(dw_chain, (void *)pads[pi], 3, sh, nd, g, 1, true, &b);
        compare(pi ? "dwconv1d_tc causal" : "dwconv1d_tc same", &a, &b, 3, 1e-4);
        free_result(&a, 3), free_result(&b, 3);
    }
    for (int train = 1; train >= 0; train--) {
        const int64_t sh[3][4] = {{B, T, C}, {C}, {C}};
        const int nd[3] = {3, 1, 1};
        const bool g[3] = {true, true, true};
        nc_tensor *rm[2], *rv[2];
        for (int i = 0; i < 2; i++) {
            CHECK_OK(nc_tensor_new(NC_F32, 1, (int64_t[]){C}, &rm[i]));
            CHECK_OK(nc_tensor_new(NC_F32, 1, (int64_t[]){C}, &rv[i]));
            for (int64_t c = 0; c < C; c++) nc_f32(rm[i])[c] = 0.01f * (float)c, nc_f32(rv[i])[c] = 1.0f + 0.02f * (float)c;
        }
        bn_arg fa = {rm[0], rv[0]}, ca = {rm[1], rv[1]};
        result a = {0}, b = {0};
        run(bn_fused, &fa, 3, sh, nd, g, 1, train, &a);
        run(bn_chain, &ca, 3, sh, nd, g, 1, train, &b);
        compare(train ? "batch_norm_cl+silu train" : "batch_norm_cl+silu eval", &a, &b, 3, 1e-4);
        double em = nc_test_rel_err(nc_f32(rm[0]), nc_f32(rm[1]), C);
        double ev = nc_test_rel_err(nc_f32(rv[0]), nc_f32(rv[1]), C);
        printf("%-34s running mean %.3g var %.3g\n", "batch_norm_cl stats", em, ev);
        CHECK(em <= 1e-5 && ev <= 1e-5);
        free_result(&a, 3), free_result(&b, 3);
        for (int i = 0; i < 2; i++) nc_tensor_free(rm[i]), nc_tensor_free(rv[i]);
    }
}

/* ---- residual ---- */

static nc_tensor *ad_fused(nc_ctx *ctx, nc_tensor **x, void *arg) {
    (void)arg;
    return nc_add_dropout(ctx, x[0], x[1], 0.1f, 0.5f);
}
static nc_tensor *ad_chain(nc_ctx *ctx, nc_tensor **x, void *arg) {
    (void)arg;
    return nc_add_scaled(ctx, x[0], nc_dropout(ctx, x[1], 0.1f), 0.5f);
}

static nc_tensor *sd_fused(nc_ctx *ctx, nc_tensor **x, void *arg) {
    (void)arg;
    return nc_silu_dropout(ctx, x[0], 0.1f);
}
static nc_tensor *sd_chain(nc_ctx *ctx, nc_tensor **x, void *arg) {
    (void)arg;
    return nc_dropout(ctx, nc_silu(ctx, x[0]), 0.1f);
}

static void test_add_dropout(void) {
    const int64_t sh[2][4] = {{4, 100, 176}, {4, 100, 176}};
    const int nd[2] = {3, 3};
    const bool g[2] = {true, true};
    result a = {0}, b = {0};
    run(ad_fused, NULL, 2, sh, nd, g, 77, true, &a);
    run(ad_chain, NULL, 2, sh, nd, g, 77, true, &b);
    compare("add_dropout", &a, &b, 2, 0.0);
    free_result(&a, 2), free_result(&b, 2);
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    run(sd_fused, NULL, 1, sh, nd, g, 78, true, &a);
    run(sd_chain, NULL, 1, sh, nd, g, 78, true, &b);
    compare("silu_dropout", &a, &b, 1, 0.0);
    free_result(&a, 1), free_result(&b, 1);
}

int main(void) {
    test_attention();
    test_conv_pieces();
    test_add_dropout();
    return nc_test_finish("fused_ops");
}
