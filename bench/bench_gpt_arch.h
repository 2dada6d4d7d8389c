/* The two MegatronGPTModel shapes of the LLM benchmarks (bench_gpt.c,
 * bench_gpt_generate.c; their PyTorch twins in bench/torch/ mirror them), as
 * model sections with NeMo's megatron_gpt_config.yaml keys, and the
 * helpers both programs share (header-only, bench/ only).
 *
 *   gpt2:  GPT-2 124M (NeMo's megatron_gpt_config.yaml defaults): 12 layers,
 *          hidden 768, 12 heads, ffn 3072, vocab 50257 padded to 50304,
 *          learned_absolute positions (1024), layernorm, gelu (tanh, fused
 *          with the bias), bias, head tied to the embedding, hidden_dropout
 *          0.1, attention_dropout 0.
 *   llama: a Llama-style model of similar size: 12 layers, hidden 768,
 *          12 heads in 4 query groups, ffn 2048, rmsnorm, fast-swiglu, rope,
 *          no bias, untied output layer, vocab 32000, no dropout. */
#ifndef NC_BENCH_GPT_ARCH_H
#define NC_BENCH_GPT_ARCH_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nemoc/alloc.h"
#include "nemoc/collections.h"
#include "nemoc/config.h"
#include "nemoc/llm_gpt.h"
#include "nemoc/model.h"
#include "nemoc/npy.h"
#include "nemoc/safetensors.h"

typedef struct bench_arch {
    const char *name;
    int64_t layers, hidden, heads, groups, ffn, vocab, max_pos;
    const char *norm, *act, *pos;
    int bias, tied;
    double hidden_dropout;
} bench_arch;

/* The arch by name (NULL if unknown); layers > 0 overrides the depth. */
static inline const bench_arch *bench_arch_find(const char *name) {
    static const bench_arch arches[] = {
        {"gpt2", 12, 768, 12, 12, 3072, 50257, 1024, "layernorm", "gelu", "learned_absolute", 1, 1, 0.1},
        {"llama", 12, 768, 12, 4, 2048, 32000, 4096, "rmsnorm", "fast-swiglu", "rope", 0, 0, 0.0},
    };
    for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
        if (!strcmp(arches[i].name, name)) return &arches[i];
    return NULL;
}

/* Builds the model (seed 1234, NeMo's init_method_std 0.02) for sequences
 * of seq tokens; dropout < 0 keeps the arch's hidden_dropout. */
static inline nc_status bench_arch_build(const bench_arch *a, int64_t layers, int64_t seq, double dropout,
                                         nc_model **out) {
    char y[2048];
    int n = snprintf(y, sizeof y,
                     "mcore_gpt: true\nmicro_batch_size: 1\nglobal_batch_size: 1\n"
                     "encoder_seq_length: %lld\nmax_position_embeddings: %lld\nnum_layers: %lld\n"
                     "hidden_size: %lld\nffn_hidden_size: %lld\nnum_attention_heads: %lld\n"
                     "num_query_groups: %lld\ninit_method_std: 0.02\nhidden_dropout: %g\n"
                     "attention_dropout: 0.0\nffn_dropout: 0.0\nnormalization: %s\nlayernorm_epsilon: 1e-5\n"
                     "bias: %s\nactivation: %s\nposition_embedding_type: %s\nrotary_base: 10000\n"
                     "share_embeddings_and_output_weights: %s\nmake_vocab_size_divisible_by: 128\n"
                     "override_vocab_size: %lld\n",
                     (long long)seq, (long long)(a->max_pos > seq ? a->max_pos : seq),
                     (long long)(layers > 0 ? layers : a->layers), (long long)a->hidden, (long long)a->ffn,
                     (long long)a->heads, (long long)a->groups, dropout < 0 ? a->hidden_dropout : dropout, a->norm,
                     a->bias ? "true" : "false", a->act, a->pos, a->tied ? "true" : "false", (long long)a->vocab);
    if (n <= 0 || (size_t)n >= sizeof y) return nc_error(NC_ERR_INVALID_ARG, "bench: model section too long");
    nc_cfg *cfg = NULL;
    nc_status s = nc_register_collections();
    if (!s) s = nc_cfg_parse(y, (size_t)n, "bench model", &cfg);
    if (!s) s = nc_model_create(cfg, "MegatronGPTModel", &(nc_model_build_args){.seed = 1234}, out);
    nc_cfg_free(cfg);
    return s;
}

/* Writes the parameters (NeMo's .nemo state_dict names) to
 * DIR/weights.safetensors for the PyTorch twins. */
static inline nc_status bench_save_weights(const nc_model *m, const char *dir) {
    mkdir(dir, 0755);
    char path[4096];
    const int64_t n = nc_params_count(m->params);
    nc_st_entry *e = nc_calloc((size_t)n, sizeof *e);
    if (!e) return nc_error(NC_ERR_OOM, "bench: save");
    for (int64_t i = 0; i < n; i++)
        e[i] = (nc_st_entry){.name = nc_params_at(m->params, i)->name, .tensor = nc_params_at(m->params, i)};
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    nc_status s = nc_st_save(path, e, n, NULL);
    nc_free(e);
    return s;
}

/* Writes n int64 ids as DIR/NAME (.npy), shaped (d0, d1) or (d0,) if d1 = 0. */
static inline nc_status bench_save_ids(const char *dir, const char *name, const int64_t *ids, int64_t d0,
                                       int64_t d1) {
    char path[4096];
    nc_tensor t;
    if (d1) nc_tensor_init(&t, NC_I64, NC_DIMS(d0, d1), (void *)ids);
    else nc_tensor_init(&t, NC_I64, NC_DIMS(d0), (void *)ids);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return nc_npy_save(path, &t);
}

#endif
