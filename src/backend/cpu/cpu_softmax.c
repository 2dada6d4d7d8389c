/* softmax / log_softmax over a dim of x viewed as (outer, n, inner), their
 * gradients, and the cross-entropy gradient. Contiguous rows (inner == 1)
 * take a vectorised exp; the reference mode keeps the plain strided loops. */
#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"

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
static void sm_forward_rows(bool th, const float *X, float *Y, int64_t rows, int64_t n,
                            bool take_log) {
#pragma omp parallel for if (th) schedule(static)
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
void nc_cpu_softmax(bool th, bool reference, const float *X, float *Y, int64_t outer, int64_t n,
                    int64_t inner, bool take_log) {
    if (inner == 1 && !reference) {
        sm_forward_rows(th, X, Y, outer, n, take_log);
        return;
    }
#pragma omp parallel for collapse(2) if (th) schedule(static)
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

void nc_cpu_softmax_grad(bool th, const float *Y, const float *G, float *dx, int64_t outer,
                         int64_t n, int64_t inner, bool log) {
#pragma omp parallel for collapse(2) if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *y = Y + o * n * inner + i, *g = G + o * n * inner + i;
            float *d = dx + o * n * inner + i;
            double acc = 0;
            if (log && inner == 1) { /* dx = g - softmax * sum(g) */
                for (int64_t j = 0; j < n; j++) acc += g[j];
                for (int64_t j0 = 0; j0 < n; j0 += 256) {
                    float e[256];
                    const int64_t k = n - j0 < 256 ? n - j0 : 256;
                    nc_vexp(e, y + j0, k);
                    for (int64_t j = 0; j < k; j++) d[j0 + j] += g[j0 + j] - e[j] * (float)acc;
                }
            } else if (log) {
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

void nc_cpu_cross_entropy_grad(bool th, const float *logp, const int64_t *tg, const float *g,
                               bool per_row, float denom, int64_t ignore_index, float eps,
                               float *dx, int64_t N, int64_t C) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < N; i++) {
        if (tg[i] == ignore_index) continue;
        float gi = (per_row ? g[i] : g[0]) / denom;
        const float *lp = logp + i * C;
        float *d = dx + i * C;
        /* d/dlogits of -(1-e) logp[t] - e/C sum logp = softmax - q */
        const float qs = eps / (float)C;
        for (int64_t c0 = 0; c0 < C; c0 += 256) {
            float e[256];
            const int64_t k = C - c0 < 256 ? C - c0 : 256;
            nc_vexp(e, lp + c0, k);
            for (int64_t j = 0; j < k; j++) d[c0 + j] += gi * (e[j] - qs);
        }
        d[tg[i]] -= gi * (1.0f - eps);
    }
}
