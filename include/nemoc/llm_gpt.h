/* The LLM collection: NeMo's MegatronGPTModel (GPT-2-, Llama- and
 * Nemotron-style decoders built from megatron_gpt_config.yaml's `model:`
 * keys, parameters named as a TP=1/PP=1 Megatron-core .nemo state_dict),
 * trained through the one training driver and used for generation. */
#ifndef NEMOC_LLM_GPT_H
#define NEMOC_LLM_GPT_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const nc_model_class nc_gpt_model_class;

/* A training batch as the model's data source hands it to training_step
 * (also for tools and benchmarks that drive the model directly). */
typedef struct nc_gpt_batch {
    int64_t B, T;
    int64_t *tokens, *labels; /* (B, T); labels -100 where the loss is masked */
    int64_t n_loss;           /* tokens that count */
    int64_t end;              /* batches of the plan consumed */
} nc_gpt_batch;

/* Registers the LLM collection's classes. */
nc_status nc_llm_register(void);

/* Gradient accumulation for Megatron's batch keys: global_batch_size /
 * (micro_batch_size * world_size), which must divide exactly. */
nc_status nc_gpt_accumulation(const nc_model *m, int world_size, int64_t *accumulate);

/* ---- generation (megatron_gpt_eval.py / text_generation_utils.py) ---- */
typedef struct nc_gen_params {
    int64_t max_new_tokens;   /* tokens_to_generate */
    int64_t min_new_tokens;   /* min_tokens_to_generate: eos suppressed before */
    bool greedy;
    double temperature;       /* 1.0 */
    int64_t top_k;            /* 0: off */
    double top_p;             /* 1.0: off */
    double repetition_penalty; /* 1.0: off */
    uint64_t seed;
    const char *const *stop_strings; /* end_strings; NULL-ended or NULL */
    bool stop_at_eos;
    bool bf16; /* weights read as bf16 copies made once (half the bytes per token) */
} nc_gen_params;

nc_gen_params nc_gen_default_params(void);

/* Called for each new token of sequence b (text piece may be NULL for a
 * model without a tokenizer); return non-zero to stop that sequence. */
typedef int (*nc_gen_token_fn)(void *user, int64_t b, int32_t id, const char *piece);

typedef struct nc_gen_stats {
    int64_t prompt_tokens, new_tokens;
    double prompt_s, decode_s;
} nc_gen_stats;

/* Continues B prompts (ids[b], n[b] tokens each) with a KV cache. out_ids[b]
 * (nc_malloc'd, free with nc_free) gets the generated ids, out_n[b] their
 * count. */
nc_status nc_gpt_generate(nc_model *m, int64_t B, const int32_t *const *ids, const int64_t *n,
                          const nc_gen_params *p, nc_gen_token_fn on_token, void *user, int32_t **out_ids,
                          int64_t *out_n, nc_gen_stats *stats);

/* ---- baselines (gpt_baseline.c) ---- */
/* Unigram (add-one) and bigram (interpolated Kneser-Ney) perplexities of
 * the validation split of model_cfg's data (one data prefix), counted on its
 * training split's documents and scored on the same next-token predictions
 * the model's validation makes (micro_batch_size batches, drop_last). */
typedef struct nc_gpt_baseline {
    double unigram_ppl, bigram_ppl;
    int64_t tokens;       /* predictions scored */
    int64_t train_tokens; /* tokens counted */
} nc_gpt_baseline;
nc_status nc_gpt_ngram_baseline(const nc_cfg *model_cfg, int64_t vocab, nc_gpt_baseline *out);

/* The longest sequence (prompt + generated) nc_gpt_generate runs:
 * max_position_embeddings with learned positions, else the larger of it and
 * encoder_seq_length. */
int64_t nc_gpt_context(const nc_model *m);

/* The model's tokenizer (NULL when its config names none). */
const struct nc_tokenizer *nc_gpt_tokenizer(const nc_model *m);

#ifdef __cplusplus
}
#endif
#endif
