/* Modules: structs of named parameters plus a forward function.
 *
 * A module's init function declares its tensors in an nc_params under NeMo's
 * state_dict names (prefix + ".weight", ...) together with PyTorch's default
 * initialiser, so nc_params_initialize gives torch-like weights and NeMo
 * checkpoints load 1:1. Forward functions are ops composed on the tape. */
#ifndef NEMOC_NN_H
#define NEMOC_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/ctx.h"
#include "nemoc/ops.h"
#include "nemoc/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "prefix.suffix" (or "suffix" for an empty prefix) into buf. */
const char *nc_nn_name(char *buf, size_t len, const char *prefix, const char *suffix);

/* Declares a trainable tensor `prefix.suffix` with an initialiser; NULL on failure. */
nc_tensor *nc_nn_param(nc_params *p, const char *prefix, const char *suffix, int ndim,
                       const int64_t *shape, nc_init init);
nc_tensor *nc_nn_buffer(nc_params *p, const char *prefix, const char *suffix, nc_dtype dt,
                        int ndim, const int64_t *shape, nc_init init);

/* torch.nn.Linear: weight (out, in), bias (out); U(-1/sqrt(in), 1/sqrt(in)) for both. */
typedef struct nc_linear_m {
    nc_tensor *weight, *bias;
} nc_linear_m;
nc_status nc_linear_init(nc_linear_m *m, nc_params *p, const char *prefix, int64_t in, int64_t out,
                         bool bias);
nc_tensor *nc_linear_fwd(nc_ctx *ctx, const nc_linear_m *m, nc_tensor *x);

/* torch.nn.LayerNorm over the last dim: weight ones, bias zeros. */
typedef struct nc_layer_norm_m {
    nc_tensor *weight, *bias;
    float eps;
} nc_layer_norm_m;
nc_status nc_layer_norm_init(nc_layer_norm_m *m, nc_params *p, const char *prefix, int64_t dim,
                             float eps);
nc_tensor *nc_layer_norm_fwd(nc_ctx *ctx, const nc_layer_norm_m *m, nc_tensor *x);

/* torch.nn.BatchNorm1d/2d with running statistics as buffers. */
typedef struct nc_batch_norm_m {
    nc_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
    float momentum, eps;
} nc_batch_norm_m;
nc_status nc_batch_norm_init(nc_batch_norm_m *m, nc_params *p, const char *prefix, int64_t channels,
                             float momentum, float eps);
nc_tensor *nc_batch_norm_fwd(nc_ctx *ctx, const nc_batch_norm_m *m, nc_tensor *x);

/* torch.nn.Conv1d / Conv2d: weight (Cout, Cin/groups, K[, K]), kaiming-uniform like torch. */
typedef struct nc_conv_m {
    nc_tensor *weight, *bias;
    nc_conv_params cp;
    int dims; /* 1 or 2 */
} nc_conv_m;
nc_status nc_conv1d_init(nc_conv_m *m, nc_params *p, const char *prefix, int64_t cin, int64_t cout,
                         int64_t kernel, const nc_conv_params *cp, bool bias);
nc_status nc_conv2d_init(nc_conv_m *m, nc_params *p, const char *prefix, int64_t cin, int64_t cout,
                         int64_t kernel, const nc_conv_params *cp, bool bias);
nc_tensor *nc_conv_fwd(nc_ctx *ctx, const nc_conv_m *m, nc_tensor *x);

/* torch.nn.Embedding: weight (V, D) ~ N(0, 1), padding row zero. */
typedef struct nc_embedding_m {
    nc_tensor *weight;
    int64_t padding_idx; /* -1 for none */
} nc_embedding_m;
nc_status nc_embedding_init(nc_embedding_m *m, nc_params *p, const char *prefix, int64_t num,
                            int64_t dim, int64_t padding_idx);
nc_tensor *nc_embedding_fwd(nc_ctx *ctx, const nc_embedding_m *m, nc_tensor *idx);

/* Standard multi-head self-attention with separate q/k/v/out projections
 * (NeMo's MultiHeadAttention names: linear_q, linear_k, linear_v, linear_out). */
typedef struct nc_mha_m {
    nc_linear_m linear_q, linear_k, linear_v, linear_out;
    int64_t n_head, d_model;
    float dropout_att;
    bool causal; /* decoder self-attention: query t sees keys <= t (false after init) */
} nc_mha_m;
nc_status nc_mha_init(nc_mha_m *m, nc_params *p, const char *prefix, int64_t d_model,
                      int64_t n_head, float dropout_att, bool bias);
/* x (B, T, d); pad_mask (B, T) uint8 with 1 on padded frames, or NULL.
 * Runs the fused attention op (nc_attention) unless attention dropout is
 * active or the padding is not a suffix of each row; the composed ops
 * otherwise (same result). */
nc_tensor *nc_mha_fwd(nc_ctx *ctx, const nc_mha_m *m, nc_tensor *x, nc_tensor *pad_mask);

/* Pre-LN Transformer encoder layer: x += attn(norm1(x)); x += linear2(gelu(linear1(norm2(x)))). */
typedef struct nc_tfm_layer_m {
    nc_layer_norm_m norm1, norm2;
    nc_mha_m self_attn;
    nc_linear_m linear1, linear2;
    float dropout;
} nc_tfm_layer_m;

typedef struct nc_tfm_encoder_m {
    nc_tfm_layer_m *layers; /* n_layers entries, owned */
    int n_layers;
    nc_layer_norm_m norm_out;
} nc_tfm_encoder_m;

/* Names: prefix.layers.{i}.{norm1,self_attn.linear_q,...,linear1,linear2}, prefix.norm_out. */
nc_status nc_tfm_encoder_init(nc_tfm_encoder_m *m, nc_params *p, const char *prefix, int n_layers,
                              int64_t d_model, int64_t n_head, int64_t d_ff, float dropout);
void nc_tfm_encoder_free(nc_tfm_encoder_m *m);
/* Makes every layer's self-attention causal (a GPT-style decoder stack) and
 * sets its attention-probability dropout (init uses `dropout` for both). */
void nc_tfm_encoder_set_attention(nc_tfm_encoder_m *m, bool causal, float dropout_att);
/* x (B, T, d), pad_mask (B, T) uint8 or NULL -> (B, T, d) after norm_out. */
nc_tensor *nc_tfm_encoder_fwd(nc_ctx *ctx, const nc_tfm_encoder_m *m, nc_tensor *x,
                              nc_tensor *pad_mask);

/* Splits (B, T, H*dk) into heads (B, H, T, dk) and back. */
nc_tensor *nc_split_heads(nc_ctx *ctx, nc_tensor *x, int64_t n_head);
nc_tensor *nc_merge_heads(nc_ctx *ctx, nc_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
