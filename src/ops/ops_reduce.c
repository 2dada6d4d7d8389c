/* Reductions over one dim or all dims: sum, mean, max, argmax. */
#include <string.h>

#include "ops/ops_internal.h"

typedef nc_red_kind red_kind;

typedef struct red_saved {
    red_kind kind;
    int64_t outer, n, inner;
    int64_t *argmax; /* NC_RED_MAX: winning index along dim per output element */
} red_saved;

static bool out_shape(nc_ctx *ctx, const char *op, const nc_tensor *x, int *dim, bool keepdim,
                      int *ndim, int64_t *shape) {
    if (*dim == NC_ALL_DIMS) {
        *ndim = keepdim ? x->ndim : 0;
        for (int i = 0; i < *ndim; i++) shape[i] = 1;
        return true;
    }
    if (!nc_resolve_dim(ctx, op, dim, x->ndim)) return false;
    int k = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i == *dim) {
            if (keepdim) shape[k++] = 1;
        } else {
            shape[k++] = x->shape[i];
        }
    }
    *ndim = k;
    return true;
}

static void red_backward(nc_ctx *ctx, nc_node *nd) {
    const red_saved *s = nd->saved;
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    nc_ctx_backend(ctx)->reduce_grad(nc_par(ctx, s->outer * s->n * s->inner), s->kind,
                                     nc_out_grad(nd), s->argmax, dx, s->outer, s->n, s->inner);
}

static nc_tensor *reduce(nc_ctx *ctx, const char *op, red_kind k, nc_tensor *x, int dim,
                         bool keepdim) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    int nd;
    int64_t shape[NC_MAX_DIMS];
    if (!out_shape(ctx, op, x, &dim, keepdim, &nd, shape)) return NULL;
    int64_t outer, n, inner;
    if (dim == NC_ALL_DIMS) {
        outer = 1, n = nc_numel(x), inner = 1;
    } else {
        nc_split_dim(x, dim, &outer, &n, &inner);
    }
    if (k == NC_RED_MAX && n == 0) return nc_shape_fail(ctx, op, "max over an empty dim", x, NULL);
    nc_tensor *y = nc_empty(ctx, NC_F32, nd, shape);
    if (!y) return NULL;
    int64_t *am = NULL;
    if (k == NC_RED_MAX) {
        am = nc_scratch(ctx, (size_t)(outer * inner) * sizeof(int64_t));
        if (!am) return NULL;
    }
    nc_ctx_backend(ctx)->reduce(nc_par(ctx, outer * n * inner), k, x->data, y->data, am, outer, n,
                                inner);
    nc_node *node = nc_record(ctx, op, red_backward, y, 1, &x, sizeof(red_saved));
    if (node) *(red_saved *)node->saved = (red_saved){k, outer, n, inner, am};
    return ctx->status ? NULL : y;
}

nc_tensor *nc_sum(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    return reduce(ctx, "sum", NC_RED_SUM, x, dim, keepdim);
}
nc_tensor *nc_mean(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    return reduce(ctx, "mean", NC_RED_MEAN, x, dim, keepdim);
}
nc_tensor *nc_max(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    return reduce(ctx, "max", NC_RED_MAX, x, dim, keepdim);
}

nc_tensor *nc_argmax(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, "argmax", x, NC_F32)) return NULL;
    int nd;
    int64_t shape[NC_MAX_DIMS];
    if (!out_shape(ctx, "argmax", x, &dim, keepdim, &nd, shape)) return NULL;
    int64_t outer, n, inner;
    if (dim == NC_ALL_DIMS)
        outer = 1, n = nc_numel(x), inner = 1;
    else
        nc_split_dim(x, dim, &outer, &n, &inner);
    if (n == 0) return nc_shape_fail(ctx, "argmax", "empty dim", x, NULL);
    nc_tensor *y = nc_empty(ctx, NC_I64, nd, shape);
    if (!y) return NULL;
    nc_ctx_backend(ctx)->argmax(x->data, y->data, outer, n, inner);
    return y;
}
