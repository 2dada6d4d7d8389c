/* max_pool1d and avg_pool1d over the last dim of x (N, C, L), as
 * torch.nn.functional.max_pool1d / avg_pool1d with ceil_mode=False and
 * dilation 1; kernels in src/backend/cpu/pool.c, through the backend table. */
#include "ops/ops_internal.h"

typedef struct pool_saved {
    nc_pool1d_geom g;
    int64_t *arg; /* max: argmax per output, in the arena */
    bool count_include_pad;
} pool_saved;

/* Checks x and the window; fills g. stride <= 0 means stride = kernel (torch's default). */
static bool pool_geom(nc_ctx *ctx, const char *op, const nc_tensor *x, int64_t k, int64_t s,
                      int64_t p, nc_pool1d_geom *g) {
    if (!nc_check_dtype(ctx, op, x, NC_F32)) return false;
    if (x->ndim != 3) {
        nc_shape_fail(ctx, op, "expected x (N, C, L)", x, NULL);
        return false;
    }
    if (s <= 0) s = k;
    /* torch: "pad should be at most half of effective kernel size" */
    if (k < 1 || p < 0 || 2 * p > k) {
        nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                    "%s: need kernel >= 1 and 0 <= padding <= kernel/2 (kernel %lld, padding %lld)",
                    op, (long long)k, (long long)p);
        return false;
    }
    int64_t L = x->shape[2];
    if (L + 2 * p < k) {
        nc_ctx_fail(ctx, NC_ERR_SHAPE, "%s: padded length %lld is shorter than the kernel %lld",
                    op, (long long)(L + 2 * p), (long long)k);
        return false;
    }
    *g = (nc_pool1d_geom){.rows = x->shape[0] * x->shape[1], .L = L,
                          .Lout = (L + 2 * p - k) / s + 1, .k = k, .s = s, .p = p};
    return true;
}

static void max_pool_backward(nc_ctx *ctx, nc_node *n) {
    const pool_saved *s = n->saved;
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (dx) nc_ctx_backend(ctx)->max_pool1d_grad(&s->g, nc_par(ctx, nc_numel(n->in[0])), nc_out_grad(n), s->arg, dx);
}

nc_tensor *nc_max_pool1d(nc_ctx *ctx, nc_tensor *x, int64_t kernel, int64_t stride, int64_t padding) {
    if (!nc_ok1(ctx, x)) return NULL;
    nc_pool1d_geom g;
    if (!pool_geom(ctx, "max_pool1d", x, kernel, stride, padding, &g)) return NULL;
    nc_tensor *y = nc_empty(ctx, NC_F32, NC_DIMS(x->shape[0], x->shape[1], g.Lout));
    if (!y) return NULL;
    int64_t *arg = NULL; /* argmax only when the op will be on the tape */
    if (nc_grad_enabled(ctx) && nc_needs_grad(x)) {
        arg = nc_scratch(ctx, (size_t)(g.rows * g.Lout) * sizeof(int64_t));
        if (!arg) return NULL;
    }
    nc_ctx_backend(ctx)->max_pool1d(&g, nc_par(ctx, nc_numel(x)), x->data, y->data, arg);
    nc_node *n = nc_record(ctx, "max_pool1d", max_pool_backward, y, 1, &x, sizeof(pool_saved));
    if (n) *(pool_saved *)n->saved = (pool_saved){.g = g, .arg = arg};
    return ctx->status ? NULL : y;
}

static void avg_pool_backward(nc_ctx *ctx, nc_node *n) {
    const pool_saved *s = n->saved;
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (dx)
        nc_ctx_backend(ctx)->avg_pool1d_grad(&s->g, s->count_include_pad, nc_par(ctx, nc_numel(n->in[0])),
                               nc_out_grad(n), dx);
}

nc_tensor *nc_avg_pool1d(nc_ctx *ctx, nc_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                         bool count_include_pad) {
    if (!nc_ok1(ctx, x)) return NULL;
    nc_pool1d_geom g;
    if (!pool_geom(ctx, "avg_pool1d", x, kernel, stride, padding, &g)) return NULL;
    nc_tensor *y = nc_empty(ctx, NC_F32, NC_DIMS(x->shape[0], x->shape[1], g.Lout));
    if (!y) return NULL;
    nc_ctx_backend(ctx)->avg_pool1d(&g, count_include_pad, nc_par(ctx, nc_numel(x)), x->data, y->data);
    nc_node *n = nc_record(ctx, "avg_pool1d", avg_pool_backward, y, 1, &x, sizeof(pool_saved));
    if (n)
        *(pool_saved *)n->saved = (pool_saved){.g = g, .arg = NULL,
                                               .count_include_pad = count_include_pad};
    return ctx->status ? NULL : y;
}
