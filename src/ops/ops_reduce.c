/* Reductions over one dim or all dims: sum, mean, max, argmax. */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

typedef enum red_kind { RED_SUM, RED_MEAN, RED_MAX } red_kind;

typedef struct red_saved {
    red_kind kind;
    int64_t outer, n, inner;
    int64_t *argmax; /* RED_MAX: winning index along dim per output element */
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
    const float *g = nc_out_grad(nd);
    int64_t outer = s->outer, n = s->n, inner = s->inner;
    if (s->kind == RED_MAX) {
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++)
                dx[(o * n + s->argmax[o * inner + i]) * inner + i] += g[o * inner + i];
        return;
    }
    float scale = s->kind == RED_MEAN ? 1.0f / (float)n : 1.0f;
#pragma omp parallel for if (nc_par(ctx, outer * n * inner)) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < inner; i++)
                dx[(o * n + j) * inner + i] += scale * g[o * inner + i];
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
    if (k == RED_MAX && n == 0) return nc_shape_fail(ctx, op, "max over an empty dim", x, NULL);
    nc_tensor *y = nc_empty(ctx, NC_F32, nd, shape);
    if (!y) return NULL;
    int64_t *am = NULL;
    if (k == RED_MAX) {
        am = nc_scratch(ctx, (size_t)(outer * inner) * sizeof(int64_t));
        if (!am) return NULL;
    }
    const float *X = x->data;
    float *Y = y->data;
#pragma omp parallel for collapse(2) if (nc_par(ctx, outer * n * inner)) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *p = X + o * n * inner + i;
            if (k == RED_MAX) {
                float best = p[0];
                int64_t bi = 0;
                for (int64_t j = 1; j < n; j++)
                    if (p[j * inner] > best || (isnan(p[j * inner]) && !isnan(best))) {
                        best = p[j * inner];
                        bi = j;
                    }
                Y[o * inner + i] = best;
                am[o * inner + i] = bi;
            } else {
                double acc = 0;
                for (int64_t j = 0; j < n; j++) acc += p[j * inner];
                Y[o * inner + i] = (float)(k == RED_MEAN ? acc / (double)n : acc);
            }
        }
    }
    nc_node *node = nc_record(ctx, op, red_backward, y, 1, &x, sizeof(red_saved));
    if (node) *(red_saved *)node->saved = (red_saved){k, outer, n, inner, am};
    return ctx->status ? NULL : y;
}

nc_tensor *nc_sum(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    return reduce(ctx, "sum", RED_SUM, x, dim, keepdim);
}
nc_tensor *nc_mean(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    return reduce(ctx, "mean", RED_MEAN, x, dim, keepdim);
}
nc_tensor *nc_max(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim) {
    return reduce(ctx, "max", RED_MAX, x, dim, keepdim);
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
    const float *X = x->data;
    int64_t *Y = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = X + o * n * inner + i;
            int64_t bi = 0;
            for (int64_t j = 1; j < n; j++)
                if (p[j * inner] > p[bi * inner]) bi = j;
            Y[o * inner + i] = bi;
        }
    return y;
}
