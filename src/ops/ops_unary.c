/* Element-wise unary ops and activations. One forward and one backward
 * routine switch on the kind outside the loops, so every loop body is a
 * plain vectorisable expression (no per-element function pointers). */
#include <math.h>
#include <string.h>

#include "backend/cpu/vmath.h"
#include "ops/ops_internal.h"

/* exp-based activations run in blocks through the vector kernels of
 * backend/cpu/vmath.h (libm's expf does not vectorise). */
enum { VBLK = 1024 };
static inline int64_t blk(int64_t n, int64_t b0) { return n - b0 < VBLK ? n - b0 : VBLK; }

typedef enum un_kind {
    UN_SCALE, UN_ADD_SCALAR, UN_RELU, UN_LEAKY_RELU, UN_SILU, UN_GELU, UN_GELU_TANH, UN_TANH,
    UN_SIGMOID, UN_EXP, UN_LOG, UN_SQRT, UN_POW
} un_kind;

typedef struct un_saved {
    un_kind kind;
    float p; /* scale, slope or exponent */
} un_saved;

static const float SQRT_2_PI = 0.79788456080286535588f; /* sqrt(2/pi) */

static void un_forward(nc_ctx *ctx, un_kind k, float p, const float *x, float *y, int64_t n) {
    bool par = nc_par(ctx, n);
    switch (k) {
    case UN_SCALE:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = p * x[i];
        break;
    case UN_ADD_SCALAR:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] + p;
        break;
    case UN_RELU:
#pragma omp parallel for if (par) schedule(static)
        /* NaN passes through, as torch.relu (clamp_min) does: a NaN input must
         * reach the loss so the trainer skips the step instead of training on zeros. */
        for (int64_t i = 0; i < n; i++) y[i] = x[i] <= 0 ? 0.0f : x[i];
        break;
    case UN_LEAKY_RELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : p * x[i];
        break;
    case UN_SILU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vsilu(y + b0, x + b0, blk(n, b0));
        break;
    case UN_GELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vgelu(y + b0, x + b0, blk(n, b0));
        break;
    case UN_GELU_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + tanhf(SQRT_2_PI * (v + 0.044715f * v * v * v)));
        }
        break;
    case UN_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case UN_SIGMOID:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vsigmoid(y + b0, x + b0, blk(n, b0));
        break;
    case UN_EXP:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) nc_vexp(y + b0, x + b0, blk(n, b0));
        break;
    case UN_LOG:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]);
        break;
    case UN_SQRT:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
        break;
    case UN_POW:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = powf(x[i], p);
        break;
    }
}

static void un_backward(nc_ctx *ctx, nc_node *nd) {
    const un_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    float *dx = nc_grad_buf(ctx, xt);
    if (!dx) return;
    const float *x = xt->data, *y = nd->out->data, *g = nc_out_grad(nd);
    float p = s->p;
    int64_t n = nc_numel(xt);
    bool par = nc_par(ctx, n);
    switch (s->kind) {
    case UN_SCALE:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += p * g[i];
        break;
    case UN_ADD_SCALAR:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i];
        break;
    case UN_RELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] <= 0 ? 0.0f : g[i]; /* torch threshold_backward */
        break;
    case UN_LEAKY_RELU:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? g[i] : p * g[i];
        break;
    case UN_SILU: /* d/dx x*s(x) = s(x) (1 + x (1 - s(x))) */
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) {
            float sg[VBLK];
            const int64_t m = blk(n, b0);
            nc_vsigmoid(sg, x + b0, m);
            for (int64_t i = 0; i < m; i++)
                dx[b0 + i] += g[b0 + i] * sg[i] * (1.0f + x[b0 + i] * (1.0f - sg[i]));
        }
        break;
    case UN_GELU: /* Phi(x) + x phi(x) */
#pragma omp parallel for if (par) schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += VBLK) {
            float dg[VBLK];
            const int64_t m = blk(n, b0);
            nc_vgelu_deriv(dg, x + b0, m);
            for (int64_t i = 0; i < m; i++) dx[b0 + i] += g[b0 + i] * dg[i];
        }
        break;
    case UN_GELU_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            float inner = SQRT_2_PI * (v + 0.044715f * v * v * v);
            float t = tanhf(inner);
            float dinner = SQRT_2_PI * (1.0f + 3.0f * 0.044715f * v * v);
            dx[i] += g[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dinner);
        }
        break;
    case UN_TANH:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * (1.0f - y[i] * y[i]);
        break;
    case UN_SIGMOID:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * y[i] * (1.0f - y[i]);
        break;
    case UN_EXP:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * y[i];
        break;
    case UN_LOG:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] / x[i];
        break;
    case UN_SQRT:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * 0.5f / y[i];
        break;
    case UN_POW:
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * p * powf(x[i], p - 1.0f);
        break;
    }
}

