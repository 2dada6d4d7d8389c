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
 * forward used) and xhat is recomputed from x in backward. */
#include <math.h>
#include <string.h>

#include "ops/ops_internal.h"

/* ---- double-accumulated sums with independent accumulators ----
 * Eight partial sums instead of one let the compiler pipeline (and
 * vectorise) the loop; a single accumulator serialises on add latency. */

static inline double sum_f(const float *x, int64_t n) {
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += x[i + k];
    double s = 0;
    for (; i < n; i++) s += x[i];
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + s;
}

/* sum (x - m)^2 */
static inline double sumsq_centered(const float *x, int64_t n, double m) {
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = x[i + k] - m;
            a[k] += d * d;
        }
    double s = 0;
    for (; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + s;
}

/* sum g and sum g * (x - m) * rs, for the weight/bias gradients and dx. */
static inline void sum_g_gxhat(const float *g, const float *x, int64_t n, float m, float rs,
                               double *sg, double *sgx) {
    double a[8] = {0}, b[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            a[k] += g[i + k];
            b[k] += (double)g[i + k] * ((x[i + k] - m) * rs);
        }
    double s = 0, t = 0;
    for (; i < n; i++) {
        s += g[i];
        t += (double)g[i] * ((x[i] - m) * rs);
    }
    *sg += ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + s;
    *sgx += ((b[0] + b[4]) + (b[1] + b[5])) + ((b[2] + b[6]) + (b[3] + b[7])) + t;
}

/* Mean and rstd of n floats (biased variance, two passes for accuracy). */
static inline void moments(const float *x, int64_t n, double eps, float *mean, float *rstd) {
    double m = sum_f(x, n) / (double)n;
    double v = sumsq_centered(x, n, m) / (double)n;
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(v + eps));
}

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

/* sum dy and sum dy * xhat over a row, dy = g * w (w NULL: dy = g). */
static inline void row_dy_sums(const float *g, const float *w, const float *x, int64_t n, float m,
                               float rs, double *sdy, double *sdyx) {
    double a[8] = {0}, b[8] = {0};
    int64_t i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++) {
                const float dy = g[i + k] * w[i + k];
                a[k] += dy;
                b[k] += (double)dy * ((x[i + k] - m) * rs);
            }
    } else {
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++) {
                a[k] += g[i + k];
                b[k] += (double)g[i + k] * ((x[i + k] - m) * rs);
            }
    }
    double s = 0, t = 0;
    for (; i < n; i++) {
        const float dy = w ? g[i] * w[i] : g[i];
        s += dy;
        t += (double)dy * ((x[i] - m) * rs);
    }
    *sdy = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + s;
    *sdyx = ((b[0] + b[4]) + (b[1] + b[5])) + ((b[2] + b[6]) + (b[3] + b[7])) + t;
}

/* Rows per block of the weight/bias partial sums: blocks are fixed (not per
 * thread), so the sums do not depend on the thread count. */
enum { LN_ROWS_PER_BLOCK = 32 };

static void ln_backward(nc_ctx *ctx, nc_node *nd) {
    const ln_saved *s = nd->saved;
    nc_tensor *xt = nd->in[0];
    const float *X = xt->data, *G = nc_out_grad(nd);
    const float *W = s->w ? s->w->data : NULL;
    float *dx = nc_grad_buf(ctx, xt);
    float *dw = s->w ? nc_grad_buf(ctx, s->w) : NULL;
    float *db = s->b ? nc_grad_buf(ctx, s->b) : NULL;
    const int64_t rows = s->rows, C = s->c;
    const int64_t nblk = (rows + LN_ROWS_PER_BLOCK - 1) / LN_ROWS_PER_BLOCK;
    /* per block: sum over its rows of g * xhat (C) then of g (C) */
    double *part = NULL;
    if (dw || db) {
        part = nc_scratch(ctx, (size_t)(2 * C * (nblk ? nblk : 1)) * sizeof(double));
        if (!part) return;
    }
#pragma omp parallel for if (nc_par(ctx, rows * C)) schedule(static)
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t r1 = (bi + 1) * LN_ROWS_PER_BLOCK < rows ? (bi + 1) * LN_ROWS_PER_BLOCK : rows;
        double *pw = part ? part + bi * 2 * C : NULL, *pb = pw ? pw + C : NULL;
        if (pw) memset(pw, 0, (size_t)(2 * C) * sizeof(double));
        for (int64_t r = bi * LN_ROWS_PER_BLOCK; r < r1; r++) {
            const float *x = X + r * C, *g = G + r * C;
            const float m = s->mean[r], rs = s->rstd[r];
            if (pw)
                for (int64_t j = 0; j < C; j++) {
                    pw[j] += (double)g[j] * ((x[j] - m) * rs);
                    pb[j] += g[j];
                }
            if (!dx) continue;
            double sdy, sdyx;
            row_dy_sums(g, W, x, C, m, rs, &sdy, &sdyx);
            /* in the forward pass this was: y = (x - mean) * rstd * w + b */
            const float a = (float)(sdy / (double)C), bb = (float)(sdyx / (double)C);
            float *d = dx + r * C;
            if (W)
                for (int64_t j = 0; j < C; j++)
                    d[j] += rs * (g[j] * W[j] - a - ((x[j] - m) * rs) * bb);
            else
                for (int64_t j = 0; j < C; j++) d[j] += rs * (g[j] - a - ((x[j] - m) * rs) * bb);
        }
    }
    if (!part) return;
