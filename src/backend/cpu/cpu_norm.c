/* Normalisation kernels over (N, C, L) / (rows, C): layer_norm, batch_norm,
 * group_norm, forward and backward (formulas in src/ops/ops_norm.c).
 * Statistics are accumulated in double, each set by one thread; layer_norm's
 * weight/bias gradients are summed over fixed blocks of rows and then
 * across blocks in order, so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

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

void nc_cpu_layer_norm(bool th, const float *X, const float *W, const float *B, float eps,
                       float *Y, float *mean, float *rstd, int64_t rows, int64_t C) {
#pragma omp parallel for if (th) schedule(static)
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
}

void nc_cpu_layer_norm_grad(bool th, const float *X, const float *G, const float *W,
                            const float *mean, const float *rstd, float *dx, float *dw,
                            float *db, double *part, int64_t rows, int64_t C) {
    const int64_t nblk = (rows + LN_ROWS_PER_BLOCK - 1) / LN_ROWS_PER_BLOCK;
    /* per block: sum over its rows of g * xhat (C) then of g (C) */
#pragma omp parallel for if (th) schedule(static)
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t r1 = (bi + 1) * LN_ROWS_PER_BLOCK < rows ? (bi + 1) * LN_ROWS_PER_BLOCK : rows;
        double *pw = part ? part + bi * 2 * C : NULL, *pb = pw ? pw + C : NULL;
        if (pw) memset(pw, 0, (size_t)(2 * C) * sizeof(double));
        for (int64_t r = bi * LN_ROWS_PER_BLOCK; r < r1; r++) {
            const float *x = X + r * C, *g = G + r * C;
            const float m = mean[r], rs = rstd[r];
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
#pragma omp parallel for if (th) schedule(static)
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

void nc_cpu_bn_channel_sums(const float *X, int64_t N, int64_t C, int64_t L, double *acc) {
    for (int64_t c = 0; c < C; c++) {
        double sc = 0;
        for (int64_t n = 0; n < N; n++) sc += sum_f(X + (n * C + c) * L, L);
        acc[c] = sc;
    }
}

void nc_cpu_bn_channel_sumsq(const float *X, int64_t N, int64_t C, int64_t L, double m_total,
                             double *acc, float *mean) {
    for (int64_t c = 0; c < C; c++) {
        const double m = acc[c] / m_total;
        double ss = 0;
        for (int64_t n = 0; n < N; n++) ss += sumsq_centered(X + (n * C + c) * L, L, m);
        acc[c] = ss;
        mean[c] = (float)m;
    }
}

void nc_cpu_bn_grad_sums(const float *X, const float *G, const float *mean, const float *rstd,
                         int64_t N, int64_t C, int64_t L, double *global) {
    for (int64_t c = 0; c < C; c++) {
        double sg = 0, sgx = 0;
        for (int64_t n = 0; n < N; n++) {
            const int64_t off = (n * C + c) * L;
            sum_g_gxhat(G + off, X + off, L, mean[c], rstd[c], &sg, &sgx);
        }
        global[c] = sg;
        global[C + c] = sgx;
    }
}

void nc_cpu_batch_norm(bool th, const nc_bn_fwd_args *a) {
    const float *X = a->x, *W = a->w, *B = a->b;
    float *Y = a->y, *RM = a->running_mean, *RV = a->running_var;
    float *mean = a->mean, *rstd = a->rstd;
    const int64_t N = a->N, C = a->C, L = a->L, M = N * L;
    const double eps = a->eps;
    const bool update = a->update;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        if (a->stats == NC_BN_GIVEN) {
            /* statistics computed by the caller */
        } else if (a->stats == NC_BN_BATCH) {
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
                const double mo = a->momentum;
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
}

void nc_cpu_batch_norm_grad(bool th, const nc_bn_bwd_args *s) {
    const float *X = s->x, *G = s->g, *W = s->w;
    const double *global = s->global;
    float *dx = s->dx, *dw = s->dw, *db = s->db;
    const int64_t N = s->N, C = s->C, L = s->L;
    const double M = s->M;
#pragma omp parallel for if (th) schedule(static)
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

void nc_cpu_group_norm(bool th, const float *X, const float *W, const float *B, float eps,
                       float *Y, float *mean, float *rstd, int64_t N, int64_t C, int64_t L,
                       int64_t groups) {
    const int64_t CG = C / groups, nsets = N * groups;
#pragma omp parallel for if (th) schedule(static)
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
}

void nc_cpu_group_norm_grad(bool th, const float *X, const float *G, const float *W,
                            const float *mean, const float *rstd, float *dx, float *dw,
                            float *db, int64_t N, int64_t C, int64_t L, int64_t NG) {
    const int64_t CG = C / NG;
    const double D = (double)(CG * L);
    if (dx) {
        /* one (sample, group) set per iteration: its CG * L elements are contiguous */
#pragma omp parallel for if (th) schedule(static)
        for (int64_t ng = 0; ng < N * NG; ng++) {
            const int64_t c0 = (ng % NG) * CG;
            const float m = mean[ng], rs = rstd[ng];
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
#pragma omp parallel for if (th) schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double sg = 0, sgx = 0;
            for (int64_t n = 0; n < N; n++) {
                const int64_t ng = n * NG + c / CG, off = (n * C + c) * L;
                sum_g_gxhat(G + off, X + off, L, mean[ng], rstd[ng], &sg, &sgx);
            }
            if (dw) dw[c] += (float)sgx;
            if (db) db[c] += (float)sg;
        }
    }
}
