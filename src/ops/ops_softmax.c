/* softmax / log_softmax over a dim, and the losses built on them. */
#include <math.h>
#include <string.h>

#include "backend/cpu/vmath.h"
#include "ops/ops_internal.h"

typedef struct sm_saved {
    int64_t outer, n, inner;
    bool log;
} sm_saved;

/* sum over a contiguous row of e^(x - m) into y (e^(x - m)), vectorised;
 * 256-element blocks summed in float, the blocks in double. */
static double exp_row(float *y, const float *x, int64_t n, float m) {
    double total = 0;
    for (int64_t b0 = 0; b0 < n; b0 += 256) {
        const int64_t k = n - b0 < 256 ? n - b0 : 256;
        nc_v16f acc = NC_V16(0.0f), v;
        int64_t j = 0;
        for (; j + 16 <= k; j += 16) {
            nc_v16_load(&v, x + b0 + j);
            v -= m;
            nc_v16_exp(&v);
            acc += v;
            nc_v16_store(y + b0 + j, &v);
        }
        if (j < k) {
            nc_v16_load_tail(&v, x + b0 + j, k - j, -INFINITY);
            v -= m;
            nc_v16_exp(&v);
            acc += v;
            nc_v16_store_tail(y + b0 + j, &v, k - j);
        }
        total += (double)nc_v16_hsum(&acc);
    }
    return total;
}

/* Contiguous rows (softmax over the last dim): vectorised exp. */
static void sm_forward_rows(nc_ctx *ctx, const float *X, float *Y, int64_t rows, int64_t n,
                            bool take_log) {
#pragma omp parallel for if (nc_par(ctx, rows * n)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = X + r * n;
        float *y = Y + r * n;
        float m = -INFINITY;
        for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
        if (m == -INFINITY) m = 0; /* all -inf row: avoid inf - inf */
        double s = exp_row(y, x, n, m);
        if (take_log) {
            float lse = (float)log(s) + m;
            for (int64_t j = 0; j < n; j++) y[j] = x[j] - lse;
        } else {
            float inv = (float)(1.0 / s);
            for (int64_t j = 0; j < n; j++) y[j] *= inv;
        }
    }
}

/* Numerically stable: subtract the max; log_softmax = x - max - log(sum exp). */
static void sm_forward(nc_ctx *ctx, const float *X, float *Y, int64_t outer, int64_t n,
                       int64_t inner, bool take_log) {
    if (inner == 1 && !ctx->reference) {
        sm_forward_rows(ctx, X, Y, outer, n, take_log);
        return;
    }
#pragma omp parallel for collapse(2) if (nc_par(ctx, outer * n * inner)) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *x = X + o * n * inner + i;
            float *y = Y + o * n * inner + i;
            float m = -INFINITY;
            for (int64_t j = 0; j < n; j++) m = x[j * inner] > m ? x[j * inner] : m;
            if (m == -INFINITY) m = 0; /* all -inf row: avoid inf - inf */
            double s = 0;
            for (int64_t j = 0; j < n; j++) s += exp((double)(x[j * inner] - m));
            if (take_log) {
                float lse = (float)log(s) + m;
                for (int64_t j = 0; j < n; j++) y[j * inner] = x[j * inner] - lse;
            } else {
                float inv = (float)(1.0 / s);
                for (int64_t j = 0; j < n; j++) y[j * inner] = expf(x[j * inner] - m) * inv;
            }
        }
    }
}

static void sm_backward(nc_ctx *ctx, nc_node *nd) {
    const sm_saved *s = nd->saved;
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    const float *Y = nd->out->data, *G = nc_out_grad(nd);
    int64_t n = s->n, inner = s->inner;
#pragma omp parallel for collapse(2) if (nc_par(ctx, s->outer * n * inner)) schedule(static)
    for (int64_t o = 0; o < s->outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *y = Y + o * n * inner + i, *g = G + o * n * inner + i;
            float *d = dx + o * n * inner + i;
            double acc = 0;
            if (s->log && inner == 1) { /* dx = g - softmax * sum(g) */
                for (int64_t j = 0; j < n; j++) acc += g[j];
                for (int64_t j0 = 0; j0 < n; j0 += 256) {
                    float e[256];
                    const int64_t k = n - j0 < 256 ? n - j0 : 256;
                    nc_vexp(e, y + j0, k);
                    for (int64_t j = 0; j < k; j++) d[j0 + j] += g[j0 + j] - e[j] * (float)acc;
                }
            } else if (s->log) {
                for (int64_t j = 0; j < n; j++) acc += g[j * inner];
                for (int64_t j = 0; j < n; j++)
                    d[j * inner] += g[j * inner] - expf(y[j * inner]) * (float)acc;
            } else { /* dx = y * (g - sum(g * y)) */
                for (int64_t j = 0; j < n; j++) acc += (double)g[j * inner] * y[j * inner];
                for (int64_t j = 0; j < n; j++)
                    d[j * inner] += y[j * inner] * (g[j * inner] - (float)acc);
            }
        }
    }
}