#pragma omp parallel for if (nc_par(ctx, nblk * C)) schedule(static)
    for (int64_t j = 0; j < C; j++) {
        double sw = 0, sb = 0;
        for (int64_t bi = 0; bi < nblk; bi++) {
            sw += part[bi * 2 * C + j];
            sb += part[bi * 2 * C + C + j];
        }
        if (dw) dw[j] += (float)sw;
        if (db) db[j] += (float)sb;
    }
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
    float *Y = y->data;
#pragma omp parallel for if (nc_par(ctx, rows * C)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = X + r * C;
        float *yr = Y + r * C;
        moments(xr, C, eps, &mean[r], &rstd[r]);
        const float m = mean[r], rs = rstd[r];
        if (W && B)
            for (int64_t j = 0; j < C; j++) yr[j] = (xr[j] - m) * rs * W[j] + B[j];
        else if (W)
            for (int64_t j = 0; j < C; j++) yr[j] = (xr[j] - m) * rs * W[j];
        else if (B)
            for (int64_t j = 0; j < C; j++) yr[j] = (xr[j] - m) * rs + B[j];
        else
            for (int64_t j = 0; j < C; j++) yr[j] = (xr[j] - m) * rs;
    }
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
        for (int64_t c = 0; c < C; c++) {
            double sg = 0, sgx = 0;
            for (int64_t n = 0; n < N; n++) {
                const int64_t off = (n * C + c) * L;
                sum_g_gxhat(G + off, X + off, L, s->mean[c], s->rstd[c], &sg, &sgx);
            }
            global[c] = sg;
            global[C + c] = sgx;
        }
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
#pragma omp parallel for if (nc_par(ctx, N * C * L)) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const float m = s->mean[c], rs = s->rstd[c], w = W ? W[c] : 1.0f;
        double sg = 0, sgx = 0;
        if (global) {
            sg = global[c];
            sgx = global[C + c];
        } else {
            for (int64_t n = 0; n < N; n++) {
                const int64_t off = (n * C + c) * L;
                sum_g_gxhat(G + off, X + off, L, m, rs, &sg, &sgx);
            }
        }
        if (dw) dw[c] += (float)sgx;
        if (db) db[c] += (float)sg;
        if (!dx) continue;
        if (s->batch_stats) {
            /* forward: xhat = (x - mean_batch) * rstd_batch; y = xhat * w + b, so
             * dx = w * rstd * (g - mean(g) - xhat * mean(g * xhat)) */
            const float a = (float)(sg / M), bb = (float)(sgx / M), k = w * rs;
            for (int64_t n = 0; n < N; n++) {
                const int64_t off = (n * C + c) * L;
                const float *x = X + off, *g = G + off;
                float *d = dx + off;
                for (int64_t l = 0; l < L; l++) d[l] += k * (g[l] - a - ((x[l] - m) * rs) * bb);
            }
        } else {
            /* eval: y = (x - running_mean) * rstd_running * w + b is affine in x */
            const float k = w * rs;
            for (int64_t n = 0; n < N; n++) {
                const int64_t off = (n * C + c) * L;
                const float *g = G + off;
                float *d = dx + off;
                for (int64_t l = 0; l < L; l++) d[l] += k * g[l];
            }
        }
    }
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
    float *Y = y->data;
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
        for (int64_t c = 0; c < C; c++) {
            double sc = 0;
            for (int64_t n = 0; n < N; n++) sc += sum_f(X + (n * C + c) * L, L);
            acc[c] = sc;
        }
        acc[C] = (double)M;
        nc_status st = ctx->sync(ctx->sync_ud, acc, C + 1);
        if (st) return nc_ctx_fail(ctx, st, "batch_norm: %s", nc_last_error());
        m_total = acc[C];
        for (int64_t c = 0; c < C; c++) {
            const double m = acc[c] / m_total;
            double ss = 0;
            for (int64_t n = 0; n < N; n++) ss += sumsq_centered(X + (n * C + c) * L, L, m);
            acc[c] = ss;
            mean[c] = (float)m;
        }
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
#pragma omp parallel for if (nc_par(ctx, N * C * L)) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        if (sync) {
            /* statistics computed above */
        } else if (batch_stats) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += sum_f(X + (n * C + c) * L, L);
            const double m = s / (double)M;
            double ss = 0;
            for (int64_t n = 0; n < N; n++) ss += sumsq_centered(X + (n * C + c) * L, L, m);
            const double var = ss / (double)M;
            mean[c] = (float)m;
            rstd[c] = (float)(1.0 / sqrt(var + eps));
            if (update) {
                /* torch: running = momentum * stat + (1 - momentum) * running, with the
                 * unbiased variance (aten/src/ATen/native/Normalization.cpp) */
                const double mo = momentum;
                const double unbiased = ss / (double)(M - 1);
                RM[c] = (float)(mo * m + (1.0 - mo) * RM[c]);
                RV[c] = (float)(mo * unbiased + (1.0 - mo) * RV[c]);
            }
        } else {
            mean[c] = RM[c];
            rstd[c] = (float)(1.0 / sqrt((double)RV[c] + eps));
        }
        const float m = mean[c], rs = rstd[c];
        const float w = W ? W[c] : 1.0f, b = B ? B[c] : 0.0f;
        for (int64_t n = 0; n < N; n++) {
            const float *xr = X + (n * C + c) * L;
            float *yr = Y + (n * C + c) * L;
            for (int64_t l = 0; l < L; l++) yr[l] = (xr[l] - m) * rs * w + b;
        }
    }
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
    const int64_t N = s->n, C = s->c, L = s->l, NG = s->g, CG = C / NG;
    const double D = (double)(CG * L);
    if (dx) {
        /* one (sample, group) set per iteration: its CG * L elements are contiguous */
#pragma omp parallel for if (nc_par(ctx, N * C * L)) schedule(static)
        for (int64_t ng = 0; ng < N * NG; ng++) {
            const int64_t c0 = (ng % NG) * CG;
            const float m = s->mean[ng], rs = s->rstd[ng];
            const float *x = X + ng * CG * L, *g = G + ng * CG * L;
            float *d = dx + ng * CG * L;
            double sdy = 0, sdyx = 0;
            for (int64_t ci = 0; ci < CG; ci++) {
                double sg = 0, sgx = 0;
                sum_g_gxhat(g + ci * L, x + ci * L, L, m, rs, &sg, &sgx);
                const double w = W ? W[c0 + ci] : 1.0;
                sdy += w * sg;
                sdyx += w * sgx;
            }
            /* forward: y = (x - mean_ng) * rstd_ng * w[c] + b[c] */
            const float a = (float)(sdy / D), bb = (float)(sdyx / D);
            for (int64_t ci = 0; ci < CG; ci++) {
                const float w = W ? W[c0 + ci] : 1.0f;
                const float *xc = x + ci * L, *gc = g + ci * L;
                float *dc = d + ci * L;
                for (int64_t l = 0; l < L; l++)
                    dc[l] += rs * (gc[l] * w - a - ((xc[l] - m) * rs) * bb);
            }
        }
    }
    if (dw || db) {
#pragma omp parallel for if (nc_par(ctx, N * C * L)) schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double sg = 0, sgx = 0;
            for (int64_t n = 0; n < N; n++) {
                const int64_t ng = n * NG + c / CG, off = (n * C + c) * L;
                sum_g_gxhat(G + off, X + off, L, s->mean[ng], s->rstd[ng], &sg, &sgx);
            }
            if (dw) dw[c] += (float)sgx;
            if (db) db[c] += (float)sg;
        }
    }
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
    float *Y = y->data;
#pragma omp parallel for if (nc_par(ctx, N * C * L)) schedule(static)
    for (int64_t ng = 0; ng < nsets; ng++) {
        const float *xs = X + ng * CG * L;
        float *ys = Y + ng * CG * L;
        moments(xs, CG * L, eps, &mean[ng], &rstd[ng]);
        const float m = mean[ng], rs = rstd[ng];
        const int64_t c0 = (ng % groups) * CG;
        for (int64_t ci = 0; ci < CG; ci++) {
            const float w = W ? W[c0 + ci] : 1.0f, b = B ? B[c0 + ci] : 0.0f;
            for (int64_t l = 0; l < L; l++) ys[ci * L + l] = (xs[ci * L + l] - m) * rs * w + b;
        }
    }
    nc_tensor *ins[3];
    int n_in = norm_inputs(ins, x, weight, bias);
    nc_node *nd = nc_record(ctx, op, gn_backward, y, n_in, ins, sizeof(gn_saved));
    if (nd)
        *(gn_saved *)nd->saved = (gn_saved){.w = weight, .b = bias, .mean = mean, .rstd = rstd,
                                            .n = N, .c = C, .l = L, .g = groups};
    return ctx->status ? NULL : y;
}
