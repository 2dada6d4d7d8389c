/* Ops of the language models: rms_norm, rope and swiglu (kernels and
 * formulas in src/backend/cpu/cpu_llm.c). */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

/* ==================================================================== rms_norm */

typedef struct rms_saved {
    nc_tensor *w;
    float *rstd;
    int64_t rows, c;
} rms_saved;

static void rms_backward(nc_ctx *ctx, nc_node *nd) {
    const rms_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    float *dx = nc_grad_buf(ctx, xt);
    float *dw = s->w ? nc_grad_buf(ctx, s->w) : NULL;
    double *part = NULL;
    if (dw) {
        int64_t nblk = (s->rows + 31) / 32;
        part = nc_scratch(ctx, (size_t)(s->c * (nblk ? nblk : 1)) * sizeof(double));
        if (!part) return;
    }
    nc_ctx_backend(ctx)->rms_norm_grad(nc_par(ctx, s->rows * s->c), xt->data, nc_out_grad(nd),
                                       s->w ? s->w->data : NULL, s->rstd, dx, dw, part, s->rows, s->c);
}

nc_tensor *nc_rms_norm(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, float eps) {
    const char *op = "rms_norm";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] <= 0) return nc_shape_fail(ctx, op, "need a non-empty last dim", x, NULL);
    const int64_t C = x->shape[x->ndim - 1], rows = nc_numel(x) / C;
    if (weight && (weight->dtype != NC_F32 || weight->ndim != 1 || weight->shape[0] != C))
        return nc_shape_fail(ctx, op, "weight must be f32 of the last dim's size", x, weight);
    nc_tensor *y = nc_empty_like(ctx, x);
    float *rstd = nc_scratch(ctx, (size_t)(rows ? rows : 1) * sizeof(float));
    if (!y || !rstd) return NULL;
    nc_ctx_backend(ctx)->rms_norm(nc_par(ctx, rows * C), x->data, weight ? weight->data : NULL, eps, y->data,
                                  rstd, rows, C);
    nc_tensor *ins[2] = {x, weight};
    nc_node *nd = nc_record(ctx, op, rms_backward, y, weight ? 2 : 1, ins, sizeof(rms_saved));
    if (nd) *(rms_saved *)nd->saved = (rms_saved){.w = weight, .rstd = rstd, .rows = rows, .c = C};
    return ctx->status ? NULL : y;
}

/* ==================================================================== rope */

typedef struct rope_saved {
    nc_rope_geom g;
} rope_saved;

static void rope_backward(nc_ctx *ctx, nc_node *nd) {
    const rope_saved *s = nd->saved;
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    nc_ctx_backend(ctx)->rope(nc_par(ctx, nc_numel(nd->in[0])), &s->g, nc_out_grad(nd), dx, true, true);
}

nc_tensor *nc_rope(nc_ctx *ctx, nc_tensor *x, const nc_rope_params *p) {
    const char *op = "rope";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim != 3) return nc_shape_fail(ctx, op, "x must be (B, T, H*head_dim)", x, NULL);
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    if (p->n_heads <= 0 || C % p->n_heads)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "rope: %lld columns are not %lld heads", (long long)C,
                           (long long)p->n_heads);
    const int64_t hd = C / p->n_heads;
    if (p->rot_dim <= 0 || p->rot_dim > hd || p->rot_dim % 2)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "rope: rotary dims %lld must be even and <= head dim %lld",
                           (long long)p->rot_dim, (long long)hd);
    /* positions span [lo, hi]: one cos/sin row per position */
    int64_t lo = p->pos0, hi = p->pos0 + (T ? T - 1 : 0);
    if (p->positions) {
        lo = INT64_MAX;
        hi = INT64_MIN;
        for (int64_t i = 0; i < B * T; i++) {
            if (p->positions[i] < lo) lo = p->positions[i];
            if (p->positions[i] > hi) hi = p->positions[i];
        }
        if (B * T == 0) lo = hi = 0;
    }
    if (lo < 0 || hi - lo > (int64_t)1 << 24)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "rope: positions %lld..%lld out of range", (long long)lo,
                           (long long)hi);
    const int64_t half = p->rot_dim / 2, npos = hi - lo + 1;
    float *tab = nc_scratch(ctx, (size_t)(2 * npos * half) * sizeof(float));
    int64_t *pos = NULL;
    if (p->positions) {
        pos = nc_scratch(ctx, (size_t)(B * T > 0 ? B * T : 1) * sizeof(int64_t));
        if (pos) memcpy(pos, p->positions, (size_t)(B * T) * sizeof(int64_t));
    }
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!tab || !y || (p->positions && !pos)) return NULL;
    /* Megatron's RotaryEmbedding in float32: inv_freq = 1 / base^(2i/rot),
     * freqs = position * inv_freq, then cos/sin. */
    for (int64_t i = 0; i < half; i++) {
        const float inv = (float)(1.0 / pow(p->base, (double)(float)(2 * i) / (double)p->rot_dim));
        for (int64_t q = 0; q < npos; q++) {
            const float a = (float)(lo + q) * inv;
            tab[q * half + i] = cosf(a);
            tab[npos * half + q * half + i] = sinf(a);
        }
    }
    nc_rope_geom g = {.B = B, .T = T, .H = p->n_heads, .hd = hd, .ld = C, .rot = p->rot_dim, .pos = pos,
                      .pos0 = p->pos0, .cos = tab, .sin = tab + npos * half, .table_lo = lo};
    nc_ctx_backend(ctx)->rope(nc_par(ctx, nc_numel(x)), &g, x->data, y->data, false, false);
    nc_node *nd = nc_record(ctx, op, rope_backward, y, 1, &x, sizeof(rope_saved));
    if (nd) ((rope_saved *)nd->saved)->g = g;
    return ctx->status ? NULL : y;
}

