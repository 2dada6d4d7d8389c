/* Normalisation layers: layer_norm, batch_norm, group_norm.
 *
 * All three normalise a set S of elements by its own mean and biased
 * variance (or, for batch_norm in eval, by running statistics), then apply a
 * per-channel affine map:
 *     xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = xhat * w + b
 * as torch.nn.functional.{layer,batch,group}_norm do. With dy = dL/dy * w,
 * the gradient through the statistics of S (|S| = M) is the standard
 *     dx = rstd * (dy - mean_S(dy) - xhat * mean_S(dy * xhat))
 * (Ioffe & Szegedy 2015, sec. 3; llm.c layernorm_backward), and
 *     dw += sum dL/dy * xhat,  db += sum dL/dy  over everything w/b touch.
 *
 * Statistics are accumulated in double, each set by one thread, and
 * layer_norm's weight/bias gradients are summed over fixed blocks of rows
 * and then across blocks in order, so results do not depend on the thread
 * count; the reference ctx runs the same loops single-threaded. Per-set mean and rstd are saved (as float, the values the
 * forward used) and xhat is recomputed from x in backward. The loops are the
 * backend's (src/backend/cpu/cpu_norm.c). */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

static bool check_param(nc_ctx *ctx, const char *op, const char *what, const nc_tensor *t,
                        int64_t c) {
    if (!t) return true;
    if (!nc_check_dtype(ctx, op, t, NC_F32)) return false;
    if (t->ndim != 1 || t->shape[0] != c) {
        char s[128];
        nc_shape_str(t, s, sizeof s);
        nc_ctx_fail(ctx, NC_ERR_SHAPE, "%s: %s must have shape (%lld), got %s", op, what,
                    (long long)c, s);
        return false;
    }
    return true;
}

/* prod(shape[2:]) of x (N, C, *): 1 for (N, C). */
static int64_t spatial(const nc_tensor *x) {
    int64_t l = 1;
    for (int d = 2; d < x->ndim; d++) l *= x->shape[d];
    return l;
}

/* Inputs to record: x and whichever of w/b are present. */
static int norm_inputs(nc_tensor **ins, nc_tensor *x, nc_tensor *w, nc_tensor *b) {
    int n = 0;
    ins[n++] = x;
    if (w) ins[n++] = w;
    if (b) ins[n++] = b;
    return n;
}

/* ==================================================================== layer_norm */

typedef struct ln_saved {
    nc_tensor *w, *b;    /* NULL when absent */
    float *mean, *rstd;  /* (rows) */
    int64_t rows, c;
} ln_saved;

static void ln_backward(nc_ctx *ctx, nc_node *nd) {
    const ln_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    const float *X = xt->data, *G = nc_out_grad(nd);
    const float *W = s->w ? s->w->data : NULL;
    float *dx = nc_grad_buf(ctx, xt);
    float *dw = s->w ? nc_grad_buf(ctx, s->w) : NULL;
    float *db = s->b ? nc_grad_buf(ctx, s->b) : NULL;
    const int64_t rows = s->rows, C = s->c;
    /* Rows per block of the weight/bias partial sums: blocks are fixed (not
     * per thread), so the sums do not depend on the thread count. */
    enum { LN_ROWS_PER_BLOCK = 32 };
    const int64_t nblk = (rows + LN_ROWS_PER_BLOCK - 1) / LN_ROWS_PER_BLOCK;
    /* per block: sum over its rows of g * xhat (C) then of g (C) */
    double *part = NULL;
    if (dw || db) {
        part = nc_scratch(ctx, (size_t)(2 * C * (nblk ? nblk : 1)) * sizeof(double));
        if (!part) return;
    }
    nc_ctx_backend(ctx)->layer_norm_grad(nc_par(ctx, rows * C), X, G, W, s->mean, s->rstd, dx, dw,
                                         db, part, rows, C);
}

nc_tensor *nc_layer_norm(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, nc_tensor *bias,
                         float eps) {
    const char *op = "layer_norm";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim < 1) return nc_shape_fail(ctx, op, "need at least one dim", x, NULL);
    const int64_t C = x->shape[x->ndim - 1];
    if (C <= 0) return nc_shape_fail(ctx, op, "last dim is empty", x, NULL);
    if (!check_param(ctx, op, "weight", weight, C) || !check_param(ctx, op, "bias", bias, C))
        return NULL;
    const int64_t rows = nc_numel(x) / C;
    nc_tensor *y = nc_empty_like(ctx, x);
    float *stats = nc_scratch(ctx, (size_t)(2 * (rows ? rows : 1)) * sizeof(float));
    if (!y || !stats) return NULL;
    float *mean = stats, *rstd = stats + rows;
    const float *X = x->data, *W = weight ? weight->data : NULL, *B = bias ? bias->data : NULL;
    nc_ctx_backend(ctx)->layer_norm(nc_par(ctx, rows * C), X, W, B, eps, y->data, mean, rstd, rows,
                                    C);
    nc_tensor *ins[3];
    int n_in = norm_inputs(ins, x, weight, bias);
    nc_node *nd = nc_record(ctx, op, ln_backward, y, n_in, ins, sizeof(ln_saved));
    if (nd)
        *(ln_saved *)nd->saved =
            (ln_saved){.w = weight, .b = bias, .mean = mean, .rstd = rstd, .rows = rows, .c = C};
    return ctx->status ? NULL : y;
}

