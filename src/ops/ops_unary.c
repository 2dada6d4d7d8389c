/* Element-wise unary ops and activations: one kernel call per op, which
 * switches on the kind outside its loops (src/backend/cpu/cpu_eltwise.c). */
#include <string.h>

#include "ops/ops_internal.h"

typedef nc_un_kind un_kind;

typedef struct un_saved {
    un_kind kind;
    float p; /* scale, slope or exponent */
} un_saved;

static void un_backward(nc_ctx *ctx, nc_node *nd) {
    const un_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    float *dx = nc_grad_buf(ctx, xt);
    if (!dx) return;
    int64_t n = nc_numel(xt);
    nc_ctx_backend(ctx)->unary_grad(nc_par(ctx, n), s->kind, s->p, xt->data, nd->out->data,
                                    nc_out_grad(nd), dx, n);
}

static nc_tensor *unary(nc_ctx *ctx, const char *op, un_kind k, float p, nc_tensor *x) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!y) return NULL;
    nc_ctx_backend(ctx)->unary(nc_par(ctx, nc_numel(x)), k, p, x->data, y->data, nc_numel(x));
    nc_node *n = nc_record(ctx, op, un_backward, y, 1, &x, sizeof(un_saved));
    if (n) *(un_saved *)n->saved = (un_saved){k, p};
    return ctx->status ? NULL : y;
}

nc_tensor *nc_scale(nc_ctx *ctx, nc_tensor *x, float s) { return unary(ctx, "scale", NC_UN_SCALE, s, x); }
nc_tensor *nc_add_scalar(nc_ctx *ctx, nc_tensor *x, float s) { return unary(ctx, "add_scalar", NC_UN_ADD_SCALAR, s, x); }
nc_tensor *nc_relu(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "relu", NC_UN_RELU, 0, x); }
nc_tensor *nc_leaky_relu(nc_ctx *ctx, nc_tensor *x, float slope) { return unary(ctx, "leaky_relu", NC_UN_LEAKY_RELU, slope, x); }
nc_tensor *nc_silu(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "silu", NC_UN_SILU, 0, x); }
nc_tensor *nc_gelu(nc_ctx *ctx, nc_tensor *x, bool tanh_approx) {
    return tanh_approx ? unary(ctx, "gelu_tanh", NC_UN_GELU_TANH, 0, x) : unary(ctx, "gelu", NC_UN_GELU, 0, x);
}
nc_tensor *nc_tanh(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "tanh", NC_UN_TANH, 0, x); }
nc_tensor *nc_sigmoid(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "sigmoid", NC_UN_SIGMOID, 0, x); }
nc_tensor *nc_exp(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "exp", NC_UN_EXP, 0, x); }
nc_tensor *nc_log(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "log", NC_UN_LOG, 0, x); }
nc_tensor *nc_sqrt(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "sqrt", NC_UN_SQRT, 0, x); }
nc_tensor *nc_pow(nc_ctx *ctx, nc_tensor *x, float p) { return unary(ctx, "pow", NC_UN_POW, p, x); }

/* ---- GLU: a * sigmoid(b) with [a, b] the two halves of dim ---- */

typedef struct glu_saved {
    int64_t outer, half, inner;
} glu_saved;

static void glu_backward(nc_ctx *ctx, nc_node *n) {
    const glu_saved *s = n->saved;
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (!dx) return;
    int64_t hi = s->half * s->inner;
    nc_ctx_backend(ctx)->glu_grad(nc_par(ctx, s->outer * hi), n->in[0]->data, nc_out_grad(n), dx,
                                  s->outer, hi);
}

nc_tensor *nc_glu(nc_ctx *ctx, nc_tensor *x, int dim) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, "glu", x, NC_F32)) return NULL;
    if (!nc_resolve_dim(ctx, "glu", &dim, x->ndim)) return NULL;
    if (x->shape[dim] % 2) return nc_shape_fail(ctx, "glu", "dim size must be even", x, NULL);
    int64_t outer, n, inner;
    nc_split_dim(x, dim, &outer, &n, &inner);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = n / 2;
    nc_tensor *y = nc_empty(ctx, NC_F32, x->ndim, shape);
    if (!y) return NULL;
    int64_t hi = n / 2 * inner;
    nc_ctx_backend(ctx)->glu(nc_par(ctx, outer * hi), x->data, y->data, outer, hi);
    nc_node *nd = nc_record(ctx, "glu", glu_backward, y, 1, &x, sizeof(glu_saved));
    if (nd) *(glu_saved *)nd->saved = (glu_saved){outer, n / 2, inner};
    return ctx->status ? NULL : y;
}
