/* Indexing ops: gather, masked_fill, embedding. */
#include <string.h>

#include "ops/ops_internal.h"

/* ==================================================================== gather */

/* torch.gather(x, dim, index): out[o, j, i] = x[o', index[o, j, i], i'] where
 * (o, j, i) splits index's shape around dim and o', i' are the same
 * coordinates in x (index may be smaller than x in every dim but `dim`). The
 * x offsets of o and i are precomputed once, so the loops are plain adds. */
typedef struct gather_saved {
    const int64_t *xo, *xi; /* x offsets of each outer / inner coordinate */
    int64_t outer, n, inner, xstride;
} gather_saved;

/* Offsets into x (strides of x) for the coordinates of dims [d0, d1) of index. */
static void coord_offsets(const nc_tensor *x, const nc_tensor *index, int d0, int d1,
                          int64_t *off, int64_t count) {
    int64_t xs[NC_MAX_DIMS], s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        xs[d] = s;
        s *= x->shape[d];
    }
    for (int64_t k = 0; k < count; k++) {
        int64_t rem = k, o = 0;
        for (int d = d1 - 1; d >= d0; d--) {
            o += (rem % index->shape[d]) * xs[d];
            rem /= index->shape[d];
        }
        off[k] = o;
    }
}

static void gather_backward(nc_ctx *ctx, nc_node *nd) {
    const gather_saved *s = nd->saved;
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    nc_ctx_backend(ctx)->gather_grad(nc_par(ctx, s->outer * s->n * s->inner), nc_out_grad(nd),
                                     nd->in[1]->data, s->xo, s->xi, s->xstride, dx, s->outer,
                                     s->n, s->inner);
}

nc_tensor *nc_gather(nc_ctx *ctx, nc_tensor *x, int dim, nc_tensor *index) {
    const char *op = "gather";
    if (!nc_ok2(ctx, x, index) || !nc_check_dtype(ctx, op, index, NC_I64)) return NULL;
    if (x->dtype != NC_F32 && x->dtype != NC_I64)
        return nc_ctx_fail(ctx, NC_ERR_DTYPE, "gather: x must be float32 or int64, got %s",
                           nc_dtype_name(x->dtype));
    if (!nc_resolve_dim(ctx, op, &dim, x->ndim)) return NULL;
    if (index->ndim != x->ndim)
        return nc_shape_fail(ctx, op, "index must have as many dims as x", index, x);
    for (int d = 0; d < x->ndim; d++)
        if (d != dim && index->shape[d] > x->shape[d])
            return nc_shape_fail(ctx, op, "index is larger than x outside dim", index, x);
    int64_t outer, n, inner;
    nc_split_dim(index, dim, &outer, &n, &inner);
    const int64_t size = x->shape[dim], total = nc_numel(index);
    const int64_t *idx = index->data;
    for (int64_t k = 0; k < total; k++)
        if (idx[k] < 0 || idx[k] >= size)
            return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                               "gather: index %lld at position %lld is out of bounds for dim %d "
                               "with size %lld", (long long)idx[k], (long long)k, dim,
                               (long long)size);
    nc_tensor *y = nc_empty(ctx, x->dtype, index->ndim, index->shape);
    int64_t *offs = nc_scratch(ctx, (size_t)(outer + inner + 1) * sizeof(int64_t));
    if (!y || !offs) return NULL;
    int64_t *xo = offs, *xi = offs + outer;
    coord_offsets(x, index, 0, dim, xo, outer);
    coord_offsets(x, index, dim + 1, x->ndim, xi, inner);
    int64_t xstride = 1;
    for (int d = dim + 1; d < x->ndim; d++) xstride *= x->shape[d];
    nc_ctx_backend(ctx)->gather(nc_par(ctx, total), x->data, idx, xo, xi, xstride, y->data,
                                nc_dtype_size(x->dtype), outer, n, inner);
    if (x->dtype == NC_F32) {
        nc_node *nd = nc_record(ctx, op, gather_backward, y, 2, (nc_tensor *[]){x, index},
                                sizeof(gather_saved));
        if (nd)
            *(gather_saved *)nd->saved = (gather_saved){
                .xo = xo, .xi = xi, .outer = outer, .n = n, .inner = inner, .xstride = xstride};
    }
    return ctx->status ? NULL : y;
}

/* ==================================================================== masked_fill */

/* x viewed as rows of its last dim; the mask's row offset comes from its
 * broadcast strides, its step along the row is 0 or 1. */
