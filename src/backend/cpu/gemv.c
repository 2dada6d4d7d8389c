/* Matrix-vector products for generation: C (M, N) = A (M, K) B^T with B
 * (N, K) row-major and M <= NC_GEMV_MAX_M (one decoded token per sequence).
 * Such a product is bound by reading B once: each thread streams its own
 * block of B's rows and computes all M dot products of a row while it is in
 * cache, with 16-lane vector sums (vmath.h). With a bf16 copy of B (bf16
 * precision) half the bytes are read; A stays fp32. oneDNN's general matmul
 * reads B at a fraction of the machine's bandwidth at M = 1. */
#include <string.h>

#include "backend/cpu/gemm.h"
#include "backend/cpu/vmath.h"
#include "nemoc/tensor.h"

typedef uint16_t nc_v16u16 __attribute__((vector_size(32)));

/* 16 bf16 values widened to fp32 (bf16 is the upper half of an fp32) */
static inline nc_v16f bf16x16(const uint16_t *p) {
    nc_v16u16 h;
    memcpy(&h, p, sizeof h);
    nc_v16i w = __builtin_convertvector(h, nc_v16i) << 16;
    return (nc_v16f)w;
}

bool nc_cpu_gemv_applies(const nc_gemm_args *g) {
    return g->batch == 1 && g->M >= 1 && g->M <= NC_GEMV_MAX_M && !g->ta && g->tb && g->K >= 16;
}

/* One row of A (M = 1, the common decoding case): four independent sums in
 * registers so the FMA latency and the widening of bf16 overlap the loads. */
static inline float dot1(const float *a, const float *w, const uint16_t *w16, int64_t K16) {
    nc_v16f s0 = NC_V16(0.0f), s1 = s0, s2 = s0, s3 = s0, x, y;
    int64_t k = 0;
    for (; k + 64 <= K16; k += 64) {
        for (int u = 0; u < 4; u++) {
            nc_v16_load(&x, a + k + 16 * u);
            if (w16) y = bf16x16(w16 + k + 16 * u);
            else nc_v16_load(&y, w + k + 16 * u);
            if (u == 0) s0 += x * y;
            else if (u == 1) s1 += x * y;
            else if (u == 2) s2 += x * y;
            else s3 += x * y;
        }
    }
    for (; k < K16; k += 16) {
        nc_v16_load(&x, a + k);
        if (w16) y = bf16x16(w16 + k);
        else nc_v16_load(&y, w + k);
        s0 += x * y;
    }
    s0 += s1 + s2 + s3;
    return nc_v16_hsum(&s0);
}

void nc_cpu_gemv(const nc_gemm_args *g, bool bf16) {
    if (g->M == 1) {
        const int64_t N = g->N, K = g->K, K16 = K / 16 * 16;
        const uint16_t *B16 = bf16 ? g->B16 : NULL;
#pragma omp parallel for schedule(static) if (N * K >= 65536)
        for (int64_t j = 0; j < N; j++) {
            float s = dot1(g->A, g->B + j * g->ldb, B16 ? B16 + j * K : NULL, K16);
            for (int64_t k = K16; k < K; k++)
                s += g->A[k] * (B16 ? nc_bf16_to_f32(B16[j * K + k]) : g->B[j * g->ldb + k]);
            float *c = g->C + j;
            *c = g->alpha * s + (g->beta == 0.0f ? 0.0f : g->beta * *c) + (g->bias ? g->bias[j] : 0.0f);
        }
        return;
    }
    const int64_t M = g->M, N = g->N, K = g->K, K16 = K / 16 * 16;
    const uint16_t *B16 = bf16 ? g->B16 : NULL;
    const int64_t ldb16 = K; /* dense bf16 copy */
#pragma omp parallel for schedule(static) if (N * K >= 65536)
    for (int64_t j = 0; j < N; j++) {
        nc_v16f acc[NC_GEMV_MAX_M];
        for (int64_t i = 0; i < M; i++) acc[i] = NC_V16(0.0f);
        for (int64_t k = 0; k < K16; k += 16) {
            nc_v16f w;
            if (B16) w = bf16x16(B16 + j * ldb16 + k);
            else nc_v16_load(&w, g->B + j * g->ldb + k);
            for (int64_t i = 0; i < M; i++) {
                nc_v16f a;
                nc_v16_load(&a, g->A + i * g->lda + k);
                acc[i] += a * w;
            }
        }
        for (int64_t i = 0; i < M; i++) {
            float s = nc_v16_hsum(&acc[i]);
            for (int64_t k = K16; k < K; k++)
                s += g->A[i * g->lda + k] * (B16 ? nc_bf16_to_f32(B16[j * ldb16 + k]) : g->B[j * g->ldb + k]);
            float *c = g->C + i * g->ldc + j;
            *c = g->alpha * s + (g->beta == 0.0f ? 0.0f : g->beta * *c) + (g->bias ? g->bias[j] : 0.0f);
        }
    }
}
