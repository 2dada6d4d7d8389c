/* Layout kernels: permute (and its gradient), slice gradient, pad, and the
 * relative-position shift of Transformer-XL (front ends in
 * src/ops/ops_shape.c and ops_attention.c). */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "nemoc/tensor.h"

/* dst (permuted shape) = src with dims reordered by perm; inverse_add
 * accumulates the inverse direction (dst is the source layout) for backward. */
void nc_cpu_permute(bool th, const void *sdata_, void *dst_, int nd, const int64_t *shape,
                    const int *perm, size_t esz, bool inverse_add) {
    const float *sdata = sdata_;
    float *dst = dst_;
    int64_t sstride[NC_MAX_DIMS], oshape[NC_MAX_DIMS], ostride_in_src[NC_MAX_DIMS];
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        sstride[i] = s;
        s *= shape[i];
    }
    for (int i = 0; i < nd; i++) {
        oshape[i] = shape[perm[i]];
        ostride_in_src[i] = sstride[perm[i]];
    }
    int64_t n = s;
    int64_t inner = nd ? oshape[nd - 1] : 1;
    int64_t rows = inner ? n / inner : 0;
    int64_t istep = nd ? ostride_in_src[nd - 1] : 1;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t rem = r, off = 0;
        for (int d = nd - 2; d >= 0; d--) {
            off += (rem % oshape[d]) * ostride_in_src[d];
            rem /= oshape[d];
        }
        if (inverse_add) {
            /* dst is laid out like src; sdata like the permuted output */
            for (int64_t j = 0; j < inner; j++) dst[off + j * istep] += sdata[r * inner + j];
        } else if (esz == 4) {
            const float *sp = sdata;
            for (int64_t j = 0; j < inner; j++) dst[r * inner + j] = sp[off + j * istep];
        } else {
            const char *sp = (const char *)sdata;
            char *dp = (char *)dst;
            for (int64_t j = 0; j < inner; j++)
                memcpy(dp + (size_t)(r * inner + j) * esz, sp + (size_t)(off + j * istep) * esz, esz);
        }
    }
}

void nc_cpu_slice_grad(bool th, const float *g, float *dx, int64_t outer, int64_t n_in,
                       int64_t n_out, int64_t inner, int64_t start, int64_t step) {
    if (step == 1) { /* one contiguous run per outer row (a last-dim slice has inner 1) */
        const int64_t run = n_out * inner;
#pragma omp parallel for if (th) schedule(static)
        for (int64_t o = 0; o < outer; o++) {
            float *d = dx + (o * n_in + start) * inner;
            const float *gs = g + o * run;
            for (int64_t i = 0; i < run; i++) d[i] += gs[i];
        }
        return;
    }
#pragma omp parallel for if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n_out; j++) {
            float *d = dx + (o * n_in + start + j * step) * inner;
            const float *gs = g + (o * n_out + j) * inner;
            for (int64_t i = 0; i < inner; i++) d[i] += gs[i];
        }
}

void nc_cpu_pad(bool th, const float *X, float *Y, int64_t outer, int64_t n, int64_t n_out,
                int64_t inner, int64_t left, float value) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n_out; j++) {
            int64_t src = j - left;
            float *d = Y + (o * n_out + j) * inner;
            if (src < 0 || src >= n)
                for (int64_t i = 0; i < inner; i++) d[i] = value;
            else
                memcpy(d, X + (o * n + src) * inner, (size_t)inner * sizeof(float));
        }
}

/* NeMo pads one zero column on the left, views (2T, T), drops the first row and
 * views back; for the kept columns j < T that is y[i][j] = x[i][j + T-1-i]. */
void nc_cpu_rel_shift(bool th, const float *X, float *Y, int64_t rows, int64_t T) {
    const int64_t P = 2 * T - 1;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < T; i++)
            memcpy(Y + (r * T + i) * T, X + (r * T + i) * P + (T - 1 - i), (size_t)T * sizeof(float));
}

void nc_cpu_rel_shift_grad(bool th, const float *g, float *dx, int64_t rows, int64_t T) {
    const int64_t P = 2 * T - 1;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < T; i++) {
            float *d = dx + (r * T + i) * P + (T - 1 - i);
            const float *gi = g + (r * T + i) * T;
            for (int64_t j = 0; j < T; j++) d[j] += gi[j];
        }
}
