/* Attention: the fused multi-head attention op (kernels in
 * src/backend/cpu/attention.c) and the relative-position shift of Transformer-XL
 * (Dai et al. 2019, appendix B) used by NeMo's RelPositionMultiHeadAttention
 * (nemo/collections/asr/parts/submodules/multi_head_attention.py, rel_shift). */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

typedef struct rs_saved {
    int64_t rows, T, P;
} rs_saved;

/* NeMo pads one zero column on the left, views (2T, T), drops the first row and
 * views back; for the kept columns j < T that is y[i][j] = x[i][j + T-1-i]. */
static void rs_backward(nc_ctx *ctx, nc_node *n) {
    const rs_saved *s = n->saved;
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (!dx) return;
    nc_ctx_backend(ctx)->rel_shift_grad(nc_par(ctx, s->rows * s->T * s->T), nc_out_grad(n), dx,
                                        s->rows, s->T);
}

nc_tensor *nc_rel_shift(nc_ctx *ctx, nc_tensor *x) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, "rel_shift", x, NC_F32)) return NULL;
    if (x->ndim < 2) return nc_shape_fail(ctx, "rel_shift", "need (..., T, 2T-1)", x, NULL);
    int64_t T = nc_dim(x, -2), P = nc_dim(x, -1);
    if (P != 2 * T - 1) return nc_shape_fail(ctx, "rel_shift", "last dim must be 2T-1", x, NULL);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = T;
    nc_tensor *y = nc_empty(ctx, NC_F32, x->ndim, shape);
    if (!y) return NULL;
    int64_t tp = T * P;
    int64_t rows = tp ? nc_numel(x) / tp : 0;
    nc_ctx_backend(ctx)->rel_shift(nc_par(ctx, rows * T * T), x->data, y->data, rows, T);
    nc_node *n = nc_record(ctx, "rel_shift", rs_backward, y, 1, &x, sizeof(rs_saved));
    if (n) *(rs_saved *)n->saved = (rs_saved){rows, T, P};
    return ctx->status ? NULL : y;
}

/* ==================================================================== attention */

/* Causal attention from this many frames on runs the tiled kernel. On the
 * CPU, with gradients, it costs 6-15% more time than the materialised one
 * at every length measured (its backward recomputes q k^T); without, it is
 * 5-11% faster from here on. From here on the materialised kernel also
 * keeps >= 4 MiB of probabilities per head and sequence (192 MiB per layer
 * at B=4, H=12), the tiled one 4 KiB (bench/README.md, "Causal attention:
 * tiled vs materialised"). */
enum { ATTN_TILED_MIN_T = 1024 };

typedef struct attn_saved {
    nc_attn_geom g;
    float *probs; /* (B, H, T, T), materialised kernel */
    float *lse;   /* (B, H, T), tiled kernel (probs NULL) */
    bool has_u, has_v;
} attn_saved;

/* The tiled kernel: positions and biases are not in it; where it applies
 * the ctx forces either kernel, or causal attention of ATTN_TILED_MIN_T
 * frames and more takes it. */
static bool attn_use_tiled(const nc_ctx *ctx, const nc_tensor *pos, const nc_tensor *bu,
                           const nc_tensor *bv, bool causal, int64_t T) {
    if (pos || bu || bv) return false;
    const int mode = nc_ctx_attn_tiled(ctx);
    return mode > 0 || (mode < 0 && causal && T >= ATTN_TILED_MIN_T);
}

static void attn_tiled_backward(nc_ctx *ctx, nc_node *n) {
    const attn_saved *s = n->saved;
    nc_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    float *dq = nc_grad_buf(ctx, q), *dk = nc_grad_buf(ctx, k), *dv = nc_grad_buf(ctx, v);
    if (ctx->status) return;
    const nc_attn_geom *g = &s->g;
    nc_attn_exec e = {.reference = ctx->reference,
                      .threads = nc_par(ctx, g->B * g->H * g->T * g->T)};
    const nc_backend *be = nc_ctx_backend(ctx);
    float *work = nc_scratch(ctx, (size_t)be->attn_tiled_work_floats(g, &e, true) * sizeof(float));
    if (!work) return;
    be->attn_tiled_backward(g, &e, q->data, k->data, v->data, n->out->data, s->lse,
                            nc_out_grad(n), dq, dk, dv, work);
}

