/* Batch norm over the last dim of x (..., C) (channels-last), optionally
 * followed by SiLU: torch's batch_norm on the transposed (N, C, L) tensor,
 * the same statistics and running-stat update as nc_batch_norm (ops_norm.c
 * has the formulas), for the Conformer's conv module in (B, T, C):
 *     y = silu(z),  z = (x - mean_c) * rstd_c * w_c + b_c
 * Backward recomputes z from x: dz = dy * s (1 + z (1 - s)), s = sigmoid(z),
 * then the batch-norm backward on dz.
 *
 * With a data-parallel sync set on the ctx (synchronized batch norm), the
 * statistics and the backward's channel sums are reduced over ranks exactly
 * as nc_batch_norm does.
 *
 * Rows are summed in fixed blocks (unit-stride over channels), the block
 * sums added in block order in double: the statistics do not depend on the
 * thread count (kernels in src/backend/cpu/cpu_norm_cl.c). */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

/* rows per block of the backend's channel sums (backend.h, bncl_sums): sizes `part` */
enum { CL_ROWS = 32 };

typedef struct bncl_saved {
    nc_tensor *w, *b;
    float *mean, *rstd; /* (C) */
    int64_t rows, c;
    bool batch_stats, silu;
    double m_total; /* values per channel over all ranks (synchronized) or 0 */
} bncl_saved;

static void bncl_backward(nc_ctx *ctx, nc_node *nd) {
    const bncl_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    const float *X = xt->data, *G = nc_out_grad(nd);
    const float *W = s->w ? s->w->data : NULL, *Bb = s->b ? s->b->data : NULL;
    const int64_t rows = s->rows, C = s->c;
    bool fresh;
    float *dx = nc_grad_buf_fresh(ctx, xt, &fresh);
    float *dw = s->w ? nc_grad_buf(ctx, s->w) : NULL;
    float *db = s->b ? nc_grad_buf(ctx, s->b) : NULL;
    if (ctx->status) return;
    nc_arena_mark mk = nc_arena_mark_get(ctx->arena);
    const int64_t nblk = (rows + CL_ROWS - 1) / CL_ROWS;
    float *dz = s->silu ? nc_scratch(ctx, (size_t)(rows * C) * sizeof(float)) : NULL;
    float *part = nc_scratch(ctx, (size_t)((nblk ? nblk : 1) * 2 * C) * sizeof(float));
    double *sums = nc_scratch(ctx, (size_t)(2 * C) * sizeof(double));
    float *coef = nc_scratch(ctx, (size_t)(3 * C) * sizeof(float));
    if (!part || !sums || !coef || (s->silu && !dz)) return;
    const float *m = s->mean, *rs = s->rstd;
    const nc_backend *be = nc_ctx_backend(ctx);
    const bool th = nc_par(ctx, rows * C);
    /* forward: y = silu(z); dz = dy * s (1 + z (1 - s)) */
    if (s->silu) be->bncl_silu_grad(th, X, G, m, rs, W, Bb, dz, rows, C);
    const float *D = s->silu ? dz : G;
    be->bncl_sums(th, 2, X, D, m, rs, rows, C, part, sums);
    for (int64_t c = 0; c < C; c++) {
        if (dw) dw[c] += (float)sums[C + c];
        if (db) db[c] += (float)sums[c];
    }
    double M = (double)rows;
    if (s->m_total > 0) {
        /* SyncBatchNorm (as nc_batch_norm): the channel sums of dz and
         * dz * xhat over every rank enter dx; dw/db stay local (the
         * data-parallel gradient average follows) */
        nc_status st = ctx->sync(ctx->sync_ud, sums, 2 * C);
        if (st) {
            nc_ctx_fail(ctx, st, "batch_norm_cl: %s", nc_last_error());
            return;
        }
        M = s->m_total;
    }
    if (dx) {
        /* batch stats: dx = w * rstd * (dz - mean(dz) - xhat * mean(dz * xhat));
         * eval: dx = w * rstd * dz */
        float *a = coef, *bb = coef + C, *k = coef + 2 * C;
        for (int64_t c = 0; c < C; c++) {
            a[c] = s->batch_stats ? (float)(sums[c] / M) : 0.0f;
            bb[c] = s->batch_stats ? (float)(sums[C + c] / M) : 0.0f;
            k[c] = (W ? W[c] : 1.0f) * rs[c];
        }
        be->bncl_dx(th, X, D, m, rs, coef, dx, fresh, rows, C);
    }
    nc_arena_rewind(ctx->arena, mk);
}

