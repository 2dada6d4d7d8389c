/* Fused ops for models that keep activations as (B, T, C) rows (the
 * Conformer, transformers): the residual add with dropout, GLU with the
 * padding mask, and the depthwise time convolution in (B, T, C). Each is
 * what a chain of existing ops computes, in one pass over memory and without
 * the transposes (tests/unit/test_fused_ops.c checks them against the
 * chains). */
#include <string.h>

#include "ops/ops_internal.h"

/* ==================================================================== add_dropout */

typedef struct ad_saved {
    const uint8_t *mask; /* NULL: no dropout (p == 0 or eval) */
    float alpha, p, scale;
} ad_saved;

static void ad_backward(nc_ctx *ctx, nc_node *n) {
    const ad_saved *s = n->saved;
    nc_tensor *a = n->in[0], *b = n->in[1];
    const float *g = nc_out_grad(n);
    const int64_t N = nc_numel(n->out);
    bool fresh;
    float *db = nc_grad_buf_fresh(ctx, b, &fresh);
    if (db) /* forward: out = a + alpha * b * mask */
        nc_ctx_backend(ctx)->add_dropout_grad(nc_par(ctx, N), g, s->mask, s->p == 1.0f, s->alpha,
                                              s->scale, db, fresh, N);
    /* da += g (a fresh gradient of a is g itself) */
    if (a != b && nc_grad_pass_through(ctx, a, n)) return;
    float *da = nc_grad_buf(ctx, a);
    if (da) nc_acc(ctx, da, g, N);
}

nc_tensor *nc_add_dropout(nc_ctx *ctx, nc_tensor *a, nc_tensor *b, float p, float alpha) {
    const char *op = "add_dropout";
    if (!nc_ok2(ctx, a, b)) return NULL;
    if (!nc_check_dtype(ctx, op, a, NC_F32) || !nc_check_dtype(ctx, op, b, NC_F32)) return NULL;
    if (!nc_same_shape(a, b)) return nc_shape_fail(ctx, op, "a and b must have one shape", a, b);
    if (!(p >= 0.0f && p <= 1.0f))
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "add_dropout: probability has to be between 0 and 1, got %g", (double)p);
    const int64_t n = nc_numel(a);
    if (!ctx->training) p = 0.0f;
    nc_tensor *y = nc_empty_like(ctx, a);
    if (!y) return NULL;
    float scale = 0.0f;
    uint8_t *mask = NULL;
    if (p > 0.0f && p < 1.0f && n > 0) {
        mask = nc_dropout_mask(ctx, n, p, &scale);
        if (!mask) return NULL;
    }
    nc_ctx_backend(ctx)->add_dropout(nc_par(ctx, n), a->data, b->data, mask, p == 1.0f, alpha,
                                     scale, y->data, n);
    nc_node *nd = nc_record(ctx, op, ad_backward, y, 2, (nc_tensor *[]){a, b}, sizeof(ad_saved));
    if (nd) *(ad_saved *)nd->saved = (ad_saved){.mask = mask, .alpha = alpha, .p = p, .scale = scale};
    return ctx->status ? NULL : y;
}

/* ==================================================================== silu_dropout */

typedef struct sd_saved {
    const uint8_t *mask; /* NULL: no dropout */
    float scale;
} sd_saved;

static void sd_backward(nc_ctx *ctx, nc_node *n) {
    const sd_saved *s = n->saved;
    bool fresh;
    float *dx = nc_grad_buf_fresh(ctx, n->in[0], &fresh);
    if (!dx) return;
    const int64_t N = nc_numel(n->out);
    nc_ctx_backend(ctx)->silu_dropout_grad(nc_par(ctx, N), n->in[0]->data, nc_out_grad(n), s->mask,
                                           s->scale, dx, fresh, N);
}

nc_tensor *nc_silu_dropout(nc_ctx *ctx, nc_tensor *x, float p) {
    const char *op = "silu_dropout";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "silu_dropout: probability has to be in [0, 1), got %g", (double)p);
    const int64_t n = nc_numel(x);
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!y) return NULL;
    float scale = 0.0f;
    uint8_t *mask = NULL;
    if (ctx->training && p > 0.0f && n > 0) {
        mask = nc_dropout_mask(ctx, n, p, &scale);
        if (!mask) return NULL;
    }
    nc_ctx_backend(ctx)->silu_dropout(nc_par(ctx, n), x->data, mask, scale, y->data, n);
    nc_node *nd = nc_record(ctx, op, sd_backward, y, 1, &x, sizeof(sd_saved));
    if (nd) *(sd_saved *)nd->saved = (sd_saved){.mask = mask, .scale = scale};
    return ctx->status ? NULL : y;
}

/* ==================================================================== glu_mask */

typedef struct gm_saved {
    const int64_t *len; /* (B) or NULL */
    int64_t B, T, C;
} gm_saved;