static nc_tensor *softmax_impl(nc_ctx *ctx, nc_tensor *x, int dim, bool log) {
    const char *op = log ? "log_softmax" : "softmax";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (!nc_resolve_dim(ctx, op, &dim, x->ndim)) return NULL;
    int64_t outer, n, inner;
    nc_split_dim(x, dim, &outer, &n, &inner);
    nc_tensor *y = nc_empty_like(ctx, x);
    if (!y) return NULL;
    sm_forward(ctx, x->data, y->data, outer, n, inner, log);
    nc_node *nd = nc_record(ctx, op, sm_backward, y, 1, &x, sizeof(sm_saved));
    if (nd) *(sm_saved *)nd->saved = (sm_saved){outer, n, inner, log};
    return ctx->status ? NULL : y;
}

nc_tensor *nc_softmax(nc_ctx *ctx, nc_tensor *x, int dim) { return softmax_impl(ctx, x, dim, false); }
nc_tensor *nc_log_softmax(nc_ctx *ctx, nc_tensor *x, int dim) { return softmax_impl(ctx, x, dim, true); }

/* ---- cross-entropy (fused log_softmax + NLL, with label smoothing) ---- */

typedef struct ce_saved {
    float *logp;         /* (N, C) log-probabilities */
    int64_t ignore_index;
    float eps;
    nc_reduction red;
    int64_t n_valid;
} ce_saved;

static void ce_backward(nc_ctx *ctx, nc_node *nd) {
    const ce_saved *s = nd->saved;
    nc_tensor *logits = nd->in[0], *target = nd->in[1];
    float *dx = nc_grad_buf(ctx, logits);
    if (!dx) return;
    int64_t N = logits->shape[0], C = logits->shape[1];
    const int64_t *tg = target->data;
    const float *g = nc_out_grad(nd);
    float denom = s->red == NC_REDUCE_MEAN ? (float)(s->n_valid ? s->n_valid : 1) : 1.0f;
#pragma omp parallel for if (nc_par(ctx, N * C)) schedule(static)
    for (int64_t i = 0; i < N; i++) {
        if (tg[i] == s->ignore_index) continue;
        float gi = (s->red == NC_REDUCE_NONE ? g[i] : g[0]) / denom;
        const float *lp = s->logp + i * C;
        float *d = dx + i * C;
        /* d/dlogits of -(1-e) logp[t] - e/C sum logp = softmax - q */
        const float qs = s->eps / (float)C;
        for (int64_t c0 = 0; c0 < C; c0 += 256) {
            float e[256];
            const int64_t k = C - c0 < 256 ? C - c0 : 256;
            nc_vexp(e, lp + c0, k);
            for (int64_t j = 0; j < k; j++) d[c0 + j] += gi * (e[j] - qs);
        }
        d[tg[i]] -= gi * (1.0f - s->eps);
    }
}

