/* Matrix multiply kernels (row-major).
 *
 *   C[b] (M x N) = alpha * op(A[b]) (M x K) * op(B[b]) (K x N) + beta * C[b] + bias
 *
 * bias (N) is NULL or added to every row (oneDNN applies it in the kernel;
 * the other engines fill C with it first).
 * op(X) is X or X^T; a transposed A is stored K x M with leading dimension
 * lda. Batches are strided; a zero stride broadcasts one matrix. */
#ifndef NC_BACKEND_CPU_GEMM_H
#define NC_BACKEND_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"

#include "backend/kernel_args.h"

/* Runs on the chosen engine; NC_GEMM_AUTO picks oneDNN; bf16 precision
 * always runs on oneDNN. `reference` forces the plain loops. */
nc_status nc_cpu_gemm(nc_gemm_engine engine, nc_precision prec, bool reference,
                      const nc_gemm_args *g);

/* The engines, exposed for tests and benchmarks. */
void nc_cpu_gemm_ref(const nc_gemm_args *g);
void nc_cpu_gemm_blas(const nc_gemm_args *g);
nc_status nc_cpu_gemm_dnnl(const nc_gemm_args *g, bool bf16);

/* Drops cached oneDNN primitives, matmul and convolution (tests; process exit). */
void nc_cpu_dnnl_cache_clear(void);

/* gemv.c: C = alpha A B^T + beta C (+ bias) for a few rows of A (generation):
 * batch 1, M <= NC_GEMV_MAX_M, B (N, K) row-major (tb), K >= 16; with bf16,
 * g->B16 (dense) is read instead of B when given. */
#define NC_GEMV_MAX_M 8
bool nc_cpu_gemv_applies(const nc_gemm_args *g);
void nc_cpu_gemv(const nc_gemm_args *g, bool bf16);
/* bf16 matmuls as fp32 matmuls of bf16-rounded operands: switched on by
 * itself when oneDNN has no bf16 kernel for the CPU; tests force it. */
void nc_cpu_gemm_bf16_emulate(bool on);

#endif
