/* softmax / log_softmax over a dim, and the losses built on them. */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

typedef struct sm_saved {
    int64_t outer, n, inner;
    bool log;
} sm_saved;

/* Numerically stable: subtract the max; log_softmax = x - max - log(sum exp). */
static void sm_forward(nc_ctx *ctx, const float *X, float *Y, int64_t outer, int64_t n,
                       int64_t inner, bool take_log) {
    nc_ctx_backend(ctx)->softmax(nc_par(ctx, outer * n * inner), ctx->reference, X, Y, outer, n,
                                 inner, take_log);
}

static void sm_backward(nc_ctx *ctx, nc_node *nd) {
    const sm_saved *s = nd->saved;
    float *dx = nc_grad_buf(ctx, nd->in[0]);
    if (!dx) return;
    nc_ctx_backend(ctx)->softmax_grad(nc_par(ctx, s->outer * s->n * s->inner), nd->out->data,
                                      nc_out_grad(nd), dx, s->outer, s->n, s->inner, s->log);
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
    float denom = s->red == NC_REDUCE_MEAN ? (float)(s->n_valid ? s->n_valid : 1) : 1.0f;
    nc_ctx_backend(ctx)->cross_entropy_grad(nc_par(ctx, N * C), s->logp, target->data,
                                            nc_out_grad(nd), s->red == NC_REDUCE_NONE, denom,
                                            s->ignore_index, s->eps, dx, N, C);
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
