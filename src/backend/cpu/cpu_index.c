/* Indexing kernels: gather, masked_fill, embedding, forward and backward
 * (front ends in src/ops/ops_index.c). Backward loops split the work so
 * that no two threads add into one element: sums are race-free and their
 * order does not depend on the thread count. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"

void nc_cpu_gather(bool th, const void *x, const int64_t *idx, const int64_t *xo,
                   const int64_t *xi, int64_t xstride, void *y, size_t esz, int64_t outer,
                   int64_t n, int64_t inner) {
    if (esz == sizeof(float)) {
        const float *X = x;
        float *Y = y;
#pragma omp parallel for collapse(2) if (th) schedule(static)
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < n; j++)
                for (int64_t i = 0; i < inner; i++) {
                    const int64_t k = (o * n + j) * inner + i;
                    Y[k] = X[xo[o] + idx[k] * xstride + xi[i]];
                }
    } else {
        const int64_t *X = x;
        int64_t *Y = y;
#pragma omp parallel for collapse(2) if (th) schedule(static)
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < n; j++)
                for (int64_t i = 0; i < inner; i++) {
                    const int64_t k = (o * n + j) * inner + i;
                    Y[k] = X[xo[o] + idx[k] * xstride + xi[i]];
                }
    }
}

void nc_cpu_gather_grad(bool th, const float *g, const int64_t *idx, const int64_t *xo,
                        const int64_t *xi, int64_t xstride, float *dx, int64_t outer, int64_t n,
                        int64_t inner) {
    /* out (o, j, i) lands in x (o, idx, i): different (o, i) never collide, so
     * threads split (o, i) and each walks j in order (deterministic). */
#pragma omp parallel for collapse(2) if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            for (int64_t j = 0; j < n; j++) {
                const int64_t k = (o * n + j) * inner + i;
                dx[xo[o] + idx[k] * xstride + xi[i]] += g[k];
            }
}

/* x viewed as rows of its last dim; the mask's row offset comes from its
 * broadcast strides, its step along the row is 0 or 1. */
static inline int64_t mask_row_offset(int nd, const int64_t *shape, const int64_t *st,
                                      int64_t row) {
    int64_t off = 0;
    for (int d = nd - 2; d >= 0; d--) {
        off += (row % shape[d]) * st[d];
        row /= shape[d];
    }
    return off;
}

static int64_t numel(int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= shape[d];
    return n;
}

void nc_cpu_masked_fill(bool th, const float *X, const uint8_t *M, const int64_t *mst, int nd,
                        const int64_t *shape, float value, float *Y) {
    const int64_t C = nd ? shape[nd - 1] : 1, rows = C ? numel(nd, shape) / C : 0;
    const int64_t ms = nd ? mst[nd - 1] : 0;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *m = M + mask_row_offset(nd, shape, mst, r);
        for (int64_t j = 0; j < C; j++) Y[r * C + j] = m[j * ms] ? value : X[r * C + j];
    }
}

void nc_cpu_masked_fill_grad(bool th, const float *g, const uint8_t *M, const int64_t *mst,
                             int nd, const int64_t *shape, float *dx) {
    const int64_t C = nd ? shape[nd - 1] : 1, rows = C ? numel(nd, shape) / C : 0;
    const int64_t ms = nd ? mst[nd - 1] : 0;
    /* forward: y = mask ? value : x, so filled positions pass no gradient */
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *m = M + mask_row_offset(nd, shape, mst, r);
        for (int64_t j = 0; j < C; j++) dx[r * C + j] += m[j * ms] ? 0.0f : g[r * C + j];
    }
}

void nc_cpu_embedding(bool th, const float *W, const int64_t *I, float *Y, int64_t n, int64_t D) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t t = 0; t < n; t++) memcpy(Y + t * D, W + I[t] * D, (size_t)D * sizeof(float));
}

void nc_cpu_embedding_grad(bool th, const float *g, const int64_t *I, int64_t padding_idx,
                           float *dw, int64_t n, int64_t D) {
    /* Rows repeat across tokens, so threads split the embedding columns and
     * each walks the tokens in order (no races, deterministic sums). */
    enum { BLK = 64 };
    const int64_t nblk = (D + BLK - 1) / BLK;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t b = 0; b < nblk; b++) {
        const int64_t j0 = b * BLK, j1 = j0 + BLK < D ? j0 + BLK : D;
        for (int64_t t = 0; t < n; t++) {
            if (I[t] == padding_idx) continue; /* padding rows get no gradient */
            float *dr = dw + I[t] * D;
            const float *gr = g + t * D;
            for (int64_t j = j0; j < j1; j++) dr[j] += gr[j];
        }
    }
}
