/* Argument structs of the kernels, shared by the op front ends (src/ops)
 * and every backend (src/backend/<name>/). Plain data, no behaviour: the
 * geometry of a pass and how it may run. The kernels' contracts are in the
 * backend table (backend.h) and, for the CPU, in the headers of backend/cpu. */
#ifndef NC_BACKEND_KERNEL_ARGS_H
#define NC_BACKEND_KERNEL_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"

/* ---- gemm (row-major) ----
 *   C[b] (M x N) = alpha * op(A[b]) (M x K) * op(B[b]) (K x N) + beta * C[b] + bias
 * op(X) is X or X^T; a transposed A is stored K x M with leading dimension
 * lda. Batches are strided; a zero stride broadcasts one matrix. */
typedef struct nc_gemm_args {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t lda, stride_a;
    const float *B;
    int64_t ldb, stride_b;
    float *C;
    int64_t ldc, stride_c;
    int64_t batch; /* >= 1 */
    const float *bias; /* (N) or NULL */
    /* bf16 precision only: operands already converted, stored like A / B but
     * dense (leading dimension = stored row length, batch stride = matrix
     * size, or one matrix when the float stride is 0); NULL: converted here. */
    const uint16_t *A16, *B16;
} nc_gemm_args;

/* ---- convolution (NCHW; 1-D is H = KH = OH = 1) ---- */
typedef struct nc_conv_geom {
    int64_t N, Cin, Cout, groups;
    int64_t H, W;   /* input spatial size */
    int64_t KH, KW; /* kernel size */
    int64_t OH, OW; /* output spatial size (trailing padding only shows here) */
    int64_t sh, sw; /* stride */
    int64_t ph, pw; /* leading padding */
    int64_t dh, dw; /* dilation */
} nc_conv_geom;

typedef struct nc_conv_exec {
    nc_gemm_engine engine;
    nc_precision prec; /* bf16: the gemms take bf16 inputs, accumulate in fp32 */
    bool reference;    /* direct loops, no threads */
    bool threads;      /* big enough to use OpenMP */
    float *work;       /* nc_conv_work_floats() floats of scratch (may be NULL if 0) */
    int64_t col_budget; /* im2col scratch cap in floats; 0 = default (2 Mi) */
} nc_conv_exec;

typedef enum nc_conv_pass { NC_CONV_FWD, NC_CONV_BWD_DATA, NC_CONV_BWD_WEIGHT } nc_conv_pass;

/* ---- depthwise 1-D convolution over time in (B, T, C) ---- */
typedef struct nc_dwtc_geom {
    int64_t B, T, C, K;
    int64_t pad_left;
    int64_t To; /* output frames: T + pad_left + pad_right - K + 1 */
} nc_dwtc_geom;

/* ---- fused multi-head attention (backend/cpu/attention.h has the maths) ---- */
typedef struct nc_attn_geom {
    int64_t B, T, H, dk;
    int64_t ld;          /* row stride (floats) of q, k, v, out and p: H*dk when packed */
    float scale;         /* applied to the scores, 1/sqrt(dk) */
    const int64_t *len;  /* (B) valid frames, or NULL for all T */
    bool causal;
    bool mask_queries;
    bool has_pos;        /* p (2T-1 rows) and the rel_shift term */
} nc_attn_geom;

typedef struct nc_attn_exec {
    bool reference; /* plain loops, one thread */
    bool threads;
} nc_attn_exec;

/* ---- rotary position embedding over (B, T, H*hd) rows of stride ld ---- */
typedef struct nc_rope_geom {
    int64_t B, T, H, hd, ld;
    int64_t rot;            /* rotated dims per head (even, <= hd) */
    const int64_t *pos;     /* (B*T) positions, or NULL: pos0 + t */
    int64_t pos0;
    const float *cos, *sin; /* (positions table_lo.., rot/2) */
    int64_t table_lo;
} nc_rope_geom;

/* ---- attention of new queries over a key/value cache ---- */
typedef struct nc_attn_cache_geom {
    int64_t B, Tn, H, G, hd; /* batch, new tokens, query heads, key/value groups, head dim */
    int64_t L0, cap;         /* cached positions before the new ones, cache capacity */
    float scale;
} nc_attn_cache_geom;

/* ---- 1-D pooling over rows of length L ---- */
typedef struct nc_pool1d_geom {
    int64_t rows, L, Lout;
    int64_t k, s, p;
} nc_pool1d_geom;

#endif
