/* The decoding matrix-vector path (src/backend/cpu/gemv.c): for 1 to 8 rows
 * of A against B (N, K) row-major, with K tails, bias, alpha and beta, the
 * fp32 path equals the double-accumulating reference gemm within float
 * rounding, and the bf16 path (a dense bf16 copy of B) equals the reference
 * on the bf16-rounded B; and the dispatcher takes it only where it applies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "nc_test.h"
#include "nemoc/rng.h"

static float round_bf16(float x, uint16_t *h) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
    *h = (uint16_t)(u >> 16);
    u = (uint32_t)*h << 16;
    float y;
    memcpy(&y, &u, 4);
    return y;
}

static void check(int64_t M, int64_t N, int64_t K, bool bias, float beta) {
    nc_rng r;
    nc_rng_seed(&r, (uint64_t)(M * 1000 + N * 10 + K));
    float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(N * K) * 4), *Bq = malloc((size_t)(N * K) * 4);
    float *bs = malloc((size_t)N * 4), *C0 = malloc((size_t)(M * N) * 4), *C1 = malloc((size_t)(M * N) * 4);
    float *C2 = malloc((size_t)(M * N) * 4), *C3 = malloc((size_t)(M * N) * 4);
    uint16_t *B16 = malloc((size_t)(N * K) * 2);
    nc_rng_normal(&r, A, M * K, 0, 1);
    nc_rng_normal(&r, B, N * K, 0, 1);
    nc_rng_normal(&r, bs, N, 0, 1);
    nc_rng_normal(&r, C0, M * N, 0, 1);
    for (int64_t i = 0; i < N * K; i++) Bq[i] = round_bf16(B[i], &B16[i]);
    memcpy(C1, C0, (size_t)(M * N) * 4);
    memcpy(C2, C0, (size_t)(M * N) * 4);
    memcpy(C3, C0, (size_t)(M * N) * 4);
    nc_gemm_args g = {.tb = true, .M = M, .N = N, .K = K, .alpha = 0.5f, .beta = beta, .A = A, .lda = K, .B = B,
                      .ldb = K, .C = C0, .ldc = N, .batch = 1, .bias = bias ? bs : NULL};
    CHECK(nc_cpu_gemv_applies(&g));
    nc_gemm_args ref = g;
    /* the reference adds no bias itself: fold it into C first */
    if (bias)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C1[i * N + j] = beta * C1[i * N + j] + bs[j];
    ref.C = C1, ref.bias = NULL, ref.beta = bias ? 1.0f : beta;
    nc_cpu_gemm_ref(&ref);
    nc_cpu_gemv(&g, false);
    double e = 0, s = 0;
    for (int64_t i = 0; i < M * N; i++) e = fmax(e, fabs((double)C0[i] - C1[i])), s = fmax(s, fabs(C1[i]));
    CHECK(e <= 1e-5 * (s > 1 ? s : 1) * sqrt((double)K));
    /* bf16: B read from the bf16 copy equals the reference on rounded B */
    nc_gemm_args gb = g;
    gb.C = C2, gb.B16 = B16;
    nc_cpu_gemv(&gb, true);
    if (bias)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C3[i * N + j] = beta * C3[i * N + j] + bs[j];
    nc_gemm_args rq = ref;
    rq.B = Bq, rq.C = C3;
    nc_cpu_gemm_ref(&rq);
    double eb = 0;
    for (int64_t i = 0; i < M * N; i++) eb = fmax(eb, fabs((double)C2[i] - C3[i]));
    CHECK(eb <= 1e-5 * (s > 1 ? s : 1) * sqrt((double)K));
    free(A), free(B), free(Bq), free(bs), free(C0), free(C1), free(C2), free(C3), free(B16);
}

int main(void) {
    check(1, 7, 16, false, 0.0f);
    check(1, 300, 37, true, 0.0f);
    check(3, 129, 64, true, 1.0f);
    check(8, 65, 100, false, 0.5f);
    check(1, 2048, 768, true, 0.0f); /* threaded */
    /* outside its shapes the dispatcher keeps the general gemm */
    nc_gemm_args g = {.tb = true, .M = 9, .N = 4, .K = 32, .batch = 1};
    CHECK(!nc_cpu_gemv_applies(&g));
    g.M = 1, g.tb = false;
    CHECK(!nc_cpu_gemv_applies(&g));
    g.tb = true, g.K = 8;
    CHECK(!nc_cpu_gemv_applies(&g));
    return nc_test_finish("gemv");
}
