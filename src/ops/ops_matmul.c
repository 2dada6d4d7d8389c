/* matmul and linear, forward and backward on the gemm engines. */
#include <string.h>

#include "ops/ops_internal.h"

typedef struct matmul_saved {
    bool ta, tb;
    int64_t M, N, K, batch;
    bool b_shared; /* b is 2-D and broadcast over a's batch */
} matmul_saved;

static nc_gemm_args gemm2(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                          const float *B, float *C, float beta) {
    return (nc_gemm_args){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = 1.0f,
                          .beta = beta, .A = A, .lda = ta ? M : K, .B = B, .ldb = tb ? K : N,
                          .C = C, .ldc = N, .batch = 1};
}

static void matmul_backward(nc_ctx *ctx, nc_node *n) {
    const matmul_saved *s = n->saved;
    nc_tensor *a = n->in[0], *b = n->in[1];
    const float *dC = nc_out_grad(n);
    const float *A = a->data, *B = b->data;
    int64_t M = s->M, N = s->N, K = s->K;
    float *dA = nc_grad_buf(ctx, a);
    if (dA) {
        nc_gemm_args g;
        if (!s->ta) /* dA (M,K) = dC (M,N) op(B)^T */
            g = gemm2(false, !s->tb, M, K, N, dC, B, dA, 1.0f);
        else /* dA stored (K,M) = op(B) (K,N) dC^T */
            g = gemm2(s->tb, true, K, M, N, B, dC, dA, 1.0f);
        g.batch = s->batch;
        g.stride_a = s->ta ? (s->b_shared ? 0 : K * N) : M * N;
        g.stride_b = s->ta ? M * N : (s->b_shared ? 0 : K * N);
        g.stride_c = M * K;
        if (!nc_ctx_gemm_run(ctx, &g)) return;
    }
    float *dB = nc_grad_buf(ctx, b);
    if (dB) {
        if (s->b_shared && !s->ta) {
            /* One shared B: fold the batch into rows, A is (batch*M, K). */
            nc_gemm_args g = s->tb ? gemm2(true, false, N, K, s->batch * M, dC, A, dB, 1.0f)
                                   : gemm2(true, false, K, N, s->batch * M, A, dC, dB, 1.0f);
            nc_ctx_gemm_run(ctx, &g);
            return;
        }
        for (int64_t i = 0; i < (s->b_shared ? s->batch : 1); i++) {
            nc_gemm_args g = s->tb ? gemm2(true, s->ta, N, K, M, dC, A, dB, 1.0f)
                                   : gemm2(!s->ta, false, K, N, M, A, dC, dB, 1.0f);
            if (s->b_shared) {
                g.A = (s->tb ? dC : A) + i * (s->tb ? M * N : M * K);
                g.B = (s->tb ? A : dC) + i * (s->tb ? M * K : M * N);
            } else {
                g.batch = s->batch;
                g.stride_a = s->tb ? M * N : M * K;
                g.stride_b = s->tb ? M * K : M * N;
                g.stride_c = K * N;
            }
            if (!nc_ctx_gemm_run(ctx, &g)) return;
        }
    }
}

nc_tensor *nc_matmul(nc_ctx *ctx, nc_tensor *a, nc_tensor *b, bool ta, bool tb) {
    if (!nc_ok2(ctx, a, b)) return NULL;
    if (!nc_check_dtype(ctx, "matmul", a, NC_F32) || !nc_check_dtype(ctx, "matmul", b, NC_F32))
        return NULL;
    if (a->ndim < 2 || b->ndim < 2) return nc_shape_fail(ctx, "matmul", "need >= 2 dims", a, b);
    int64_t M = ta ? nc_dim(a, -1) : nc_dim(a, -2);
    int64_t K = ta ? nc_dim(a, -2) : nc_dim(a, -1);
    int64_t Kb = tb ? nc_dim(b, -1) : nc_dim(b, -2);
    int64_t N = tb ? nc_dim(b, -2) : nc_dim(b, -1);
    if (K != Kb) return nc_shape_fail(ctx, "matmul", "inner dims differ", a, b);
    int64_t batch = 1;
    for (int i = 0; i < a->ndim - 2; i++) batch *= a->shape[i];
    bool shared = b->ndim == 2 && a->ndim > 2;
    if (!shared) {
        if (b->ndim != a->ndim) return nc_shape_fail(ctx, "matmul", "batch dims differ", a, b);
        for (int i = 0; i < a->ndim - 2; i++)
            if (a->shape[i] != b->shape[i])
                return nc_shape_fail(ctx, "matmul", "batch dims differ", a, b);
    }
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 2] = M;
    shape[a->ndim - 1] = N;
    nc_tensor *c = nc_empty(ctx, NC_F32, a->ndim, shape);
    if (!c) return NULL;
    nc_gemm_args g = gemm2(ta, tb, M, N, K, a->data, b->data, c->data, 0.0f);
    g.batch = batch;
    g.stride_a = M * K;
    g.stride_b = shared ? 0 : K * N;
    g.stride_c = M * N;
    if (!nc_ctx_gemm_run(ctx, &g)) return NULL;
    nc_node *n = nc_record(ctx, "matmul", matmul_backward, c, 2, (nc_tensor *[]){a, b},
                           sizeof(matmul_saved));
    if (n) *(matmul_saved *)n->saved = (matmul_saved){ta, tb, M, N, K, batch, shared};
    return ctx->status ? NULL : c;
}

/* ---- linear ---- */

/* db (N) += column sums of dy (rows, N), in the backend's fixed blocks of
 * DB_ROWS rows (backend.h, bias_grad): the result does not depend on the
 * thread count. */
