/* Shape ops: reshape (a view), transpose/permute, slice, concat, pad, copy, cast. */
#include <string.h>

#include "ops/ops_internal.h"

/* ---- reshape ---- */

static void reshape_backward(nc_ctx *ctx, nc_node *n) {
    nc_tensor *x = n->in[0];
    /* (saves a 206 MB copy per GPT-2-small step: the logits) */
    if (nc_grad_pass_through(ctx, x, n)) return;
    float *dx = nc_grad_buf(ctx, x);
    if (dx) nc_acc(ctx, dx, nc_out_grad(n), nc_numel(n->out));
}

nc_tensor *nc_reshape(nc_ctx *ctx, nc_tensor *x, int ndim, const int64_t *shape) {
    if (!nc_ok1(ctx, x)) return NULL;
    if (ndim < 0 || ndim > NC_MAX_DIMS)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "reshape: %d dims", ndim);
    int64_t s[NC_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "reshape: two -1 dims");
            infer = i;
        } else {
            known *= shape[i];
        }
    }
    int64_t n = nc_numel(x);
    if (infer >= 0) s[infer] = known ? n / known : 0;
    if (nc_dims_numel(ndim, s) != n) {
        char a[128], b[128];
        return nc_ctx_fail(ctx, NC_ERR_SHAPE, "reshape: cannot view %s as %s",
                           nc_shape_str(x, a, sizeof a), nc_dims_str(ndim, shape, b, sizeof b));
    }
    nc_tensor *y = nc_tensor_view_of(ctx, x->dtype, ndim, s, x->data);
    if (!y) return NULL;
    y->flags |= x->flags & NC_TF_PARAM; /* a view of a parameter's storage */
    nc_record(ctx, "reshape", reshape_backward, y, 1, &x, 0);
    return ctx->status ? NULL : y;
}

/* ---- permute ---- */

typedef struct perm_saved {
    int perm[NC_MAX_DIMS];
} perm_saved;

/* dst (permuted shape) = src with dims reordered by perm; inverse_add
 * accumulates the inverse direction (dst is the source layout) for backward. */
static void permute_copy(nc_ctx *ctx, const nc_tensor *src, const int *perm, float *dst,
                         const float *sdata, bool inverse_add) {
    size_t esz = inverse_add ? sizeof(float) : nc_dtype_size(src->dtype);
    nc_ctx_backend(ctx)->permute(nc_par(ctx, nc_numel(src)), sdata, dst, src->ndim, src->shape,
                                 perm, esz, inverse_add);
}

static void permute_backward(nc_ctx *ctx, nc_node *n) {
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (!dx) return;
    const perm_saved *s = n->saved;
    permute_copy(ctx, n->in[0], s->perm, dx, nc_out_grad(n), true);
}

nc_tensor *nc_permute(nc_ctx *ctx, nc_tensor *x, const int *perm) {
    if (!nc_ok1(ctx, x)) return NULL;
    int nd = x->ndim, seen = 0;
    perm_saved ps;
    int64_t shape[NC_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int p = perm[i] < 0 ? perm[i] + nd : perm[i];
        if (p < 0 || p >= nd || (seen & (1 << p)))
            return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "permute: invalid permutation");
        seen |= 1 << p;
        ps.perm[i] = p;
        shape[i] = x->shape[p];
    }
    nc_tensor *y = nc_empty(ctx, x->dtype, nd, shape);
    if (!y) return NULL;
    permute_copy(ctx, x, ps.perm, y->data, x->data, false);
    nc_node *n = nc_record(ctx, "permute", permute_backward, y, 1, &x, sizeof(perm_saved));
    if (n) *(perm_saved *)n->saved = ps;
    return ctx->status ? NULL : y;
}