/* ==================================================================== batch_norm */

typedef struct bn_saved {
    nc_tensor *w, *b;
    float *mean, *rstd; /* (C): batch statistics (train) or running ones (eval) */
    int64_t n, c, l;    /* x viewed as (N, C, L) */
    bool batch_stats;   /* gradient flows through mean/rstd */
    double m_total;     /* values per channel over all ranks (synchronized) or 0 */
} bn_saved;

static void bn_backward(nc_ctx *ctx, nc_node *nd) {
    const bn_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    const float *X = xt->data, *G = nc_out_grad(nd);
    float *dx = nc_grad_buf(ctx, xt);
    float *dw = s->w ? nc_grad_buf(ctx, s->w) : NULL;
    float *db = s->b ? nc_grad_buf(ctx, s->b) : NULL;
    const float *W = s->w ? s->w->data : NULL;
    const int64_t N = s->n, C = s->c, L = s->l;
    double M = (double)(N * L);
    /* SyncBatchNorm: the channel sums of g and g*xhat over every rank enter dx;
     * dw/db stay local (data-parallel averaging of gradients follows). */
    double *global = NULL;
    if (s->m_total > 0) {
        global = nc_scratch(ctx, (size_t)(2 * (C ? C : 1)) * sizeof(double));
        if (!global) return;
        nc_ctx_backend(ctx)->bn_grad_sums(X, G, s->mean, s->rstd, N, C, L, global);
        if (dw) for (int64_t c = 0; c < C; c++) dw[c] += (float)global[C + c];
        if (db) for (int64_t c = 0; c < C; c++) db[c] += (float)global[c];
        dw = db = NULL;
        nc_status st = ctx->sync(ctx->sync_ud, global, 2 * C);
        if (st) {
            nc_ctx_fail(ctx, st, "batch_norm: %s", nc_last_error());
            return;
        }
        M = s->m_total;
    }
    const nc_bn_bwd_args a = {.x = X, .g = G, .w = W, .mean = s->mean, .rstd = s->rstd,
                              .global = global, .dx = dx, .dw = dw, .db = db, .N = N, .C = C,
                              .L = L, .M = M, .batch_stats = s->batch_stats};
    nc_ctx_backend(ctx)->batch_norm_grad(nc_par(ctx, N * C * L), &a);
}

nc_tensor *nc_batch_norm(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, nc_tensor *bias,
                         nc_tensor *running_mean, nc_tensor *running_var,
                         nc_tensor *num_batches_tracked, float momentum, float eps) {
    const char *op = "batch_norm";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim < 2) return nc_shape_fail(ctx, op, "need x (N, C, *)", x, NULL);
    const int64_t N = x->shape[0], C = x->shape[1];
    const int64_t L = spatial(x);
    if (!check_param(ctx, op, "weight", weight, C) || !check_param(ctx, op, "bias", bias, C) ||
        !check_param(ctx, op, "running_mean", running_mean, C) ||
        !check_param(ctx, op, "running_var", running_var, C))
        return NULL;
    if (!running_mean != !running_var)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "batch_norm: running_mean and running_var must both be given or both NULL");
    if (num_batches_tracked &&
        (!nc_check_dtype(ctx, op, num_batches_tracked, NC_I64) || nc_numel(num_batches_tracked) != 1))
        return ctx->status ? NULL
                           : nc_shape_fail(ctx, op, "num_batches_tracked must hold one int64",
                                           num_batches_tracked, NULL);
    /* nn.BatchNorm with track_running_stats=False (no running tensors) uses
     * batch statistics in eval too (torch/nn/modules/batchnorm.py). */
    const bool batch_stats = ctx->training || !running_mean;
    const int64_t M = N * L;
    if (batch_stats && M <= 1) {
        char sh[128];
        nc_shape_str(x, sh, sizeof sh);
        return nc_ctx_fail(ctx, NC_ERR_SHAPE,
                           "batch_norm: expected more than 1 value per channel when training, "
                           "got input size %s", sh);
    }
    nc_tensor *y = nc_empty_like(ctx, x);
    float *stats = nc_scratch(ctx, (size_t)(2 * (C ? C : 1)) * sizeof(float));
    if (!y || !stats) return NULL;
    float *mean = stats, *rstd = stats + C;
    const float *X = x->data, *W = weight ? weight->data : NULL, *B = bias ? bias->data : NULL;
    float *RM = running_mean ? running_mean->data : NULL;
    float *RV = running_var ? running_var->data : NULL;
    const bool update = ctx->training && RM;
    /* SyncBatchNorm (trainer.sync_batchnorm): mean and variance of the global
     * batch from channel sums reduced over ranks, centred in a second pass. */
    const bool sync = batch_stats && ctx->training && ctx->sync;
    double m_total = 0;
    if (sync) {
        double *acc = nc_scratch(ctx, (size_t)(C + 1) * sizeof(double));
        if (!acc) return NULL;
        nc_ctx_backend(ctx)->bn_channel_sums(X, N, C, L, acc);
        acc[C] = (double)M;
        nc_status st = ctx->sync(ctx->sync_ud, acc, C + 1);
        if (st) return nc_ctx_fail(ctx, st, "batch_norm: %s", nc_last_error());
        m_total = acc[C];
        nc_ctx_backend(ctx)->bn_channel_sumsq(X, N, C, L, m_total, acc, mean);
        st = ctx->sync(ctx->sync_ud, acc, C);
        if (st) return nc_ctx_fail(ctx, st, "batch_norm: %s", nc_last_error());
        for (int64_t c = 0; c < C; c++) {
            const double var = acc[c] / m_total;
            rstd[c] = (float)(1.0 / sqrt(var + eps));
            if (update) {
                const double mo = momentum, unbiased = acc[c] / (m_total - 1);
                RM[c] = (float)(mo * mean[c] + (1.0 - mo) * RM[c]);
                RV[c] = (float)(mo * unbiased + (1.0 - mo) * RV[c]);
            }
        }
    }
    const nc_bn_fwd_args fa = {
        .stats = sync ? NC_BN_GIVEN : batch_stats ? NC_BN_BATCH : NC_BN_RUNNING,
        .x = X, .y = y->data, .w = W, .b = B, .running_mean = RM, .running_var = RV,
        .mean = mean, .rstd = rstd, .N = N, .C = C, .L = L, .eps = eps, .momentum = momentum,
        .update = update};
    nc_ctx_backend(ctx)->batch_norm(nc_par(ctx, N * C * L), &fa);
    if (ctx->training && num_batches_tracked) nc_i64(num_batches_tracked)[0] += 1;
    nc_tensor *ins[3];
    int n_in = norm_inputs(ins, x, weight, bias);
    nc_node *nd = nc_record(ctx, op, bn_backward, y, n_in, ins, sizeof(bn_saved));
    if (nd)
        *(bn_saved *)nd->saved = (bn_saved){.w = weight, .b = bias, .mean = mean, .rstd = rstd,
                                            .n = N, .c = C, .l = L, .batch_stats = batch_stats,
                                            .m_total = m_total};
    return ctx->status ? NULL : y;
}

