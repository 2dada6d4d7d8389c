/* Transducer losses: RNN-T (Graves 2012), TDT (Token-and-Duration
 * Transducer, Xu et al. 2023, arXiv:2304.06795) and multi-blank RNN-T
 * (Xu et al. 2022, arXiv:2211.03541), with NeMo's options.
 *
 * Semantics are NeMo's RNNTLoss (nemo/collections/asr/losses/rnnt.py) over
 * its numba losses (nemo/collections/asr/parts/numba/rnnt_loss/): the input
 * is the joint network's output *logits* (B, T, U + 1, C); the loss applies
 * log_softmax over the token logits itself, as warprnnt_numba does. The
 * blank is the last token logit (NeMo's blank_idx = num_classes):
 *   rnnt       C = V + 1                tokens 0..V-1, blank V
 *   multiblank C = V + 1 + n_big        big blank i at blank - 1 - i, blank last
 *   tdt        C = V + 1 + n_durations  token logits [0, V], then duration logits,
 *                                       each group log_softmax-ed on its own
 * `targets` (B, U) hold token ids in [0, blank) (no blank, no big blank);
 * row b uses its first target_lengths[b]; logits node (b, t, u) is used for
 * t < input_lengths[b], u <= target_lengths[b], the rest is padding (zero
 * gradient).
 *
 * Loss per utterance: -(1 + fastemit_lambda) * log P(y | x), as NeMo's
 * numba kernels report it (rnnt_helper.compute_costs_data); the reduction
 * is then applied as RNNTLoss.reduce. The gradient is NeMo's (w.r.t. the
 * logits): with fastemit_lambda > 0 it is the FastEmit gradient (Yu et al.
 * 2021, arXiv:2010.11148, eq. 9-10: label transitions weighted 1 + lambda),
 * which is not the derivative of the reported loss; with clamp > 0 each
 * token-logit gradient of an utterance is clamped to [-clamp, clamp] before
 * the reduction scales it (NeMo's CUDA kernels and torchaudio clamp there;
 * NeMo's CPU numba path clamps at the log-probabilities instead). */
#ifndef NEMOC_RNNT_H
#define NEMOC_RNNT_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_rnnt_params {
    int64_t blank;              /* -1: the last token logit (NeMo); else an index */
    nc_loss_reduction reduction;
    double fastemit_lambda;     /* warprnnt_numba_kwargs.fastemit_lambda (0: off) */
    double clamp;               /* gradient clamp; <= 0 off (NeMo's -1.0) */
    double sigma;               /* tdt / multiblank: logit under-normalisation, subtracted
                                 * from every token log-prob (not from durations) */
    double omega;               /* tdt: probability of the plain RNN-T loss on the token
                                 * logits for this call (drawn from the ctx RNG) */
    const int64_t *durations;   /* tdt: strictly increasing, starting 0, 1 (NeMo: "must
                                 * include 0 and 1"), e.g. {0, 1, 2, 3, 4} */
    int64_t n_durations;
    const int64_t *big_blank_durations; /* multiblank: each >= 1, e.g. {2, 4, 8} */
    int64_t n_big_blanks;
} nc_rnnt_params;

/* blank -1, mean_batch, no FastEmit, no clamp, sigma 0, omega 0, no durations. */
nc_rnnt_params nc_rnnt_default_params(void);

/* Which lattice a loss runs (NeMo's loss_name: default, tdt, multiblank_rnnt). */
typedef enum nc_transducer_kind {
    NC_TRANSDUCER_RNNT = 0,
    NC_TRANSDUCER_TDT,
    NC_TRANSDUCER_MULTIBLANK,
} nc_transducer_kind;

/* All three: logits (B, T, U + 1, C) f32, targets (B, U) i64, input_lengths
 * and target_lengths (B) i64 with 1 <= input_lengths[b] <= T and
 * 0 <= target_lengths[b] <= U. Returns a scalar, or (B) for NC_LOSS_NONE;
 * NULL with the ctx failed (NC_ERR_SHAPE / NC_ERR_INVALID_ARG naming the
 * value) on bad input. NaN logits are not checked: they give a NaN loss and
 * gradient, which the trainer skips as a non-finite step (as nc_ctc_loss). */
nc_tensor *nc_rnnt_loss(nc_ctx *ctx, nc_tensor *logits, nc_tensor *targets,
                        nc_tensor *input_lengths, nc_tensor *target_lengths,
                        const nc_rnnt_params *p);
nc_tensor *nc_tdt_loss(nc_ctx *ctx, nc_tensor *logits, nc_tensor *targets,
                       nc_tensor *input_lengths, nc_tensor *target_lengths,
                       const nc_rnnt_params *p);
nc_tensor *nc_multiblank_rnnt_loss(nc_ctx *ctx, nc_tensor *logits, nc_tensor *targets,
                                   nc_tensor *input_lengths, nc_tensor *target_lengths,
                                   const nc_rnnt_params *p);

/* ---- fused joint + loss (src/ops/ops_rnnt_joint.c) ----
 *
 * RNNTJoint with fuse_loss_wer (nemo/collections/asr/modules/rnnt.py,
 * RNNTJoint.forward): the batch is cut into sub-batches of
 * fused_batch_size utterances, each cropped to its own longest input and
 * target, and for each one
 *     logits = dropout(act(f[:, :, None] + g[:, None])) W^T + bias
 * is made, its loss and logits gradient computed, and the gradient pushed
 * through the joint at once; the losses are reduced over the whole batch
 * as RNNTLoss.reduce does. The op keeps the gradients of its inputs
 * (f, g, W, bias: the size of the inputs) instead of the logits, and the
 * logits gradient overwrites the logits, so the peak is one sub-batch's
 * Bs * T * (U + 1) * (C + 2 J) floats (3 J with dropout) against the whole
 * batch's B * T * (U + 1) * (2 C + 3 J) (4 J with dropout) when the joint
 * and loss run as separate ops. Same numbers as nc_rnnt_joint_after_projection
 * followed by the loss (up to float summation order). */
typedef enum nc_rnnt_activation {
    NC_RNNT_ACT_RELU = 0,
    NC_RNNT_ACT_TANH,
    NC_RNNT_ACT_SIGMOID,
} nc_rnnt_activation;

typedef struct nc_rnnt_joint_loss_params {
    nc_transducer_kind kind;
    nc_rnnt_params loss;           /* any reduction but NC_LOSS_NONE */
    nc_rnnt_activation activation; /* jointnet.activation */
    float dropout;                 /* jointnet.dropout, in training mode (torch's mask order
                                    * per sub-batch) */
    int64_t fused_batch_size;      /* joint.fused_batch_size, >= 1 */
} nc_rnnt_joint_loss_params;

/* f (B, T, J) the projected encoder output (joint.enc), g (B, U + 1, J) the
 * projected prediction network output (joint.pred), weight (C, J) and bias
 * (C) of the joint's output Linear; targets and lengths as nc_rnnt_loss.
 * Returns the reduced loss (scalar); gradients flow to f, g, weight, bias. */
nc_tensor *nc_rnnt_joint_loss(nc_ctx *ctx, nc_tensor *f, nc_tensor *g, nc_tensor *weight,
                              nc_tensor *bias, nc_tensor *targets, nc_tensor *input_lengths,
                              nc_tensor *target_lengths, const nc_rnnt_joint_loss_params *p);

#ifdef __cplusplus
}
#endif
#endif
