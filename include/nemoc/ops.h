/* Differentiable ops.
 *
 * Every op takes the ctx first, checks shapes and dtypes, computes its output
 * in the ctx arena, and records itself on the tape when grad mode is on and
 * an input needs a gradient. On bad input it returns NULL and records the
 * error in the ctx (sticky); NULL inputs propagate. Shapes in comments use
 * PyTorch's layout. Float ops work on float32; indices are int64. */
#ifndef NEMOC_OPS_H
#define NEMOC_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- matmul family (ops_matmul.c) ---- */

/* op(a) @ op(b): a (..., M, K), b (..., K, N) or (K, N) broadcast over a's
 * batch; ta/tb transpose the last two dims of a/b. */
nc_tensor *nc_matmul(nc_ctx *ctx, nc_tensor *a, nc_tensor *b, bool ta, bool tb);
/* torch.nn.functional.linear: x (..., in) @ w (out, in)^T + bias (out); bias may be NULL. */
nc_tensor *nc_linear(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias);

/* ---- element-wise binary with NumPy broadcasting (ops_binary.c) ---- */
nc_tensor *nc_add(nc_ctx *ctx, nc_tensor *a, nc_tensor *b);
nc_tensor *nc_sub(nc_ctx *ctx, nc_tensor *a, nc_tensor *b);
nc_tensor *nc_mul(nc_ctx *ctx, nc_tensor *a, nc_tensor *b);
nc_tensor *nc_div(nc_ctx *ctx, nc_tensor *a, nc_tensor *b);
/* a + alpha * b (same shape or broadcast), e.g. residual with a 0.5 scale. */
nc_tensor *nc_add_scaled(nc_ctx *ctx, nc_tensor *a, nc_tensor *b, float alpha);