/* ==================================================================== group_norm */

typedef struct gn_saved {
    nc_tensor *w, *b;
    float *mean, *rstd; /* (N, G) */
    int64_t n, c, l, g;
} gn_saved;

static void gn_backward(nc_ctx *ctx, nc_node *nd) {
    const gn_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    const float *X = xt->data, *G = nc_out_grad(nd);
    const float *W = s->w ? s->w->data : NULL;
    float *dx = nc_grad_buf(ctx, xt);
    float *dw = s->w ? nc_grad_buf(ctx, s->w) : NULL;
    float *db = s->b ? nc_grad_buf(ctx, s->b) : NULL;
    const int64_t N = s->n, C = s->c, L = s->l;
    nc_ctx_backend(ctx)->group_norm_grad(nc_par(ctx, N * C * L), X, G, W, s->mean, s->rstd, dx, dw,
                                         db, N, C, L, s->g);
}

nc_tensor *nc_group_norm(nc_ctx *ctx, nc_tensor *x, int64_t groups, nc_tensor *weight,
                         nc_tensor *bias, float eps) {
    const char *op = "group_norm";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim < 2) return nc_shape_fail(ctx, op, "need x (N, C, *)", x, NULL);
    const int64_t N = x->shape[0], C = x->shape[1];
    if (groups <= 0 || C % groups != 0)
        return nc_ctx_fail(ctx, NC_ERR_SHAPE,
                           "group_norm: %lld channels are not divisible into %lld groups",
                           (long long)C, (long long)groups);
    const int64_t L = spatial(x), CG = C / groups;
    if (!check_param(ctx, op, "weight", weight, C) || !check_param(ctx, op, "bias", bias, C))
        return NULL;
    if (CG * L == 0) return nc_shape_fail(ctx, op, "empty groups", x, NULL);
    nc_tensor *y = nc_empty_like(ctx, x);
    const int64_t nsets = N * groups;
    float *stats = nc_scratch(ctx, (size_t)(2 * (nsets ? nsets : 1)) * sizeof(float));
    if (!y || !stats) return NULL;
    float *mean = stats, *rstd = stats + nsets;
    const float *X = x->data, *W = weight ? weight->data : NULL, *B = bias ? bias->data : NULL;
    nc_ctx_backend(ctx)->group_norm(nc_par(ctx, N * C * L), X, W, B, eps, y->data, mean, rstd, N, C,
                                    L, groups);
    nc_tensor *ins[3];
    int n_in = norm_inputs(ins, x, weight, bias);
    nc_node *nd = nc_record(ctx, op, gn_backward, y, n_in, ins, sizeof(gn_saved));
    if (nd)
        *(gn_saved *)nd->saved = (gn_saved){.w = weight, .b = bias, .mean = mean, .rstd = rstd,
                                            .n = N, .c = C, .l = L, .g = groups};
    return ctx->status ? NULL : y;
}
