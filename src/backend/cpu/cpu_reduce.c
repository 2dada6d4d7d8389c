/* Reductions over one dim of x viewed as (outer, n, inner): sum, mean, max
 * (with argmax), their gradients, and the bias gradient of linear. Sums run
 * in double in a fixed order, so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

void nc_cpu_reduce(bool th, nc_red_kind k, const float *X, float *Y, int64_t *am, int64_t outer,
                   int64_t n, int64_t inner) {
#pragma omp parallel for collapse(2) if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *p = X + o * n * inner + i;
            if (k == NC_RED_MAX) {
                float best = p[0];
                int64_t bi = 0;
                for (int64_t j = 1; j < n; j++)
                    if (p[j * inner] > best || (isnan(p[j * inner]) && !isnan(best))) {
                        best = p[j * inner];
                        bi = j;
                    }
                Y[o * inner + i] = best;
                am[o * inner + i] = bi;
            } else {
                double acc = 0;
                for (int64_t j = 0; j < n; j++) acc += p[j * inner];
                Y[o * inner + i] = (float)(k == NC_RED_MEAN ? acc / (double)n : acc);
            }
        }
    }
}

void nc_cpu_reduce_grad(bool th, nc_red_kind k, const float *g, const int64_t *argmax, float *dx,
                        int64_t outer, int64_t n, int64_t inner) {
    if (k == NC_RED_MAX) {
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++)
                dx[(o * n + argmax[o * inner + i]) * inner + i] += g[o * inner + i];
        return;
    }
    float scale = k == NC_RED_MEAN ? 1.0f / (float)n : 1.0f;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < inner; i++)
                dx[(o * n + j) * inner + i] += scale * g[o * inner + i];
}

void nc_cpu_argmax(const float *X, int64_t *Y, int64_t outer, int64_t n, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *p = X + o * n * inner + i;
            int64_t bi = 0;
            for (int64_t j = 1; j < n; j++)
                if (p[j * inner] > p[bi * inner]) bi = j;
            Y[o * inner + i] = bi;
        }
}

/* Rows are summed in fixed blocks (unit-stride, vectorised over columns),
 * then the block sums in order in double. */
enum { DB_ROWS = 64 };
void nc_cpu_bias_grad(bool th, const float *dy, int64_t rows, int64_t N, float *part, float *db) {
    int64_t nblk = (rows + DB_ROWS - 1) / DB_ROWS;
#pragma omp parallel if (th)
    {
#pragma omp for schedule(static)
        for (int64_t bi = 0; bi < nblk; bi++) {
            float *pp = part + bi * N;
            int64_t r0 = bi * DB_ROWS, r1 = r0 + DB_ROWS < rows ? r0 + DB_ROWS : rows;
            memcpy(pp, dy + r0 * N, (size_t)N * sizeof(float));
            for (int64_t r = r0 + 1; r < r1; r++) {
                const float *d = dy + r * N;
#pragma omp simd
                for (int64_t j = 0; j < N; j++) pp[j] += d[j];
            }
        }
#pragma omp for schedule(static)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t bi = 0; bi < nblk; bi++) acc += part[bi * N + j];
            db[j] += (float)acc;
        }
    }
}