nc_tensor *nc_batch_norm_cl(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, nc_tensor *bias,
                            nc_tensor *running_mean, nc_tensor *running_var,
                            nc_tensor *num_batches_tracked, float momentum, float eps, bool silu) {
    const char *op = "batch_norm_cl";
    if (!nc_ok1(ctx, x) || !nc_check_dtype(ctx, op, x, NC_F32)) return NULL;
    if (x->ndim < 2) return nc_shape_fail(ctx, op, "need x (..., C)", x, NULL);
    const int64_t C = x->shape[x->ndim - 1], rows = nc_numel(x) / (C ? C : 1);
    const nc_tensor *chk[4] = {weight, bias, running_mean, running_var};
    for (int i = 0; i < 4; i++)
        if (chk[i] && (chk[i]->dtype != NC_F32 || chk[i]->ndim != 1 || chk[i]->shape[0] != C))
            return nc_shape_fail(ctx, op, "weight, bias and running stats must be (C)", chk[i], x);
    if (!running_mean != !running_var)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG,
                           "batch_norm_cl: running_mean and running_var must both be given or both NULL");
    const bool batch_stats = ctx->training || !running_mean;
    if (batch_stats && rows <= 1)
        return nc_shape_fail(ctx, op, "expected more than 1 value per channel when training", x, NULL);
    nc_tensor *y = nc_empty_like(ctx, x);
    float *stats = nc_scratch(ctx, (size_t)(2 * C) * sizeof(float));
    if (!y || !stats) return NULL;
    float *mean = stats, *rstd = stats + C;
    const float *X = x->data, *W = weight ? weight->data : NULL, *Bb = bias ? bias->data : NULL;
    const nc_backend *be = nc_ctx_backend(ctx);
    const bool th = nc_par(ctx, rows * C);
    /* SyncBatchNorm (trainer.sync_batchnorm, as nc_batch_norm): the channel
     * sums and the count are reduced over ranks before each pass */
    const bool sync = batch_stats && ctx->training && ctx->sync;
    double m_total = 0;
    if (batch_stats) {
        nc_arena_mark mk = nc_arena_mark_get(ctx->arena);
        const int64_t nblk = (rows + CL_ROWS - 1) / CL_ROWS;
        float *part = nc_scratch(ctx, (size_t)(nblk * C) * sizeof(float));
        double *sum = nc_scratch(ctx, (size_t)(2 * C + 1) * sizeof(double)), *ss = sum ? sum + C + 1 : NULL;
        if (!part || !sum) return NULL;
        be->bncl_sums(th, 0, X, NULL, NULL, NULL, rows, C, part, sum);
        double M = (double)rows;
        if (sync) {
            sum[C] = M;
            nc_status st = ctx->sync(ctx->sync_ud, sum, C + 1);
            if (st) return nc_ctx_fail(ctx, st, "batch_norm_cl: %s", nc_last_error());
            M = m_total = sum[C];
        }
        for (int64_t c = 0; c < C; c++) mean[c] = (float)(sum[c] / M);
        /* two passes for the variance, as nc_batch_norm: the centred sum is
         * taken about the float mean the normalisation uses */
        be->bncl_sums(th, 1, X, NULL, mean, NULL, rows, C, part, ss);
        if (sync) {
            nc_status st = ctx->sync(ctx->sync_ud, ss, C);
            if (st) return nc_ctx_fail(ctx, st, "batch_norm_cl: %s", nc_last_error());
        }
        float *RM = running_mean ? running_mean->data : NULL;
        float *RV = running_var ? running_var->data : NULL;
        for (int64_t c = 0; c < C; c++) {
            const double var = ss[c] / M;
            rstd[c] = (float)(1.0 / sqrt(var + eps));
            if (ctx->training && RM) {
                /* torch: running = momentum * stat + (1 - momentum) * running, unbiased var */
                const double mo = momentum;
                RM[c] = (float)(mo * (sum[c] / M) + (1.0 - mo) * RM[c]);
                RV[c] = (float)(mo * (ss[c] / (M - 1)) + (1.0 - mo) * RV[c]);
            }
        }
        nc_arena_rewind(ctx->arena, mk);
        if (ctx->training && num_batches_tracked && num_batches_tracked->dtype == NC_I64)
            nc_i64(num_batches_tracked)[0] += 1;
    } else {
        const float *RM = running_mean->data, *RV = running_var->data;
        for (int64_t c = 0; c < C; c++) {
            mean[c] = RM[c];
            rstd[c] = (float)(1.0 / sqrt((double)RV[c] + eps));
        }
    }
    be->bncl_apply(th, X, mean, rstd, W, Bb, silu, y->data, rows, C);
    nc_tensor *ins[3] = {x};
    int n_in = 1;
    if (weight) ins[n_in++] = weight;
    if (bias) ins[n_in++] = bias;
    nc_node *nd = nc_record(ctx, op, bncl_backward, y, n_in, ins, sizeof(bncl_saved));
    if (nd)
        *(bncl_saved *)nd->saved = (bncl_saved){.w = weight, .b = bias, .mean = mean, .rstd = rstd,
                                                .rows = rows, .c = C, .batch_stats = batch_stats,
                                                .silu = silu, .m_total = m_total};
    return ctx->status ? NULL : y;
}