static void gm_backward(nc_ctx *ctx, nc_node *n) {
    const gm_saved *s = n->saved;
    bool fresh;
    float *dx = nc_grad_buf_fresh(ctx, n->in[0], &fresh);
    if (!dx) return;
    nc_ctx_backend(ctx)->glu_mask_grad(nc_par(ctx, s->B * s->T * s->C), n->in[0]->data,
                                       nc_out_grad(n), s->len, s->B, s->T, s->C, dx, fresh);
}

nc_tensor *nc_glu_mask(nc_ctx *ctx, nc_tensor *x, const int64_t *lengths) {
    const char *op = "glu_mask";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim != 3 || x->shape[2] % 2)
        return nc_shape_fail(ctx, op, "need x (B, T, 2C)", x, NULL);
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2] / 2;
    nc_tensor *y = nc_empty(ctx, NC_F32, NC_DIMS(B, T, C));
    int64_t *len = NULL;
    if (lengths) {
        len = nc_scratch(ctx, (size_t)(B ? B : 1) * sizeof(int64_t));
        if (len) memcpy(len, lengths, (size_t)B * sizeof(int64_t));
    }
    if (!y || (lengths && !len)) return NULL;
    gm_saved sv = {.len = len, .B = B, .T = T, .C = C};
    nc_ctx_backend(ctx)->glu_mask(nc_par(ctx, B * T * C), x->data, len, B, T, C, y->data);
    nc_node *nd = nc_record(ctx, op, gm_backward, y, 1, &x, sizeof(gm_saved));
    if (nd) *(gm_saved *)nd->saved = sv;
    return ctx->status ? NULL : y;
}

/* ==================================================================== dwconv1d_tc */

typedef struct dw_saved {
    nc_dwtc_geom g;
    const float *wt; /* (K, C) taps as the forward used them */
} dw_saved;

static void dw_backward(nc_ctx *ctx, nc_node *n) {
    const dw_saved *s = n->saved;
    nc_tensor *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    const nc_dwtc_geom *g = &s->g;
    const float *dy = nc_out_grad(n);
    const bool th = nc_par(ctx, g->B * g->To * g->C * g->K);
    bool fresh;
    float *dx = nc_grad_buf_fresh(ctx, x, &fresh);
    float *dw = nc_grad_buf(ctx, w), *db = bias ? nc_grad_buf(ctx, bias) : NULL;
    if (ctx->status) return;
    const nc_backend *be = nc_ctx_backend(ctx);
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    if (dx) {
        float *wflip = nc_scratch(ctx, (size_t)(g->K * g->C) * sizeof(float));
        if (!wflip) return;
        be->dwtc_backward_data(g, th, dy, s->wt, wflip, dx, !fresh);
    }
    if (dw || db) {
        float *part = nc_scratch(
            ctx, (size_t)(be->dwtc_weight_blocks(g) * (g->K + 1) * g->C) * sizeof(float));
        if (!part) return;
        be->dwtc_backward_weight(g, th, dy, x->data, part, dw, db);
    }
    nc_arena_rewind(ctx->arena, m);
}

nc_tensor *nc_dwconv1d_tc(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                          int64_t pad_left, int64_t pad_right) {
    const char *op = "dwconv1d_tc";
    if (!nc_ok2(ctx, x, w)) return NULL;
    if (!nc_check_dtype(ctx, op, x, NC_F32) || !nc_check_dtype(ctx, op, w, NC_F32)) return NULL;
    if (x->ndim != 3) return nc_shape_fail(ctx, op, "need x (B, T, C)", x, NULL);
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    if (w->ndim != 3 || w->shape[0] != C || w->shape[1] != 1)
        return nc_shape_fail(ctx, op, "weight must be (C, 1, K)", w, x);
    if (bias && (bias->dtype != NC_F32 || nc_numel(bias) != C))
        return nc_shape_fail(ctx, op, "bias must be (C)", bias, w);
    const int64_t K = w->shape[2], To = T + pad_left + pad_right - K + 1;
    if (pad_left < 0 || pad_right < 0 || To < 1)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE,
                           "dwconv1d_tc: %lld frames padded by %lld/%lld are shorter than the "
                           "kernel %lld", (long long)T, (long long)pad_left, (long long)pad_right,
                           (long long)K);
    nc_tensor *y = nc_empty(ctx, NC_F32, NC_DIMS(B, To, C));
    float *wt = nc_scratch(ctx, (size_t)(K * C) * sizeof(float));
    if (!y || !wt) return NULL;
    const float *W = w->data;
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < K; k++) wt[k * C + c] = W[c * K + k];
    nc_dwtc_geom g = {.B = B, .T = T, .C = C, .K = K, .pad_left = pad_left, .To = To};
    nc_ctx_backend(ctx)->dwtc_forward(&g, nc_par(ctx, B * To * C * K), x->data, wt,
                    bias ? (const float *)bias->data : NULL, y->data);
    nc_tensor *ins[3] = {x, w, bias};
    nc_node *nd = nc_record(ctx, op, dw_backward, y, bias ? 3 : 2, ins, sizeof(dw_saved));
    if (nd) *(dw_saved *)nd->saved = (dw_saved){.g = g, .wt = wt};
    return ctx->status ? NULL : y;
}