/* ---- element-wise unary (ops_unary.c) ---- */
nc_tensor *nc_scale(nc_ctx *ctx, nc_tensor *x, float s);      /* s * x */
nc_tensor *nc_add_scalar(nc_ctx *ctx, nc_tensor *x, float s); /* x + s */
nc_tensor *nc_relu(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_leaky_relu(nc_ctx *ctx, nc_tensor *x, float negative_slope);
nc_tensor *nc_silu(nc_ctx *ctx, nc_tensor *x); /* x * sigmoid(x), NeMo's Swish */
nc_tensor *nc_gelu(nc_ctx *ctx, nc_tensor *x, bool tanh_approx);
nc_tensor *nc_tanh(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_sigmoid(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_exp(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_log(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_sqrt(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_pow(nc_ctx *ctx, nc_tensor *x, float p);
/* torch.nn.functional.glu: halves along dim, first * sigmoid(second). */
nc_tensor *nc_glu(nc_ctx *ctx, nc_tensor *x, int dim);

/* ---- reductions (ops_reduce.c) ---- */
#define NC_ALL_DIMS 127
/* Over one dim (negative counts from the end) or NC_ALL_DIMS. */
nc_tensor *nc_sum(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim);
nc_tensor *nc_mean(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim);
/* Max values; the gradient goes to the first maximal element. */
nc_tensor *nc_max(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim);
/* Index of the max along dim (int64, no gradient). */
nc_tensor *nc_argmax(nc_ctx *ctx, nc_tensor *x, int dim, bool keepdim);

/* ---- shape and indexing (ops_shape.c, ops_index.c) ---- */
/* View with a new shape (one -1 allowed); shares data. */
nc_tensor *nc_reshape(nc_ctx *ctx, nc_tensor *x, int ndim, const int64_t *shape);
nc_tensor *nc_transpose(nc_ctx *ctx, nc_tensor *x, int d0, int d1);
nc_tensor *nc_permute(nc_ctx *ctx, nc_tensor *x, const int *perm);
/* x[..., start:end:step, ...] along dim (end clipped; negative start/end count from the end). */
nc_tensor *nc_slice(nc_ctx *ctx, nc_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
nc_tensor *nc_concat(nc_ctx *ctx, int n, nc_tensor *const *xs, int dim);
/* Constant padding of `left`/`right` elements along dim (negative values crop). */
nc_tensor *nc_pad(nc_ctx *ctx, nc_tensor *x, int dim, int64_t left, int64_t right, float value);
/* torch.gather(x, dim, index): index int64 with x's rank. */
nc_tensor *nc_gather(nc_ctx *ctx, nc_tensor *x, int dim, nc_tensor *index);
/* x with value where mask (uint8, broadcastable to x) is nonzero. */
nc_tensor *nc_masked_fill(nc_ctx *ctx, nc_tensor *x, nc_tensor *mask, float value);
/* torch.nn.functional.embedding: weight (V, D), idx int64 (...) -> (..., D).
 * Rows equal to padding_idx (>= 0) get no gradient. */
nc_tensor *nc_embedding(nc_ctx *ctx, nc_tensor *weight, nc_tensor *idx, int64_t padding_idx);
/* Copy (same values, new storage); cast between f32 and bf16 / ints (no grad for ints). */
nc_tensor *nc_contiguous_copy(nc_ctx *ctx, nc_tensor *x);
nc_tensor *nc_cast(nc_ctx *ctx, nc_tensor *x, nc_dtype dt);

/* ---- softmax and losses (ops_softmax.c, ops_loss.c) ---- */
typedef enum nc_reduction { NC_REDUCE_MEAN = 0, NC_REDUCE_SUM, NC_REDUCE_NONE } nc_reduction;

/* Reductions of NeMo's sequence losses over the batch (CTC's ctc_reduction,
 * the transducers' loss.reduction); each loss documents how it applies them
 * (CTC's `mean` divides by max(target_len, 1) as torch's CTCLoss, RNN-T's by
 * target_len as NeMo's RNNTLoss). */
typedef enum nc_loss_reduction {
    NC_LOSS_MEAN_BATCH = 0, /* NeMo default: sum_b loss_b / B */
    NC_LOSS_MEAN_VOLUME,    /* sum_b loss_b / sum_b target_len_b */
    NC_LOSS_MEAN,           /* mean_b (loss_b / target_len_b) */
    NC_LOSS_SUM,            /* sum_b loss_b */
    NC_LOSS_NONE,           /* per utterance, shape (B) */
} nc_loss_reduction;

/* Parses a config value (mean_batch, mean_volume, mean, sum, none); an
 * NC_ERR_CONFIG names the accepted ones. */
nc_status nc_loss_reduction_parse(const char *name, nc_loss_reduction *out);
const char *nc_loss_reduction_name(nc_loss_reduction r);
nc_tensor *nc_softmax(nc_ctx *ctx, nc_tensor *x, int dim);
nc_tensor *nc_log_softmax(nc_ctx *ctx, nc_tensor *x, int dim);
/* torch.nn.functional.cross_entropy over logits (N, C) and int64 targets (N):
 * ignore_index rows contribute nothing; mean divides by the non-ignored count. */
nc_tensor *nc_cross_entropy(nc_ctx *ctx, nc_tensor *logits, nc_tensor *target, int64_t ignore_index,
                            float label_smoothing, nc_reduction reduction);
/* Mean squared error and L1, for TTS losses and tests. */
nc_tensor *nc_mse_loss(nc_ctx *ctx, nc_tensor *input, nc_tensor *target, nc_reduction reduction);

/* ---- normalisation and regularisation (ops_norm.c, ops_dropout.c) ---- */
/* Over the last dim: x (..., C), weight/bias (C) or NULL. */
nc_tensor *nc_layer_norm(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, nc_tensor *bias, float eps);
/* x (N, C, *). In training mode (nc_training) uses batch statistics and
 * updates running_mean/var in place (momentum as torch, unbiased var, and
 * num_batches_tracked += 1 when given); in eval uses the running statistics. */
nc_tensor *nc_batch_norm(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, nc_tensor *bias,
                         nc_tensor *running_mean, nc_tensor *running_var,
                         nc_tensor *num_batches_tracked, float momentum, float eps);
/* x (N, C, *), C divisible by groups; weight/bias (C) or NULL. */
nc_tensor *nc_group_norm(nc_ctx *ctx, nc_tensor *x, int64_t groups, nc_tensor *weight,
                         nc_tensor *bias, float eps);
/* Inverted dropout with the ctx RNG (torch's bernoulli_(1-p) mask / (1-p));
 * identity when p == 0 or not training. */
nc_tensor *nc_dropout(nc_ctx *ctx, nc_tensor *x, float p);

/* ---- convolution and pooling (ops_conv.c, ops_pool.c) ---- */
typedef struct nc_conv_params {
    int64_t stride[2];
    int64_t pad_left[2];  /* leading padding per spatial dim ([0] for 1-D) */
    int64_t pad_right[2]; /* trailing padding; causal 1-D conv: left k-1, right 0 */
    int64_t dilation[2];
    int64_t groups;
    int64_t output_padding; /* conv_transpose1d only */
} nc_conv_params;
/* stride 1, no padding, dilation 1, groups 1. */
nc_conv_params nc_conv_default_params(void);
/* p == NULL means the defaults. 1-D ops read index [0] of each pair; conv2d
 * reads [0] for H and [1] for W. Under NC_PREC_BF16 the gemm-based paths take
 * bf16 inputs with fp32 accumulation; depthwise convs (groups == Cin == Cout)
 * run direct fp32 kernels in both precisions. */

/* x (N, Cin, L), w (Cout, Cin/groups, K), bias (Cout) or NULL -> (N, Cout, Lout). */
nc_tensor *nc_conv1d(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                     const nc_conv_params *p);
/* x (N, Cin, H, W), w (Cout, Cin/groups, KH, KW) -> (N, Cout, Hout, Wout). */
nc_tensor *nc_conv2d(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                     const nc_conv_params *p);
/* relu(nc_conv2d(...)) in one op (the ReLU applied in place, its mask taken
 * from the output in backward): ConvSubsampling's Conv2d + ReLU pairs. */
nc_tensor *nc_conv2d_relu(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                          const nc_conv_params *p);
/* Channels-last conv2d: x (N, H, W, Cin), w (Cout, Cin/groups, KH, KW) as
 * nc_conv2d -> (N, Hout, Wout, Cout), with the ReLU fused when `relu`. The
 * same arithmetic as permuting to NCHW, nc_conv2d[_relu], permuting back,
 * but on oneDNN's NHWC convolution kernels (fp32, or bf16 inputs under
 * NC_PREC_BF16) where the engine is oneDNN; ConvSubsampling runs on it. */
nc_tensor *nc_conv2d_cl(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                        const nc_conv_params *p, bool relu);
/* x (N, Cin, L), w (Cin, Cout/groups, K) -> (N, Cout, (L-1)s - pl - pr + d(K-1) + op + 1);
 * pad_left[0] is torch's `padding` (pad_right[0] must equal it). */
nc_tensor *nc_conv_transpose1d(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                               const nc_conv_params *p);
/* x (N, C, L) pooled along L (padding with -inf for max, zeros for avg);
 * ceil_mode off, 0 <= padding <= kernel/2, stride <= 0 means stride = kernel. */
nc_tensor *nc_max_pool1d(nc_ctx *ctx, nc_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
nc_tensor *nc_avg_pool1d(nc_ctx *ctx, nc_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                         bool count_include_pad);

/* ---- recurrent (ops_lstm.c) ---- */
/* torch.nn.LSTM (batch_first=False, unidirectional): x (T, B, I); layer l has
 * w_ih (4H, in), w_hh (4H, H), b_ih, b_hh (4H) (biases may be NULL), gate
 * order i, f, g, o. h0/c0 (L, B, H) may be NULL (zeros). Returns y (T, B, H)
 * and writes h_n, c_n (L, B, H) when the pointers are non-NULL. */
typedef struct nc_lstm_weights {
    nc_tensor *w_ih, *w_hh, *b_ih, *b_hh;
} nc_lstm_weights;
nc_tensor *nc_lstm(nc_ctx *ctx, nc_tensor *x, int num_layers, const nc_lstm_weights *layers,
                   nc_tensor *h0, nc_tensor *c0, nc_tensor **h_n, nc_tensor **c_n);

/* ---- attention helpers (ops_attention.c) ---- */
/* Transformer-XL relative shift as NeMo's RelPositionMultiHeadAttention.rel_shift
 * followed by [..., :T]: x (..., T, 2T-1) with positions T-1 ... -(T-1) on the
 * last dim -> y (..., T, T), y[i][j] = x[i][j + T-1-i]. */
nc_tensor *nc_rel_shift(nc_ctx *ctx, nc_tensor *x);

/* Fused multi-head scaled dot-product attention (src/backend/cpu/attention.h
 * has the formulas), optionally with NeMo's relative positions:
 *   q, k, v (B, T, H*d_k) as the linear projections give them (head h in
 *   columns h*d_k .. (h+1)*d_k, NeMo's view(n, -1, h, d_k)); pos NULL or
 *   (2T-1, H*d_k) / (1, 2T-1, H*d_k): linear_pos of the relative positional
 *   embeddings for positions T-1 ... -(T-1); bias_u/bias_v NULL or (H, d_k)
 *   (pos_bias_u/v; bias_v needs pos).
 * Returns (B, T, H*d_k), the heads merged, ready for linear_out. Equal to
 * NeMo's RelPositionMultiHeadAttention (with pos) or MultiHeadAttention
 * between the projections, with masked_fill(-10000) before and
 * masked_fill(0) after the softmax, attention dropout 0. Keeps only the
 * probabilities (B, H, T, T) for backward. */
typedef struct nc_attention_params {
    int64_t n_heads;
    float scale;            /* <= 0: 1/sqrt(d_k) */
    const int64_t *lengths; /* (B) valid frames (keys past them masked), or NULL */
    bool mask_queries;      /* also mask query rows past the length (Conformer's att_mask) */
    bool causal;            /* mask keys after the query (decoders; not with pos) */
} nc_attention_params;
nc_tensor *nc_attention(nc_ctx *ctx, nc_tensor *q, nc_tensor *k, nc_tensor *v, nc_tensor *pos,
                        nc_tensor *bias_u, nc_tensor *bias_v, const nc_attention_params *p);

/* ---- fused ops for (B, T, C) activations (ops_fused.c, ops_norm_cl.c) ----
 * Each computes what a chain of the ops above computes, in one pass and
 * without transposes (tests/unit/test_fused_ops.c compares them). */
/* a + alpha * dropout(b, p) (same shape): NeMo's residual x + alpha * dropout(f(x)).
 * Draws the same noise as nc_dropout(b, p); no dropout in eval mode. */
nc_tensor *nc_add_dropout(nc_ctx *ctx, nc_tensor *a, nc_tensor *b, float p, float alpha);
/* dropout(silu(x), p) (NeMo's feed-forward: linear1, Swish, dropout); the
 * same noise as nc_dropout, no dropout in eval mode; p < 1. */
nc_tensor *nc_silu_dropout(nc_ctx *ctx, nc_tensor *x, float p);
/* GLU over the last dim of x (B, T, 2C) -> (B, T, C), frames t >= lengths[b]
 * set to 0 (ConformerConvolution: glu(dim=1), masked_fill(pad_mask, 0));
 * lengths NULL: no mask. */
nc_tensor *nc_glu_mask(nc_ctx *ctx, nc_tensor *x, const int64_t *lengths);
/* Depthwise conv1d over time on x (B, T, C): w (C, 1, K), bias (C) or NULL,
 * stride 1, zero padding -> (B, T + pad_left + pad_right - K + 1, C); what
 * transpose(1, 2), nc_conv1d(groups = C), transpose(1, 2) computes. */
nc_tensor *nc_dwconv1d_tc(nc_ctx *ctx, nc_tensor *x, nc_tensor *w, nc_tensor *bias,
                          int64_t pad_left, int64_t pad_right);
/* nc_batch_norm over the LAST dim of x (..., C) (channels-last), then SiLU
 * when silu is set. Same statistics, running-stat update and eval rule. */
nc_tensor *nc_batch_norm_cl(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, nc_tensor *bias,
                            nc_tensor *running_mean, nc_tensor *running_var,
                            nc_tensor *num_batches_tracked, float momentum, float eps, bool silu);

/* ---- language-model ops (ops_llm.c) ---- */
/* RMSNorm over the last dim: x * rsqrt(mean(x^2) + eps) * weight (weight (C) or NULL). */
nc_tensor *nc_rms_norm(nc_ctx *ctx, nc_tensor *x, nc_tensor *weight, float eps);
/* Rotary position embedding (Megatron-core's non-interleaved "rotate half"
 * layout) on the first rot_dim dims of each head of x (B, T, n_heads*hd).
 * Positions: positions[b*T + t] when given (int64, B*T), else pos0 + t. */
typedef struct nc_rope_params {
    int64_t n_heads, rot_dim;
    double base; /* rotary_base, 10000 */
    int64_t pos0;
    const int64_t *positions;
} nc_rope_params;
nc_tensor *nc_rope(nc_ctx *ctx, nc_tensor *x, const nc_rope_params *p);
/* x (..., 2F) -> silu(x[..., :F]) * x[..., F:] (Megatron's swiglu on [gate; up]). */
nc_tensor *nc_swiglu(nc_ctx *ctx, nc_tensor *x);
/* Generation attention (no backward: gradients must be off): q (B, Tn,
 * n_heads*hd) over caches (B, cap, G*hd) whose positions [0, past + Tn) are
 * filled (the new tokens' keys at past..); query t sees keys <= past + t;
 * head h reads group h / (n_heads / G). scale <= 0: 1/sqrt(hd). */
nc_tensor *nc_attention_cached(nc_ctx *ctx, nc_tensor *q, const nc_tensor *k_cache, const nc_tensor *v_cache,
                               int64_t past, int64_t n_heads, float scale);

/* ---- activation checkpointing (ops_checkpoint.c) ---- */
/* A segment of the network: one output from up to 8 inputs. It may run
 * twice (forward, then again in backward), so it must compute the same
 * thing both times and keep no state of its own between them. */
typedef nc_tensor *(*nc_checkpoint_fn)(nc_ctx *ctx, void *user, nc_tensor *const *in);
/* fn(in) without keeping its activations: they are recomputed in backward.
 * Dropout inside sees the same random draws both times. With gradients off
 * (or no input needing one) it is simply fn(ctx, user, in). */
nc_tensor *nc_checkpoint(nc_ctx *ctx, nc_checkpoint_fn fn, void *user, int n_in, nc_tensor *const *in);

/* ---- registry ---- */
/* Names of every op that records a backward; the gradient test suite must
 * hold an entry for each (tests/unit/test_gradcheck.c). */
const char *const *nc_op_names(int *count);

#ifdef __cplusplus
}
#endif
#endif
