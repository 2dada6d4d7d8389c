/* Tiled (flash-style) multi-head attention without positional terms: the
 * same maths as attention.h's kernels for p == NULL, bu == bv == NULL
 * (causal or not, key padding, masked query rows), but the (T, T)
 * probabilities never exist. FlashAttention (Dao et al. 2022, algorithm 1)
 * and FlashAttention-2 (Dao 2023, algorithm 2 for the backward):
 *
 *   forward, per block of query rows, over blocks of keys with an online
 *   softmax (running row max m and sum l, the output rescaled by e^(m-m')):
 *     out_i = sum_j e^(s_ij - m_i) v_j / l_i,   lse_i = m_i + log l_i
 *   backward, per (b, h), per block of keys (its dK, dV stay in cache),
 *   over the query blocks that see it, recomputing P from lse:
 *     P = e^(S - lse),  dV += P^T dO,  dP = dO V^T,
 *     dS = P * (dP - D) * scale  with D_i = dO_i . out_i,
 *     dQ += dS K,  dK += dS^T Q.
 * Saved for backward: lse (B, H, T) instead of (B, H, T, T) probabilities.
 * Masked keys get exactly zero probability and rows with no valid key give
 * zeros, as in attention.h (NeMo's masked_fill before and after softmax).
 * Attention dropout is not part of this op (nor of attention.h's). */
#ifndef NC_BACKEND_CPU_ATTENTION_TILED_H
#define NC_BACKEND_CPU_ATTENTION_TILED_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/kernel_args.h"

/* Scratch floats per thread for forward and backward (O(tile + T), not T^2). */
int64_t nc_attn_tiled_work_floats(const nc_attn_geom *g, bool backward);

/* q, k, v (B, T, ld) -> out (B, T, ld) (head columns only) and, when lse is
 * non-NULL, the row log-sum-exp of the scaled scores (B, H, T) (+inf for
 * rows with no valid key). g->has_pos must be false. work: nthreads *
 * nc_attn_tiled_work_floats(g, false) floats (nthreads as attention.h). */
void nc_attn_tiled_forward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                           const float *k, const float *v, float *out, float *lse, float *work);

/* Gradients ACCUMULATED into dq, dk, dv (B, T, ld), any of them NULL; out
 * and lse from the forward, dout (B, T, ld). One task per (b, h), so the
 * sums do not depend on the thread count. work: nthreads *
 * nc_attn_tiled_work_floats(g, true) floats. */
void nc_attn_tiled_backward(const nc_attn_geom *g, const nc_attn_exec *e, const float *q,
                            const float *k, const float *v, const float *out, const float *lse,
                            const float *dout, float *dq, float *dk, float *dv, float *work);

#endif
