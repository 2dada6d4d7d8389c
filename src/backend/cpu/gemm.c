/* GEMM dispatch, the reference loops and the OpenBLAS engine. */
#include "backend/cpu/gemm.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

void nc_cpu_gemm_ref(const nc_gemm_args *g) {
    for (int64_t b = 0; b < g->batch; b++) {
        const float *A = g->A + b * g->stride_a;
        const float *B = g->B + b * g->stride_b;
        float *C = g->C + b * g->stride_c;
        for (int64_t i = 0; i < g->M; i++) {
            for (int64_t j = 0; j < g->N; j++) {
                double acc = 0;
                for (int64_t k = 0; k < g->K; k++) {
                    float a = g->ta ? A[k * g->lda + i] : A[i * g->lda + k];
                    float bv = g->tb ? B[j * g->ldb + k] : B[k * g->ldb + j];
                    acc += (double)a * bv;
                }
                float prev = g->beta == 0.0f ? 0.0f : g->beta * C[i * g->ldc + j];
                C[i * g->ldc + j] = (float)(g->alpha * acc) + prev;
            }
        }
    }
}

void nc_cpu_gemm_blas(const nc_gemm_args *g) {
    for (int64_t b = 0; b < g->batch; b++) {
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, (blasint)g->M, (blasint)g->N,
                    (blasint)g->K, g->alpha, g->A + b * g->stride_a, (blasint)g->lda,
                    g->B + b * g->stride_b, (blasint)g->ldb, g->beta, g->C + b * g->stride_c,
                    (blasint)g->ldc);
    }
}

nc_status nc_cpu_gemm(nc_gemm_engine engine, nc_precision prec, bool reference,
                      const nc_gemm_args *g) {
    if (g->M == 0 || g->N == 0 || g->batch == 0) return NC_OK;
    if (g->K == 0) {
        /* Empty reduction: C = beta * C + bias (BLAS would skip alpha*AB anyway). */
        for (int64_t b = 0; b < g->batch; b++)
            for (int64_t i = 0; i < g->M; i++)
                for (int64_t j = 0; j < g->N; j++) {
                    float *c = g->C + b * g->stride_c + i * g->ldc + j;
                    *c = (g->beta == 0.0f ? 0.0f : g->beta * *c) + (g->bias ? g->bias[j] : 0.0f);
                }
        return NC_OK;
    }
    bool dnnl = !reference && engine != NC_GEMM_REF && (prec == NC_PREC_BF16 || engine != NC_GEMM_BLAS);
    if (g->bias && !dnnl) {
        /* C = beta C + bias, then accumulate the product */
        nc_gemm_args h = *g;
        for (int64_t b = 0; b < g->batch; b++)
            for (int64_t i = 0; i < g->M; i++) {
                float *c = g->C + b * g->stride_c + i * g->ldc;
                for (int64_t j = 0; j < g->N; j++)
                    c[j] = (g->beta == 0.0f ? 0.0f : g->beta * c[j]) + g->bias[j];
            }
        h.beta = 1.0f;
        h.bias = NULL;
        return nc_cpu_gemm(engine, prec, reference, &h);
    }
    if (reference || engine == NC_GEMM_REF) {
        nc_cpu_gemm_ref(g);
        return NC_OK;
    }
    /* a few rows against a weight matrix (decoding): bound by reading B */
    static int gemv_off = -1; /* NC_NO_GEMV=1: oneDNN for these too (comparisons) */
    if (gemv_off < 0) gemv_off = getenv("NC_NO_GEMV") && strcmp(getenv("NC_NO_GEMV"), "0") != 0;
    if (!gemv_off && nc_cpu_gemv_applies(g) && (prec != NC_PREC_BF16 || g->B16)) {
        nc_cpu_gemv(g, prec == NC_PREC_BF16);
        return NC_OK;
    }
    if (prec == NC_PREC_BF16) return nc_cpu_gemm_dnnl(g, true);
    if (engine == NC_GEMM_BLAS) {
        nc_cpu_gemm_blas(g);
        return NC_OK;
    }
    /* AUTO: oneDNN's fp32 matmul measured ~2x OpenBLAS sgemm on this CPU
     * (bench_matmul: ~500 vs ~250 GFLOP/s on 2 threads). */
    return nc_cpu_gemm_dnnl(g, false);
}