nc_tensor *nc_transpose(nc_ctx *ctx, nc_tensor *x, int d0, int d1) {
    if (!nc_ok1(ctx, x)) return NULL;
    if (!nc_resolve_dim(ctx, "transpose", &d0, x->ndim) ||
        !nc_resolve_dim(ctx, "transpose", &d1, x->ndim))
        return NULL;
    int perm[NC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[d0] = d1;
    perm[d1] = d0;
    return nc_permute(ctx, x, perm);
}

/* ---- slice ---- */

typedef struct slice_saved {
    int64_t outer, n_in, n_out, inner, start, step;
} slice_saved;

static void slice_backward(nc_ctx *ctx, nc_node *n) {
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (!dx) return;
    const slice_saved *s = n->saved;
    nc_ctx_backend(ctx)->slice_grad(nc_par(ctx, s->outer * s->n_out * s->inner), nc_out_grad(n), dx,
                                    s->outer, s->n_in, s->n_out, s->inner, s->start, s->step);
}

nc_tensor *nc_slice(nc_ctx *ctx, nc_tensor *x, int dim, int64_t start, int64_t end, int64_t step) {
    if (!nc_ok1(ctx, x)) return NULL;
    if (!nc_resolve_dim(ctx, "slice", &dim, x->ndim)) return NULL;
    if (step <= 0) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "slice: step must be positive");
    int64_t L = x->shape[dim];
    if (start < 0) start += L;
    if (end < 0) end += L;
    if (start < 0) start = 0;
    if (end > L) end = L;
    if (start > L) start = L;
    int64_t len = end > start ? (end - start + step - 1) / step : 0;
    int64_t outer, n, inner;
    nc_split_dim(x, dim, &outer, &n, &inner);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = len;
    nc_tensor *y = nc_empty(ctx, x->dtype, x->ndim, shape);
    if (!y) return NULL;
    size_t es = nc_dtype_size(x->dtype);
    const char *X = x->data;
    char *Y = y->data;
    if (step == 1) /* one contiguous run per outer row (a last-dim slice has inner 1) */
        for (int64_t o = 0; o < outer; o++)
            memcpy(Y + (size_t)(o * len * inner) * es, X + (size_t)((o * n + start) * inner) * es,
                   (size_t)(len * inner) * es);
    else
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < len; j++)
                memcpy(Y + (size_t)((o * len + j) * inner) * es,
                       X + (size_t)((o * n + start + j * step) * inner) * es, (size_t)inner * es);
    nc_node *nd = nc_record(ctx, "slice", slice_backward, y, 1, &x, sizeof(slice_saved));
    if (nd) *(slice_saved *)nd->saved = (slice_saved){outer, n, len, inner, start, step};
    return ctx->status ? NULL : y;
}

/* ---- concat ---- */

typedef struct concat_saved {
    int64_t outer, inner, n_total;
} concat_saved;

static void concat_backward(nc_ctx *ctx, nc_node *nd) {
    const concat_saved *s = nd->saved;
    const float *g = nc_out_grad(nd);
    int64_t off = 0;
    for (int k = 0; k < nd->n_in; k++) {
        nc_tensor *x = nd->in[k];
        int64_t oi = s->outer * s->inner;
        int64_t nk = oi ? nc_numel(x) / oi : 0;
        float *dx = nc_grad_buf(ctx, x);
        if (dx)
            for (int64_t o = 0; o < s->outer; o++)
                for (int64_t i = 0; i < nk * s->inner; i++)
                    dx[o * nk * s->inner + i] += g[(o * s->n_total + off) * s->inner + i];
        off += nk;
    }
}

