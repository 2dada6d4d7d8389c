/* MegatronGPTModel internals shared by the files of src/llm/gpt/. */
#ifndef NC_LLM_GPT_H
#define NC_LLM_GPT_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/config.h"
#include "nemoc/llm_gpt.h"
#include "nemoc/model.h"
#include "nemoc/ops.h"
#include "nemoc/tokenizer.h"

typedef enum gpt_pos { GPT_POS_LEARNED = 0, GPT_POS_ROPE, GPT_POS_NONE } gpt_pos;
typedef enum gpt_norm { GPT_NORM_LAYERNORM = 0, GPT_NORM_LAYERNORM1P, GPT_NORM_RMSNORM } gpt_norm;
typedef enum gpt_act { GPT_ACT_GELU = 0, GPT_ACT_SWIGLU, GPT_ACT_SQUARED_RELU, GPT_ACT_RELU } gpt_act;

/* The architecture, from NeMo's megatron_gpt_config.yaml `model:` keys. */
typedef struct gpt_config {
    int64_t num_layers, hidden, ffn, heads, groups, kv_channels;
    int64_t seq_length, max_pos;
    int64_t vocab, padded_vocab; /* tokenizer's (or override_vocab_size) and padded */
    gpt_pos pos;
    double rotary_base, rotary_percentage;
    int64_t rot_dim; /* kv_channels * rotary_percentage */
    gpt_norm norm;
    float eps;
    gpt_act act;
    bool gelu_tanh; /* Megatron's fused bias-gelu (bias + gelu) is the tanh approximation */
    bool bias, tied;
    float hidden_dropout, attention_dropout, ffn_dropout;
    double init_std;
    bool scaled_init; /* use_scaled_init_method: output layers std / sqrt(2 L) */
    int ckpt_granularity; /* 0 none, 1 selective, 2 full */
    bool ckpt_block;      /* activations_checkpoint_method: block (else uniform) */
    int64_t ckpt_layers;  /* activations_checkpoint_num_layers */
    int64_t micro_batch_size, global_batch_size;
} gpt_config;

nc_status nc_gpt_config_parse(const nc_cfg *model, int64_t tokenizer_vocab, gpt_config *c);

typedef struct gpt_layer {
    nc_tensor *ln1_w, *ln1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    nc_tensor *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} gpt_layer;

/* A key/value cache for generation: per layer (B, cap, groups * kv) keys
 * and values after RoPE, `len` positions filled. */
typedef struct gpt_kv_cache {
    float *k, *v; /* num_layers blocks of B * cap * G * kv */
    int64_t B, cap, len;
} gpt_kv_cache;

typedef struct nc_gpt {
    gpt_config c;
    nc_tensor *wte, *wpe, *out_w, *lnf_w, *lnf_b;
    gpt_layer *layers;
    nc_tokenizer *tok; /* NULL when the config names none */
    int32_t eos_id, bos_id;
    struct gpt_data *data; /* the three splits, built with the training source */
    int64_t trainer_max_steps, trainer_val_check, trainer_limit_val, trainer_limit_test;
} nc_gpt;

/* Final hidden states (B, T, hidden) of tokens (B*T int64). With a cache,
 * positions start at cache->len, keys/values are appended and attention runs
 * over the cached positions too (no grad). */
nc_tensor *nc_gpt_hidden(nc_ctx *ctx, const nc_gpt *g, const int64_t *tokens, int64_t B, int64_t T,
                         gpt_kv_cache *cache);
/* Logits (B, T, padded_vocab) from hidden states. */
nc_tensor *nc_gpt_logits(nc_ctx *ctx, const nc_gpt *g, nc_tensor *h);

nc_status nc_gpt_cache_init(const nc_gpt *g, int64_t B, int64_t cap, gpt_kv_cache *c);
void nc_gpt_cache_free(gpt_kv_cache *c);

/* gpt_data.c */
typedef nc_gpt_batch gpt_batch;

nc_status nc_gpt_setup_data(nc_model *m, const nc_cfg *ds, nc_data_role role, const nc_data_env *env,
                            nc_data_source **out);
void nc_gpt_data_free(struct gpt_data *d);

#endif
