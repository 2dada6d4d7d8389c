/* Channels-last batch norm kernels over x (rows, C), with optional SiLU
 * (front end and formulas in src/ops/ops_norm_cl.c). Rows are summed in
 * fixed blocks (unit-stride over channels), the block sums added in block
 * order in double: the statistics do not depend on the thread count. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"

enum { CL_ROWS = 32 };

/* z row = (x - m) * rs * w + b, channels vectorised */
static inline void z_row(float *z, const float *x, const float *m, const float *rs, const float *W,
                         const float *B, int64_t C) {
#pragma omp simd
    for (int64_t c = 0; c < C; c++)
        z[c] = (x[c] - m[c]) * rs[c] * (W ? W[c] : 1.0f) + (B ? B[c] : 0.0f);
}

/* part[blk] (C) = sum over the block's rows of f(row); f given as a mode:
 * 0: x, 1: (x - mean)^2, 2: (dz, dz * xhat) into two halves (2C). */
void nc_cpu_bncl_sums(bool th, int mode, const float *X, const float *D, const float *mean,
                      const float *rstd, int64_t rows, int64_t C, float *part, double *out) {
    const int64_t nblk = (rows + CL_ROWS - 1) / CL_ROWS, w = mode == 2 ? 2 * C : C;
#pragma omp parallel if (th)
    {
#pragma omp for schedule(static)
        for (int64_t bi = 0; bi < nblk; bi++) {
            float *p = part + bi * w;
            memset(p, 0, (size_t)w * sizeof(float));
            const int64_t r1 = (bi + 1) * CL_ROWS < rows ? (bi + 1) * CL_ROWS : rows;
            for (int64_t r = bi * CL_ROWS; r < r1; r++) {
                const float *x = X + r * C;
                if (mode == 0) {
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) p[c] += x[c];
                } else if (mode == 1) {
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) p[c] += (x[c] - mean[c]) * (x[c] - mean[c]);
                } else {
                    const float *d = D + r * C;
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) {
                        p[c] += d[c];
                        p[C + c] += d[c] * ((x[c] - mean[c]) * rstd[c]);
                    }
                }
            }
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < w; c++) {
            double s = 0;
            for (int64_t bi = 0; bi < nblk; bi++) s += part[bi * w + c];
            out[c] = s;
        }
    }
}

void nc_cpu_bncl_apply(bool th, const float *X, const float *mean, const float *rstd,
                       const float *W, const float *Bb, bool silu, float *Y, int64_t rows,
                       int64_t C) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *yr = Y + r * C;
        z_row(yr, X + r * C, mean, rstd, W, Bb, C);
        if (silu) nc_vsilu(yr, yr, C);
    }
}

void nc_cpu_bncl_silu_grad(bool th, const float *X, const float *G, const float *m,
                           const float *rs, const float *W, const float *Bb, float *dz,
                           int64_t rows, int64_t C) {
    /* forward: y = silu(z); dz = dy * s (1 + z (1 - s)) */
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *d = dz + r * C;
        const float *g = G + r * C;
        z_row(d, X + r * C, m, rs, W, Bb, C);
        for (int64_t c0 = 0; c0 < C; c0 += 256) {
            float sg[256];
            const int64_t k = C - c0 < 256 ? C - c0 : 256;
            nc_vsigmoid(sg, d + c0, k);
            for (int64_t i = 0; i < k; i++)
                d[c0 + i] = g[c0 + i] * sg[i] * (1.0f + d[c0 + i] * (1.0f - sg[i]));
        }
    }
}

void nc_cpu_bncl_dx(bool th, const float *X, const float *D, const float *m, const float *rs,
                    const float *coef, float *dx, bool fresh, int64_t rows, int64_t C) {
    const float *a = coef, *bb = coef + C, *k = coef + 2 * C;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = X + r * C, *d = D + r * C;
        float *o = dx + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
            float v = k[c] * (d[c] - a[c] - ((x[c] - m[c]) * rs[c]) * bb[c]);
            o[c] = fresh ? v : o[c] + v;
        }
    }
}