typedef struct mf_saved {
    nc_tensor *mask;
    int64_t strides[NC_MAX_DIMS]; /* mask strides in x's shape (0 on broadcast dims) */
} mf_saved;

static void mf_backward(nc_ctx *ctx, nc_node *nd) {
    const mf_saved *s = nd->saved;
    nc_tensor *x = nd->in[0];
    float *dx = nc_grad_buf(ctx, x);
    if (!dx) return;
    nc_ctx_backend(ctx)->masked_fill_grad(nc_par(ctx, nc_numel(x)), nc_out_grad(nd), s->mask->data,
                                          s->strides, x->ndim, x->shape, dx);
}

nc_tensor *nc_masked_fill(nc_ctx *ctx, nc_tensor *x, nc_tensor *mask, float value) {
    const char *op = "masked_fill";
    if (!nc_ok2(ctx, x, mask) || !nc_check_dtype(ctx, op, x, NC_F32) ||
        !nc_check_dtype(ctx, op, mask, NC_U8))
        return NULL;
    if (mask->ndim > x->ndim) return nc_shape_fail(ctx, op, "mask has more dims than x", mask, x);
    for (int i = 0; i < mask->ndim; i++) {
        int64_t dm = mask->shape[i], dxs = x->shape[x->ndim - mask->ndim + i];
        if (dm != dxs && dm != 1)
            return nc_shape_fail(ctx, op, "mask does not broadcast to x", mask, x);
    }
    nc_tensor *y = nc_empty_like(ctx, x);
    mf_saved *sv = nc_scratch(ctx, sizeof *sv);
    if (!y || !sv) return NULL;
    sv->mask = mask;
    nc_broadcast_strides(mask, x->ndim, x->shape, sv->strides);
    nc_ctx_backend(ctx)->masked_fill(nc_par(ctx, nc_numel(x)), x->data, mask->data, sv->strides,
                                     x->ndim, x->shape, value, y->data);
    nc_node *nd = nc_record(ctx, op, mf_backward, y, 1, &x, sizeof(mf_saved));
    if (nd) *(mf_saved *)nd->saved = *sv;
    return ctx->status ? NULL : y;
}

/* ==================================================================== embedding */

typedef struct emb_saved {
    int64_t padding_idx;
} emb_saved;

static void emb_backward(nc_ctx *ctx, nc_node *nd) {
    const emb_saved *s = nd->saved;
    nc_tensor *w = nd->in[0], *idx = nd->in[1];
    float *dw = nc_grad_buf(ctx, w);
    if (!dw) return;
    const int64_t D = w->shape[1], n = nc_numel(idx);
    nc_ctx_backend(ctx)->embedding_grad(nc_par(ctx, n * D), nc_out_grad(nd), idx->data,
                                        s->padding_idx, dw, n, D);
}

nc_tensor *nc_embedding(nc_ctx *ctx, nc_tensor *weight, nc_tensor *idx, int64_t padding_idx) {
    const char *op = "embedding";
    if (!nc_ok2(ctx, weight, idx) || !nc_check_dtype(ctx, op, weight, NC_F32) ||
        !nc_check_dtype(ctx, op, idx, NC_I64))
        return NULL;
    if (weight->ndim != 2) return nc_shape_fail(ctx, op, "weight must be (V, D)", weight, NULL);
    if (idx->ndim + 1 > NC_MAX_DIMS) return nc_shape_fail(ctx, op, "too many index dims", idx, NULL);
    const int64_t V = weight->shape[0], D = weight->shape[1], n = nc_numel(idx);
    const int64_t *I = idx->data;
    for (int64_t t = 0; t < n; t++)
        if (I[t] < 0 || I[t] >= V)
            return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                               "embedding: index %lld at position %lld is out of range for a "
                               "table of %lld rows", (long long)I[t], (long long)t, (long long)V);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, idx->shape, (size_t)idx->ndim * sizeof(int64_t));
    shape[idx->ndim] = D;
    nc_tensor *y = nc_empty(ctx, NC_F32, idx->ndim + 1, shape);
    if (!y) return NULL;
    nc_ctx_backend(ctx)->embedding(nc_par(ctx, n * D), weight->data, I, y->data, n, D);
    nc_node *nd = nc_record(ctx, op, emb_backward, y, 2, (nc_tensor *[]){weight, idx},
                            sizeof(emb_saved));
    if (nd) ((emb_saved *)nd->saved)->padding_idx = padding_idx >= 0 ? padding_idx : -1;
    return ctx->status ? NULL : y;
}