nc_tensor *nc_cross_entropy(nc_ctx *ctx, nc_tensor *logits, nc_tensor *target, int64_t ignore_index,
                            float label_smoothing, nc_reduction reduction) {
    if (!nc_ok2(ctx, logits, target)) return NULL;
    if (!nc_check_dtype(ctx, "cross_entropy", logits, NC_F32) ||
        !nc_check_dtype(ctx, "cross_entropy", target, NC_I64))
        return NULL;
    if (logits->ndim != 2 || target->ndim != 1 || target->shape[0] != logits->shape[0])
        return nc_shape_fail(ctx, "cross_entropy", "need logits (N, C) and target (N)", logits,
                             target);
    int64_t N = logits->shape[0], C = logits->shape[1];
    const int64_t *tg = target->data;
    for (int64_t i = 0; i < N; i++)
        if (tg[i] != ignore_index && (tg[i] < 0 || tg[i] >= C))
            return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                               "cross_entropy: target %lld at row %lld outside [0, %lld)",
                               (long long)tg[i], (long long)i, (long long)C);
    float *logp = nc_scratch(ctx, (size_t)(N * C) * sizeof(float));
    if (!logp) return NULL;
    sm_forward(ctx, logits->data, logp, N, C, 1, true);
    nc_tensor *out = reduction == NC_REDUCE_NONE ? nc_empty(ctx, NC_F32, NC_DIMS(N))
                                                 : nc_empty(ctx, NC_F32, 0, NULL);
    if (!out) return NULL;
    float eps = label_smoothing;
    double total = 0;
    int64_t n_valid = 0;
    for (int64_t i = 0; i < N; i++) {
        double li = 0;
        if (tg[i] != ignore_index) {
            const float *lp = logp + i * C;
            double smooth = 0;
            if (eps > 0)
                for (int64_t c = 0; c < C; c++) smooth -= lp[c];
            li = -(1.0 - eps) * lp[tg[i]] + eps * smooth / (double)C;
            n_valid++;
        }
        if (reduction == NC_REDUCE_NONE)
            ((float *)out->data)[i] = (float)li;
        else
            total += li;
    }
    if (reduction == NC_REDUCE_MEAN)
        ((float *)out->data)[0] = n_valid ? (float)(total / (double)n_valid) : NAN;
    else if (reduction == NC_REDUCE_SUM)
        ((float *)out->data)[0] = (float)total;
    nc_node *nd = nc_record(ctx, "cross_entropy", ce_backward, out, 2,
                            (nc_tensor *[]){logits, target}, sizeof(ce_saved));
    if (nd) *(ce_saved *)nd->saved = (ce_saved){logp, ignore_index, eps, reduction, n_valid};
    return ctx->status ? NULL : out;
}

/* ---- mean squared error ---- */

typedef struct mse_saved {
    nc_reduction red;
} mse_saved;

static void mse_backward(nc_ctx *ctx, nc_node *nd) {
    const mse_saved *s = nd->saved;
    nc_tensor *a = nd->in[0], *b = nd->in[1];
    int64_t n = nc_numel(a);
    const float *A = a->data, *B = b->data, *g = nc_out_grad(nd);
    float *da = nc_grad_buf(ctx, a), *db = nc_grad_buf(ctx, b);
    float scale = s->red == NC_REDUCE_MEAN ? 2.0f / (float)n : 2.0f;
    for (int64_t i = 0; i < n; i++) {
        float gi = (s->red == NC_REDUCE_NONE ? g[i] : g[0]) * scale * (A[i] - B[i]);
        if (da) da[i] += gi;
        if (db) db[i] -= gi;
    }
}

nc_tensor *nc_mse_loss(nc_ctx *ctx, nc_tensor *input, nc_tensor *target, nc_reduction reduction) {
    if (!nc_ok2(ctx, input, target)) return NULL;
    if (!nc_same_shape(input, target))
        return nc_shape_fail(ctx, "mse_loss", "input and target differ", input, target);
    int64_t n = nc_numel(input);
    nc_tensor *out = reduction == NC_REDUCE_NONE ? nc_empty_like(ctx, input)
                                                 : nc_empty(ctx, NC_F32, 0, NULL);
    if (!out) return NULL;
    const float *A = input->data, *B = target->data;
    double acc = 0;
    for (int64_t i = 0; i < n; i++) {
        float d = A[i] - B[i];
        if (reduction == NC_REDUCE_NONE)
            ((float *)out->data)[i] = d * d;
        else
            acc += (double)d * d;
    }
    if (reduction == NC_REDUCE_MEAN) ((float *)out->data)[0] = (float)(acc / (double)(n ? n : 1));
    if (reduction == NC_REDUCE_SUM) ((float *)out->data)[0] = (float)acc;
    nc_node *nd = nc_record(ctx, "mse_loss", mse_backward, out, 2, (nc_tensor *[]){input, target},
                            sizeof(mse_saved));
    if (nd) ((mse_saved *)nd->saved)->red = reduction;
    return ctx->status ? NULL : out;
}
