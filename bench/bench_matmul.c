/* Matmul throughput per engine on transformer/conformer shapes.
 * Prints one line per shape and engine: "matmul M N K engine ms gflops". */
#include <stdio.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "bench_util.h"
#include "nemoc/alloc.h"
#include "nemoc/rng.h"

typedef struct shape {
    int64_t M, N, K;
    const char *what;
} shape;

static const shape shapes[] = {
    {2048, 512, 512, "qkv proj d512 (B8xT256)"},
    {2048, 2048, 512, "ffn up d512"},
    {2048, 512, 2048, "ffn down d512"},
    {1600, 176, 176, "conformer-s proj (B8xT200)"},
    {1600, 704, 176, "conformer-s ffn up"},
    {1024, 1024, 1024, "square 1024"},
};

int main(void) {
    nc_rng r;
    nc_rng_seed(&r, 1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        float *A = nc_malloc((size_t)(sh->M * sh->K) * 4), *B = nc_malloc((size_t)(sh->K * sh->N) * 4);
        float *C = nc_malloc((size_t)(sh->M * sh->N) * 4);
        nc_rng_normal(&r, A, sh->M * sh->K, 0, 1);
        nc_rng_normal(&r, B, sh->K * sh->N, 0, 1);
        nc_gemm_args g = {.M = sh->M, .N = sh->N, .K = sh->K, .alpha = 1, .beta = 0, .A = A,
                          .lda = sh->K, .B = B, .ldb = sh->N, .C = C, .ldc = sh->N, .batch = 1};
        struct {
            const char *name;
            nc_gemm_engine e;
            nc_precision p;
        } engines[] = {{"blas_f32", NC_GEMM_BLAS, NC_PREC_F32},
                       {"dnnl_f32", NC_GEMM_DNNL, NC_PREC_F32},
                       {"dnnl_bf16", NC_GEMM_DNNL, NC_PREC_BF16}};
        for (int e = 0; e < 3; e++) {
            double t[15];
            for (int it = 0; it < 18; it++) {
                double t0 = bench_now();
                nc_cpu_gemm(engines[e].e, engines[e].p, false, &g);
                if (it >= 3) t[it - 3] = bench_now() - t0;
            }
            double med = bench_median(t, 15);
            double gf = 2.0 * (double)sh->M * (double)sh->N * (double)sh->K / med * 1e-9;
            printf("matmul %lld %lld %lld %s %.3f ms %.1f GFLOP/s  # %s\n", (long long)sh->M,
                   (long long)sh->N, (long long)sh->K, engines[e].name, med * 1e3, gf, sh->what);
        }
        nc_free(A);
        nc_free(B);
        nc_free(C);
    }
    return 0;
}