static nc_tensor *unary(nc_ctx *ctx, const char *op, un_kind k, float p, nc_tensor *x) {
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!y) return NULL;
    un_forward(ctx, k, p, x->data, y->data, nc_numel(x));
    nc_node *n = nc_record(ctx, op, un_backward, y, 1, &x, sizeof(un_saved));
    if (n) *(un_saved *)n->saved = (un_saved){k, p};
    return ctx->status ? NULL : y;
}

nc_tensor *nc_scale(nc_ctx *ctx, nc_tensor *x, float s) { return unary(ctx, "scale", UN_SCALE, s, x); }
nc_tensor *nc_add_scalar(nc_ctx *ctx, nc_tensor *x, float s) { return unary(ctx, "add_scalar", UN_ADD_SCALAR, s, x); }
nc_tensor *nc_relu(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "relu", UN_RELU, 0, x); }
nc_tensor *nc_leaky_relu(nc_ctx *ctx, nc_tensor *x, float slope) { return unary(ctx, "leaky_relu", UN_LEAKY_RELU, slope, x); }
nc_tensor *nc_silu(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "silu", UN_SILU, 0, x); }
nc_tensor *nc_gelu(nc_ctx *ctx, nc_tensor *x, bool tanh_approx) {
    return tanh_approx ? unary(ctx, "gelu_tanh", UN_GELU_TANH, 0, x) : unary(ctx, "gelu", UN_GELU, 0, x);
}
nc_tensor *nc_tanh(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "tanh", UN_TANH, 0, x); }
nc_tensor *nc_sigmoid(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "sigmoid", UN_SIGMOID, 0, x); }
nc_tensor *nc_exp(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "exp", UN_EXP, 0, x); }
nc_tensor *nc_log(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "log", UN_LOG, 0, x); }
nc_tensor *nc_sqrt(nc_ctx *ctx, nc_tensor *x) { return unary(ctx, "sqrt", UN_SQRT, 0, x); }
nc_tensor *nc_pow(nc_ctx *ctx, nc_tensor *x, float p) { return unary(ctx, "pow", UN_POW, p, x); }

/* ---- GLU: a * sigmoid(b) with [a, b] the two halves of dim ---- */

typedef struct glu_saved {
    int64_t outer, half, inner;
} glu_saved;

static void glu_backward(nc_ctx *ctx, nc_node *n) {
    const glu_saved *s = n->saved;
    float *dx = nc_grad_buf(ctx, n->in[0]);
    if (!dx) return;
    const float *x = n->in[0]->data, *g = nc_out_grad(n);
    int64_t hi = s->half * s->inner;
#pragma omp parallel for if (nc_par(ctx, s->outer * hi)) schedule(static)
    for (int64_t o = 0; o < s->outer; o++) {
        const float *a = x + o * 2 * hi, *b = a + hi;
        float *da = dx + o * 2 * hi, *db = da + hi;
        const float *go = g + o * hi;
        for (int64_t b0 = 0; b0 < hi; b0 += VBLK) {
            float sg[VBLK];
            const int64_t m = blk(hi, b0);
            nc_vsigmoid(sg, b + b0, m);
            for (int64_t i = 0; i < m; i++) {
                da[b0 + i] += go[b0 + i] * sg[i];
                db[b0 + i] += go[b0 + i] * a[b0 + i] * sg[i] * (1.0f - sg[i]);
            }
        }
    }
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
    const float *X = x->data;
    float *Y = y->data;
#pragma omp parallel for if (nc_par(ctx, outer * hi)) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        const float *a = X + o * 2 * hi, *b = a + hi;
        float *yo = Y + o * hi;
        nc_vsigmoid(yo, b, hi);
        for (int64_t i = 0; i < hi; i++) yo[i] *= a[i];
    }
    nc_node *nd = nc_record(ctx, "glu", glu_backward, y, 1, &x, sizeof(glu_saved));
    if (nd) *(glu_saved *)nd->saved = (glu_saved){outer, n / 2, inner};
    return ctx->status ? NULL : y;
}
