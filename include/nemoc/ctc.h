/* Connectionist Temporal Classification loss (Graves et al., 2006).
 *
 * Semantics are torch.nn.functional.ctc_loss on batch-first input, wrapped
 * the way NeMo's CTCLoss (nemo/collections/asr/losses/ctc.py) wraps it:
 * NeMo passes log-probabilities (B, T, V) that came out of log_softmax, the
 * blank is the last class (V - 1) for NeMo models, and the reduction adds
 * `mean_batch` and `mean_volume` to torch's `none`, `sum` and `mean`. */
#ifndef NEMOC_CTC_H
#define NEMOC_CTC_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CTC negative log-likelihood.
 *   log_probs      (B, T, V) float32, already log_softmax-ed over V
 *   targets        (B, S) int64, padded; row b uses its first target_lengths[b] labels
 *   input_lengths  (B) int64, each in [0, T]
 *   target_lengths (B) int64, each in [0, S]
 *   blank          index of the blank class in [0, V); labels must differ from it
 * Returns a scalar, or (B) for NC_LOSS_NONE. An impossible alignment (too few
 * frames for the labels and their repeats) gives +inf; with zero_infinity
 * that utterance's loss is 0 and its gradient is zero.
 *
 * Gradient: like torch's ctc_loss backward, d/d log_probs[b,t,c] is
 * g_b * (exp(lp[b,t,c]) - gamma[b,t,c]) for t < input_lengths[b], where gamma
 * is the posterior occupancy of class c at frame t. This is the gradient with
 * respect to the *logits* of the log_softmax that produced log_probs, not
 * the true partial derivative (which is -gamma). Both give the same logits
 * gradient after nc_log_softmax's backward, because the extra exp(lp) term
 * sums to g_b over each frame and log_softmax's backward removes exactly
 * softmax * sum(grad); so chaining with nc_log_softmax matches PyTorch, and
 * the gradient seen at log_probs also matches PyTorch's. Frames at or past
 * input_lengths[b] get zero gradient. As in torch, a +inf loss without
 * zero_infinity gives NaN gradients for that utterance. */
nc_tensor *nc_ctc_loss(nc_ctx *ctx, nc_tensor *log_probs, nc_tensor *targets,
                       nc_tensor *input_lengths, nc_tensor *target_lengths, int64_t blank,
                       nc_loss_reduction reduction, bool zero_infinity);

#ifdef __cplusplus
}
#endif
#endif