enum { DB_ROWS = 64 };
static void bias_grad(nc_ctx *ctx, const float *dy, int64_t rows, int64_t N, float *db) {
    int64_t nblk = (rows + DB_ROWS - 1) / DB_ROWS;
    float *part = nc_scratch(ctx, (size_t)((nblk ? nblk : 1) * N) * sizeof(float));
    if (!part) return;
    nc_ctx_backend(ctx)->bias_grad(nc_par(ctx, rows * N), dy, rows, N, part, db);
}

/* In bf16 precision (fast kernels) the ops hand the gemm operands already
 * converted: weights from the ctx's per-step cache, the input x converted
 * once in forward and kept for the weight gradient, dy converted once for
 * both backward products. */
static bool bf16_path(const nc_ctx *ctx) {
    return ctx->precision == NC_PREC_BF16 && !ctx->reference && ctx->gemm != NC_GEMM_REF;
}

typedef struct linear_saved {
    const uint16_t *x16; /* x in bf16 (bf16 path), or NULL */
} linear_saved;

static void linear_backward(nc_ctx *ctx, nc_node *n) {
    nc_tensor *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    const linear_saved *sv = n->saved;
    int64_t out_f = w->shape[0], in_f = w->shape[1];
    int64_t rows = nc_numel(x) / in_f;
    const float *dy = nc_out_grad(n);
    bool fresh;
    float *dx = nc_grad_buf_fresh(ctx, x, &fresh);
    float *dw = nc_grad_buf(ctx, w);
    if (ctx->status) return;
    const bool bf = bf16_path(ctx) && (dx || dw);
    /* the weight copy comes from the step cache: fetch it before the mark */
    const uint16_t *w16 = bf && dx ? nc_ctx_bf16_param(ctx, w) : NULL;
    nc_arena_mark m = nc_arena_mark_get(ctx->arena);
    uint16_t *dy16 = NULL;
    if (bf) {
        dy16 = nc_scratch(ctx, (size_t)(rows * out_f) * sizeof(uint16_t));
        if (!dy16 || (dx && !w16)) return;
        nc_convert_f32_to_bf16(dy, dy16, rows * out_f);
    }
    if (dx) { /* dx (R, in) (+)= dy (R, out) @ w (out, in) */
        nc_gemm_args g = gemm2(false, false, rows, in_f, out_f, dy, w->data, dx, fresh ? 0.0f : 1.0f);
        g.A16 = dy16, g.B16 = w16;
        if (!nc_ctx_gemm_run(ctx, &g)) return;
    }
    if (dw) { /* dw (out, in) += dy^T (out, R) @ x (R, in) */
        nc_gemm_args g = gemm2(true, false, out_f, in_f, rows, dy, x->data, dw, 1.0f);
        g.A16 = dy16, g.B16 = dy16 ? sv->x16 : NULL;
        if (!nc_ctx_gemm_run(ctx, &g)) return;
    }
    nc_arena_rewind(ctx->arena, m); /* dy16 */
    float *db = bias ? nc_grad_buf(ctx, bias) : NULL;
    if (db) {
        nc_arena_mark m = nc_arena_mark_get(ctx->arena);
        bias_grad(ctx, dy, rows, out_f, db);
        nc_arena_rewind(ctx->arena, m);
    }
}

nc_tensor *nc_linear(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias) {
    if (!nc_ok2(ctx, x, w)) return NULL;
    if (!nc_check_dtype(ctx, "linear", x, NC_F32) || !nc_check_dtype(ctx, "linear", w, NC_F32))
        return NULL;
    if (w->ndim != 2 || x->ndim < 1 || nc_dim(x, -1) != w->shape[1])
        return nc_shape_fail(ctx, "linear", "input features do not match weight (out, in)", x, w);
    int64_t out_f = w->shape[0], in_f = w->shape[1];
    if (bias && (nc_numel(bias) != out_f || bias->dtype != NC_F32))
        return nc_shape_fail(ctx, "linear", "bias does not match weight", bias, w);
    int64_t shape[NC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out_f;
    nc_tensor *y = nc_empty(ctx, NC_F32, x->ndim, shape);
    if (!y) return NULL;
    int64_t rows = nc_numel(x) / (in_f ? in_f : 1);
    nc_gemm_args g = gemm2(false, true, rows, out_f, in_f, x->data, w->data, y->data, 0.0f);
    g.bias = bias ? bias->data : NULL;
    uint16_t *x16 = NULL;
    nc_tensor *ins[3] = {x, w, bias};
    /* x16 is kept for the weight gradient when this op will be recorded and
     * handed back at once otherwise */
    const bool rec = ctx->grad_enabled &&
                     (nc_needs_grad(x) || nc_needs_grad(w) || (bias && nc_needs_grad(bias)));
    nc_arena_mark m = {0};
    if (bf16_path(ctx)) {
        g.B16 = nc_ctx_bf16_param(ctx, w);
        m = nc_arena_mark_get(ctx->arena);
        x16 = nc_scratch(ctx, (size_t)(rows * in_f) * sizeof(uint16_t));
        if (!g.B16 || !x16) return NULL;
        nc_convert_f32_to_bf16(x->data, x16, rows * in_f);
        g.A16 = x16;
    }
    if (!nc_ctx_gemm_run(ctx, &g)) return NULL;
    if (x16 && !rec) {
        nc_arena_rewind(ctx->arena, m);
        x16 = NULL;
    }
    nc_node *n = nc_record(ctx, "linear", linear_backward, y, bias ? 3 : 2, ins, sizeof(linear_saved));
    if (n) ((linear_saved *)n->saved)->x16 = x16;
    return ctx->status ? NULL : y;
}