nc_tensor *nc_concat(nc_ctx *ctx, int n, nc_tensor *const *xs, int dim) {
    if (ctx->status) return NULL;
    if (n < 1) return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "concat: no inputs");
    for (int k = 0; k < n; k++)
        if (!nc_ok1(ctx, xs[k])) return NULL;
    nc_tensor *x0 = xs[0];
    if (!nc_resolve_dim(ctx, "concat", &dim, x0->ndim)) return NULL;
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        const nc_tensor *x = xs[k];
        if (x->ndim != x0->ndim || x->dtype != x0->dtype)
            return nc_shape_fail(ctx, "concat", "rank or dtype differs", x0, x);
        for (int i = 0; i < x->ndim; i++)
            if (i != dim && x->shape[i] != x0->shape[i])
                return nc_shape_fail(ctx, "concat", "sizes differ outside the concat dim", x0, x);
        total += x->shape[dim];
    }
    int64_t outer, nn, inner;
    nc_split_dim(x0, dim, &outer, &nn, &inner);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[dim] = total;
    nc_tensor *y = nc_empty(ctx, x0->dtype, x0->ndim, shape);
    if (!y) return NULL;
    size_t es = nc_dtype_size(x0->dtype);
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        int64_t nk = xs[k]->shape[dim];
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)y->data + (size_t)((o * total + off) * inner) * es,
                   (const char *)xs[k]->data + (size_t)(o * nk * inner) * es,
                   (size_t)(nk * inner) * es);
        off += nk;
    }
    nc_node *nd = nc_record(ctx, "concat", concat_backward, y, n, xs, sizeof(concat_saved));
    if (nd) *(concat_saved *)nd->saved = (concat_saved){outer, inner, total};
    return ctx->status ? NULL : y;
}

/* ---- pad ---- */

typedef struct pad_saved {
    int64_t outer, n_in, n_out, inner, left;
} pad_saved;

static void pad_backward(nc_ctx *ctx, nc_node *nd) {
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    const pad_saved *s = nd->saved;
    const float *g = nc_out_grad(nd);
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t j = 0; j < s->n_out; j++) {
            int64_t src = j - s->left;
            if (src < 0 || src >= s->n_in) continue;
            float *d = dx + (o * s->n_in + src) * s->inner;
            const float *gg = g + (o * s->n_out + j) * s->inner;
            for (int64_t i = 0; i < s->inner; i++) d[i] += gg[i];
        }
}

nc_tensor *nc_pad(nc_ctx *ctx, nc_tensor *x, int dim, int64_t left, int64_t right, float value) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, "pad", x, NC_F32)) return NULL;
    if (!nc_resolve_dim(ctx, "pad", &dim, x->ndim)) return NULL;
    int64_t outer, n, inner;
    nc_split_dim(x, dim, &outer, &n, &inner);
    int64_t n_out = n + left + right;
    if (n_out < 0) return nc_shape_fail(ctx, "pad", "cropping more than the size", x, NULL);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = n_out;
    nc_tensor *y = nc_empty(ctx, NC_F32, x->ndim, shape);
    if (!y) return NULL;
    nc_ctx_backend(ctx)->pad(nc_par(ctx, outer * n_out * inner), x->data, y->data, outer, n, n_out,
                             inner, left, value);
    nc_node *nd = nc_record(ctx, "pad", pad_backward, y, 1, &x, sizeof(pad_saved));
    if (nd) *(pad_saved *)nd->saved = (pad_saved){outer, n, n_out, inner, left};
    return ctx->status ? NULL : y;
}

/* ---- copy and cast ---- */

nc_tensor *nc_contiguous_copy(nc_ctx *ctx, nc_tensor *x) {
    if (!nc_ok1(ctx, x)) return NULL;
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!y) return NULL;
    memcpy(y->data, x->data, nc_nbytes(x));
    nc_record(ctx, "contiguous_copy", reshape_backward, y, 1, &x, 0);
    return ctx->status ? NULL : y;
}

static void cast_backward(nc_ctx *ctx, nc_node *n) {
    /* Only f32 <-> bf16 records; the gradient passes through in f32. */
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (dx) nc_acc(ctx, dx, nc_out_grad(n), nc_numel(n->out));
}

nc_tensor *nc_cast(nc_ctx *ctx, nc_tensor *x, nc_dtype dt) {
    if (!nc_ok1(ctx, x)) return NULL;
    nc_tensor *y = nc_empty(ctx, dt, x->ndim, x->shape);
    if (!y) return NULL;
    nc_status s = nc_tensor_convert(x, y);
    if (s) return nc_ctx_fail(ctx, s, "cast: %s", nc_last_error());
    bool floaty = (x->dtype == NC_F32 || x->dtype == NC_BF16) && (dt == NC_F32 || dt == NC_BF16);
    if (floaty && dt == NC_F32) nc_record(ctx, "cast", cast_backward, y, 1, &x, 0);
    return ctx->status ? NULL : y;
}