/* ==================================================================== swiglu */

static void swiglu_backward(nc_ctx *ctx, nc_node *nd) {
    bool fresh = false;
    float *dx = nc_grad_buf_fresh(ctx, nd->in[0], &fresh);
    if (!dx) return;
    const nc_tensor *x = nd->in[0];
    const int64_t F = x->shape[x->ndim - 1] / 2, rows = nc_numel(x) / (2 * F);
    nc_ctx_backend(ctx)->swiglu_grad(nc_par(ctx, rows * F), x->data, nc_out_grad(nd), dx, rows, F, !fresh);
}

nc_tensor *nc_swiglu(nc_ctx *ctx, nc_tensor *x) {
    const char *op = "swiglu";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] % 2 || !x->shape[x->ndim - 1])
        return nc_shape_fail(ctx, op, "last dim must be even and non-empty", x, NULL);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    const int64_t F = shape[x->ndim - 1] / 2, rows = nc_numel(x) / (2 * F);
    shape[x->ndim - 1] = F;
    nc_tensor *y = nc_empty(ctx, NC_F32, x->ndim, shape);
    if (!y) return NULL;
    nc_ctx_backend(ctx)->swiglu(nc_par(ctx, rows * F), x->data, y->data, rows, F);
    nc_record(ctx, op, swiglu_backward, y, 1, &x, 0);
    return ctx->status ? NULL : y;
}

/* ==================================================================== attention_cached */

nc_tensor *nc_attention_cached(nc_ctx *ctx, nc_tensor *q, const nc_tensor *k_cache, const nc_tensor *v_cache,
                               int64_t past, int64_t n_heads, float scale) {
    const char *op = "attention_cached";
    if (!nc_ok1(ctx, q) || !nc_check_dtype(ctx, op, q, NC_F32)) return NULL;
    if (nc_grad_enabled(ctx) && nc_needs_grad(q))
        return nc_ctx_fail(ctx, NC_ERR_UNSUPPORTED, "attention_cached: inference only (no backward); "
                                                    "run it with gradients disabled");
    if (q->ndim != 3 || k_cache->ndim != 3 || v_cache->ndim != 3 || k_cache->shape[0] != q->shape[0] ||
        nc_numel(k_cache) != nc_numel(v_cache) || n_heads <= 0 || q->shape[2] % n_heads)
        return nc_shape_fail(ctx, op, "q (B, Tn, H*hd), caches (B, cap, G*hd)", q, k_cache);
    const int64_t B = q->shape[0], Tn = q->shape[1], hd = q->shape[2] / n_heads, cap = k_cache->shape[1];
    if (k_cache->shape[2] % hd || !(k_cache->shape[2] / hd) || n_heads % (k_cache->shape[2] / hd) ||
        past < 0 || past + Tn > cap)
        return nc_shape_fail(ctx, op, "cache groups or positions do not fit", q, k_cache);
    nc_attn_cache_geom g = {.B = B, .Tn = Tn, .H = n_heads, .G = k_cache->shape[2] / hd, .hd = hd, .L0 = past,
                            .cap = cap, .scale = scale > 0 ? scale : 1.0f / sqrtf((float)hd)};
    const nc_backend *be = nc_ctx_backend(ctx);
    float *work = nc_scratch(ctx, (size_t)be->attn_cached_work(cap) * sizeof(float));
    nc_tensor *y = nc_empty_like(ctx, q);
    if (!work || !y) return NULL;
    be->attn_cached(nc_par(ctx, B * n_heads * Tn * (past + Tn) * hd), &g, q->data, k_cache->data, v_cache->data,
                    y->data, work);
    return ctx->status ? NULL : y;
}
