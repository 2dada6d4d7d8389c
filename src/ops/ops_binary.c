/* Element-wise add/sub/mul/div with NumPy broadcasting. */
#include <string.h>

#include "ops/ops_internal.h"

typedef nc_bin_kind bin_kind;

typedef struct bin_saved {
    bin_kind kind;
    float alpha; /* scale on b for add/sub */
} bin_saved;

/* out[i] = a[ia] op b[ib] over the broadcast index space. Fast paths for
 * equal shapes, a scalar b, and b broadcast over leading dims (bias). */
static void bin_forward(nc_ctx *ctx, bin_kind k, float alpha, const nc_tensor *a,
                        const nc_tensor *b, nc_tensor *out) {
    const float *A = a->data, *B = b->data;
    float *O = out->data;
    int64_t n = nc_numel(out), na = nc_numel(a), nb = nc_numel(b);
    const nc_backend *be = nc_ctx_backend(ctx);
    const bool th = nc_par(ctx, n);
    if (na == n && nb == n) {
        be->binary(th, k, alpha, A, B, O, n);
        return;
    }
    if (na == n && n % nb == 0) {
        bool suffix = b->ndim <= out->ndim;
        for (int i = 0; suffix && i < b->ndim; i++)
            suffix = b->shape[i] == out->shape[out->ndim - b->ndim + i];
        if (suffix) {
            be->binary_rows(th, k, alpha, A, B, O, n / nb, nb);
            return;
        }
    }
    int64_t sa[NC_MAX_DIMS], sb[NC_MAX_DIMS];
    nc_broadcast_strides(a, out->ndim, out->shape, sa);
    nc_broadcast_strides(b, out->ndim, out->shape, sb);
    be->binary_strided(th, k, alpha, A, B, O, out->ndim, out->shape, sa, sb, n);
}

/* Gathers the broadcast operand x into out's shape (for mul/div backward). */
static const float *expand(nc_ctx *ctx, const nc_tensor *x, const nc_tensor *out) {
    if (nc_numel(x) == nc_numel(out)) return x->data;
    nc_tensor *zero = nc_zeros(ctx, NC_F32, out->ndim, out->shape);
    if (!zero) return NULL;
    bin_forward(ctx, NC_BIN_ADD, 1.0f, zero, x, zero);
    return zero->data;
}

static void bin_backward(nc_ctx *ctx, nc_node *n) {
    const bin_saved *s = n->saved;
    nc_tensor *a = n->in[0], *b = n->in[1], *out = n->out;
    const float *g = nc_out_grad(n);
    int64_t N = nc_numel(out);
    if (s->kind == NC_BIN_ADD || s->kind == NC_BIN_SUB) {
        if (nc_needs_grad(a)) nc_acc_unbroadcast(ctx, a, out, g);
        if (nc_needs_grad(b)) {
            float sc = s->kind == NC_BIN_ADD ? s->alpha : -s->alpha;
            const float *gb = g;
            if (sc != 1.0f) {
                float *t = nc_scratch(ctx, (size_t)N * sizeof(float));
                if (!t) return;
                nc_ctx_backend(ctx)->scale(nc_par(ctx, N), t, g, sc, N);
                gb = t;
            }
            nc_acc_unbroadcast(ctx, b, out, gb);
        }
        return;
    }
    const float *A = expand(ctx, a, out), *B = expand(ctx, b, out);
    float *t = nc_scratch(ctx, (size_t)N * sizeof(float));
    if (!A || !B || !t) return;
    const nc_backend *be = nc_ctx_backend(ctx);
    if (nc_needs_grad(a)) {
        be->binary_grad(nc_par(ctx, N), s->kind, false, g, A, B, t, N);
        nc_acc_unbroadcast(ctx, a, out, t);
    }
    if (nc_needs_grad(b)) {
        be->binary_grad(nc_par(ctx, N), s->kind, true, g, A, B, t, N);
        nc_acc_unbroadcast(ctx, b, out, t);
    }
}

static nc_tensor *binary(nc_ctx *ctx, const char *op, bin_kind k, float alpha, nc_tensor *a,
                         nc_tensor *b) {
    if (!nc_ok2(ctx, a, b)) return NULL;
    if (!nc_check_dtype(ctx, op, a, NC_F32) || !nc_check_dtype(ctx, op, b, NC_F32)) return NULL;
    int nd;
    int64_t shape[NC_MAX_DIMS];
    if (!nc_broadcast_shape(ctx, op, a, b, &nd, shape)) return NULL;
    nc_tensor *out = nc_empty(ctx, NC_F32, nd, shape);
    if (!out) return NULL;
    bin_forward(ctx, k, alpha, a, b, out);
    nc_node *n = nc_record(ctx, op, bin_backward, out, 2, (nc_tensor *[]){a, b}, sizeof(bin_saved));
    if (n) *(bin_saved *)n->saved = (bin_saved){k, alpha};
    return ctx->status ? NULL : out;
}

nc_tensor *nc_add(nc_ctx *ctx, nc_tensor *a, nc_tensor *b) { return binary(ctx, "add", NC_BIN_ADD, 1.0f, a, b); }
nc_tensor *nc_sub(nc_ctx *ctx, nc_tensor *a, nc_tensor *b) { return binary(ctx, "sub", NC_BIN_SUB, 1.0f, a, b); }
nc_tensor *nc_mul(nc_ctx *ctx, nc_tensor *a, nc_tensor *b) { return binary(ctx, "mul", NC_BIN_MUL, 1.0f, a, b); }
nc_tensor *nc_div(nc_ctx *ctx, nc_tensor *a, nc_tensor *b) { return binary(ctx, "div", NC_BIN_DIV, 1.0f, a, b); }
nc_tensor *nc_add_scaled(nc_ctx *ctx, nc_tensor *a, nc_tensor *b, float alpha) {
    return binary(ctx, "add_scaled", NC_BIN_ADD, alpha, a, b);
}