static void attn_backward(nc_ctx *ctx, nc_node *n) {
    const attn_saved *s = n->saved;
    nc_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    nc_tensor *pos = s->g.has_pos ? n->in[3] : NULL;
    int i = s->g.has_pos ? 4 : 3;
    nc_tensor *bu = s->has_u ? n->in[i++] : NULL;
    nc_tensor *bv = s->has_v ? n->in[i] : NULL;
    float *dq = nc_grad_buf(ctx, q), *dk = nc_grad_buf(ctx, k), *dv = nc_grad_buf(ctx, v);
    float *dp = pos ? nc_grad_buf(ctx, pos) : NULL;
    float *dbu = bu ? nc_grad_buf(ctx, bu) : NULL, *dbv = bv ? nc_grad_buf(ctx, bv) : NULL;
    if (ctx->status) return;
    const nc_attn_geom *g = &s->g;
    nc_attn_exec e = {.reference = ctx->reference,
                      .threads = nc_par(ctx, g->B * g->H * g->T * g->T)};
    const nc_backend *be = nc_ctx_backend(ctx);
    float *work = nc_scratch(ctx, (size_t)be->attn_work_floats(g, &e, true) * sizeof(float));
    float *dpp = dp ? nc_scratch(ctx, (size_t)(g->B * (2 * g->T - 1) * g->ld) * sizeof(float)) : NULL;
    float *bp = (dbu || dbv) ? nc_scratch(ctx, (size_t)(2 * g->B * g->H * g->dk) * sizeof(float))
                             : NULL;
    if (ctx->status) return;
    be->attn_backward(g, &e, q->data, k->data, v->data, pos ? pos->data : NULL,
                     bu ? bu->data : NULL, bv ? bv->data : NULL, s->probs, nc_out_grad(n), dq,
                     dk, dv, dp, dbu, dbv, dpp, bp, work);
}

static bool attn_check_bias(nc_ctx *ctx, const nc_tensor *b, int64_t H, int64_t dk) {
    if (!b) return true;
    if (!nc_check_dtype(ctx, "attention", b, NC_F32)) return false;
    if (b->ndim != 2 || b->shape[0] != H || b->shape[1] != dk) {
        nc_shape_fail(ctx, "attention", "position bias must be (heads, d_k)", b, NULL);
        return false;
    }
    return true;
}

