/* Fused multi-head attention kernels, with Transformer-XL relative positions
 * as NeMo's RelPositionMultiHeadAttention computes them
 * (nemo/collections/asr/parts/submodules/multi_head_attention.py):
 *
 *   for each batch b and head h (q, k, v rows t hold head h at columns h*dk..):
 *     S    = (q_h + u_h) k_h^T                              (T, T)
 *     S   += rel_shift((q_h + v_h) p_h^T)    if p given     (T, 2T-1) -> (T, T)
 *     S    = S * scale, masked: -10000 where masked (NeMo), then softmax over keys,
 *            then masked probabilities set to 0
 *     out_h = softmax(S) v_h
 *
 * rel_shift keeps y[i][j] = x[i][j + T-1-i] (positions T-1 ... -(T-1) on p's
 * rows). Masks: keys j >= len[b] are masked; with mask_queries (NeMo's
 * Conformer, att_mask = pad_q | pad_k) query rows i >= len[b] are masked
 * entirely and give zero rows; with causal, keys j > i are masked. A masked
 * key's probability is exactly 0 either way (exp(-10000 - max) underflows),
 * so masked keys and query rows are simply left out of the products, and a
 * row with no valid key gives zeros, as NeMo's masked_fill does.
 *
 * One task per (b, h), tasks spread over threads; inside a task the products
 * are single-threaded gemms (oneDNN's dnnl_sgemm runs sequentially inside a
 * parallel region), so one parallel region serves a whole attention pass.
 * The softmax probabilities (B, H, T, T) are kept for backward. */
#ifndef NC_BACKEND_CPU_ATTENTION_H
#define NC_BACKEND_CPU_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/kernel_args.h"

/* C (M, N) = op(A) op(B) + beta C, row-major, on the calling thread
 * (plain double-accumulating loops when ref), for the attention kernels. */
void nc_attn_sgemm(bool ref, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Scratch floats per thread for forward and backward. */
int64_t nc_attn_work_floats(const nc_attn_geom *g, bool backward);

/* q, k, v (B, T, ld); p (2T-1, ld) or NULL; bu, bv (H, dk) or NULL.
 * Writes out (B, T, ld) (head columns only) and probs (B, H, T, T) when
 * probs is non-NULL; otherwise probabilities live in the work buffer.
 * work: nthreads * nc_attn_work_floats(g, false) floats, nthreads as
 * omp_get_max_threads() (1 for the reference). */
void nc_attn_forward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                     const float *k, const float *v, const float *p, const float *bu,
                     const float *bv, float *probs, float *out, float *work);

/* Gradients, ACCUMULATED into dq, dk, dv (B, T, ld), dp (2T-1, ld), dbu, dbv
 * (H, dk); any of them may be NULL. dout (B, T, ld). dp_part: B * (2T-1) * ld
 * floats of scratch when dp is wanted; bias_part: 2 * B * H * dk floats when
 * dbu or dbv is wanted (per-batch partial sums, reduced in batch order so the
 * result does not depend on the thread count). work: nthreads *
 * nc_attn_work_floats(g, true) floats. */
void nc_attn_backward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                      const float *k, const float *v, const float *p, const float *bu,
                      const float *bv, const float *probs, const float *dout, float *dq,
                      float *dk, float *dv, float *dp, float *dbu, float *dbv, float *dp_part,
                      float *bias_part, float *work);

#endif
