/* Fused element-wise kernels for activations kept as (B, T, C) rows: the
 * residual add with dropout, SiLU with dropout, GLU with the padding mask
 * (front ends in src/ops/ops_fused.c). Loops that test a loop-invariant flag
 * per element ("fresh", a mask that may be absent) rely on GCC's
 * -funswitch-loops (CMakeLists.txt) to vectorise each variant. */
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/vmath.h"

void nc_cpu_add_dropout(bool th, const float *A, const float *B, const uint8_t *mask, bool zero,
                        float alpha, float scale, float *Y, int64_t n) {
    if (mask) {
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) Y[i] = A[i] + alpha * (B[i] * (mask[i] ? scale : 0.0f));
    } else if (zero) {
        /* torch multiplies by a zero scalar: NaN/inf in b give NaN, as there */
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) Y[i] = A[i] + alpha * (B[i] * 0.0f);
    } else {
#pragma omp parallel for if (th) schedule(static)
        for (int64_t i = 0; i < n; i++) Y[i] = A[i] + alpha * B[i];
    }
}

void nc_cpu_add_dropout_grad(bool th, const float *g, const uint8_t *m, bool zero, float al,
                             float sc, float *db, bool fresh, int64_t N) {
    /* forward: out = a + alpha * b * mask */
#pragma omp parallel for if (th) schedule(static)
    for (int64_t i = 0; i < N; i++) {
        float v = zero ? g[i] * 0.0f : (m ? al * (g[i] * (m[i] ? sc : 0.0f)) : al * g[i]);
        db[i] = fresh ? v : db[i] + v;
    }
}

void nc_cpu_silu_dropout(bool th, const float *X, const uint8_t *mask, float scale, float *Y,
                         int64_t n) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t b0 = 0; b0 < n; b0 += 1024) {
        const int64_t k = n - b0 < 1024 ? n - b0 : 1024;
        nc_vsilu(Y + b0, X + b0, k);
        if (mask)
            for (int64_t i = 0; i < k; i++) Y[b0 + i] = Y[b0 + i] * (mask[b0 + i] ? scale : 0.0f);
    }
}

void nc_cpu_silu_dropout_grad(bool th, const float *X, const float *G, const uint8_t *m,
                              float sc, float *dx, bool fresh, int64_t N) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t b0 = 0; b0 < N; b0 += 1024) {
        float sg[1024];
        const int64_t k = N - b0 < 1024 ? N - b0 : 1024;
        nc_vsigmoid(sg, X + b0, k);
        /* forward: y = silu(x) * noise; d silu = s (1 + x (1 - s)) */
        for (int64_t i = 0; i < k; i++) {
            const float g = m ? G[b0 + i] * (m[b0 + i] ? sc : 0.0f) : G[b0 + i];
            const float v = g * sg[i] * (1.0f + X[b0 + i] * (1.0f - sg[i]));
            dx[b0 + i] = fresh ? v : dx[b0 + i] + v;
        }
    }
}

/* valid frames of utterance b */
static int64_t gm_valid(const int64_t *len, int64_t T, int64_t b) {
    if (!len) return T;
    int64_t L = len[b];
    return L < 0 ? 0 : (L > T ? T : L);
}

void nc_cpu_glu_mask(bool th, const float *X, const int64_t *len, int64_t B, int64_t T,
                     int64_t C, float *Y) {
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < B * T; r++) {
        float *yr = Y + r * C;
        if (r % T >= gm_valid(len, T, r / T)) {
            memset(yr, 0, (size_t)C * sizeof(float));
            continue;
        }
        const float *a = X + r * 2 * C;
        nc_vsigmoid(yr, a + C, C);
        for (int64_t c = 0; c < C; c++) yr[c] *= a[c];
    }
}

void nc_cpu_glu_mask_grad(bool th, const float *X, const float *G, const int64_t *len, int64_t B,
                          int64_t T, int64_t C, float *dx, bool fresh) {
    const int64_t rows = B * T;
#pragma omp parallel for if (th) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *a = X + r * 2 * C, *bb = a + C, *g = G + r * C;
        float *da = dx + r * 2 * C, *db = da + C;
        if (r % T >= gm_valid(len, T, r / T)) { /* masked frame: no gradient */
            if (fresh) memset(da, 0, (size_t)(2 * C) * sizeof(float));
            continue;
        }
        /* forward: y = a * sigmoid(b) */
        for (int64_t c0 = 0; c0 < C; c0 += 256) {
            float sg[256];
            const int64_t m = C - c0 < 256 ? C - c0 : 256;
            nc_vsigmoid(sg, bb + c0, m);
            for (int64_t i = 0; i < m; i++) {
                const float ga = g[c0 + i] * sg[i];
                const float gb = g[c0 + i] * a[c0 + i] * sg[i] * (1.0f - sg[i]);
                da[c0 + i] = fresh ? ga : da[c0 + i] + ga;
                db[c0 + i] = fresh ? gb : db[c0 + i] + gb;
            }
        }
    }
}