nc_tensor *nc_attention(nc_ctx *ctx, nc_tensor *q, nc_tensor *k, nc_tensor *v, nc_tensor *pos,
                        nc_tensor *bias_u, nc_tensor *bias_v, const nc_attention_params *p) {
    const char *op = "attention";
    if (!nc_ok3(ctx, q, k, v) || !p) return p ? NULL : nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "attention: no params");
    if (!nc_check_dtype(ctx, op, q, NC_F32) || !nc_check_dtype(ctx, op, k, NC_F32) ||
        !nc_check_dtype(ctx, op, v, NC_F32))
        return NULL;
    if (q->ndim != 3 || !nc_same_shape(q, k) || !nc_same_shape(q, v))
        return nc_shape_fail(ctx, op, "q, k, v must all be (B, T, heads * d_k)", q, k);
    const int64_t B = q->shape[0], T = q->shape[1], D = q->shape[2], H = p->n_heads;
    if (H <= 0 || D % H)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "attention: %lld features are not %lld heads",
                           (long long)D, (long long)H);
    const int64_t dk = D / H;
    if (pos) {
        if (!nc_check_dtype(ctx, op, pos, NC_F32)) return NULL;
        int64_t rows = nc_numel(pos) / (D ? D : 1);
        if (nc_dim(pos, -1) != D || rows != 2 * T - 1)
            return nc_shape_fail(ctx, op, "positions must be (2T-1, heads * d_k)", pos, q);
    }
    if (bias_v && !pos)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "attention: bias_v needs positions");
    if (pos && p->causal)
        return nc_ctx_fail(ctx, NC_ERR_UNSUPPORTED,
                           "attention: causal masking with relative positions is not supported");
    if (!attn_check_bias(ctx, bias_u, H, dk) || !attn_check_bias(ctx, bias_v, H, dk)) return NULL;
    int64_t *len = NULL;
    if (p->lengths) {
        len = nc_scratch(ctx, (size_t)(B ? B : 1) * sizeof(int64_t));
        if (!len) return NULL;
        memcpy(len, p->lengths, (size_t)B * sizeof(int64_t));
    }
    nc_tensor *ins[6] = {q, k, v};
    int n_in = 3;
    if (pos) ins[n_in++] = pos;
    if (bias_u) ins[n_in++] = bias_u;
    if (bias_v) ins[n_in++] = bias_v;
    bool rec = nc_grad_enabled(ctx);
    bool any = false;
    for (int i = 0; i < n_in; i++) any |= nc_needs_grad(ins[i]);
    rec = rec && any;
    nc_attn_geom g = {.B = B, .T = T, .H = H, .dk = dk, .ld = D,
                      .scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)dk), .len = len,
                      .causal = p->causal, .mask_queries = p->mask_queries, .has_pos = pos != NULL};
    nc_attn_exec e = {.reference = ctx->reference, .threads = nc_par(ctx, B * H * T * T)};
    nc_tensor *out = nc_empty(ctx, NC_F32, NC_DIMS(B, T, D));
    const nc_backend *be = nc_ctx_backend(ctx);
    if (attn_use_tiled(ctx, pos, bias_u, bias_v, p->causal, T)) {
        float *lse = rec ? nc_scratch(ctx, (size_t)(B * H * T) * sizeof(float)) : NULL;
        if (!out || (rec && !lse)) return NULL;
        nc_arena_mark m = nc_arena_mark_get(ctx->arena);
        float *work =
            nc_scratch(ctx, (size_t)be->attn_tiled_work_floats(&g, &e, false) * sizeof(float));
        if (!work) return NULL;
        be->attn_tiled_forward(&g, &e, q->data, k->data, v->data, out->data, lse, work);
        nc_arena_rewind(ctx->arena, m);
        nc_node *n = nc_record(ctx, op, attn_tiled_backward, out, n_in, ins, sizeof(attn_saved));
        if (n) *(attn_saved *)n->saved = (attn_saved){.g = g, .lse = lse};
        return ctx->status ? NULL : out;
    }
    float *probs = rec ? nc_scratch(ctx, (size_t)(B * H * T * T) * sizeof(float)) : NULL;
    if (!out || (rec && !probs)) return NULL;
    /* forward scratch is only needed during the call: hand it back after */
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    float *work = nc_scratch(ctx, (size_t)be->attn_work_floats(&g, &e, false) * sizeof(float));
    if (!work) return NULL;
    be->attn_forward(&g, &e, q->data, k->data, v->data, pos ? pos->data : NULL,
                    bias_u ? bias_u->data : NULL, bias_v ? bias_v->data : NULL, probs, out->data,
                    work);
    nc_arena_rewind(ctx->arena, m);
    nc_node *n = nc_record(ctx, op, attn_backward, out, n_in, ins, sizeof(attn_saved));
    if (n)
        *(attn_saved *)n->saved = (attn_saved){.g = g, .probs = probs, .has_u = bias_u != NULL,
                                               .has_v = bias_v != NULL};
    return ctx->status ? NULL : out;
}
