/* Internals of the HF <-> NeMo checkpoint converters (nemoc/llm_convert.h):
 * the architecture both sides describe, the HF weight folder, and the
 * dtype-agnostic row/column moves the tensor mappings are built from. */
#ifndef NC_LLM_CONVERT_INTERNAL_H
#define NC_LLM_CONVERT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/config.h"
#include "nemoc/llm_convert.h"
#include "nemoc/safetensors.h"
#include "nemoc/torch_ckpt.h"

typedef enum nc_hf_family { NC_HF_GPT2 = 0, NC_HF_LLAMA } nc_hf_family;

/* A Megatron-core GPT (TP=1) that HF's GPT2LMHeadModel or LlamaForCausalLM
 * also expresses. */
typedef struct nc_gpt_arch {
    nc_hf_family family;
    int64_t num_layers, hidden, ffn, heads, groups, kv; /* kv = kv_channels (head dim) */
    int64_t max_pos;                                    /* max_position_embeddings */
    int64_t vocab;                                      /* HF vocab_size (unpadded) */
    int64_t divisible_by;                               /* make_vocab_size_divisible_by */
    int64_t padded_vocab;                               /* rows of the NeMo embedding */
    double eps, rotary_base, init_std;
    bool has_init_std;
    bool tie;         /* share_embeddings_and_output_weights / tie_word_embeddings */
    bool openai_gelu; /* GPT-2: gelu_new (tanh approximation) rather than erf gelu */
    bool rotary_interleaved; /* NeMo rotary_interleaved: RoPE on adjacent channel pairs */
    nc_dtype dtype;   /* of the source tensors */
} nc_gpt_arch;

/* config.json -> arch (`path` names errors). */
nc_status nc_hf_config_read(const char *path, nc_gpt_arch *a);
/* arch -> config.json text (nc_free). */
nc_status nc_hf_config_write(const nc_gpt_arch *a, char **json);
/* A NeMo model config (model_config.yaml's root) -> arch; refuses what HF's
 * gpt2/llama classes cannot express, naming the key. */
nc_status nc_nemo_gpt_arch(const nc_cfg *cfg, nc_gpt_arch *a);

/* The tokenizer files of an HF folder, carried as .nemo artifacts. */
enum { NC_TOK_MODEL = 0, NC_TOK_VOCAB, NC_TOK_MERGES, NC_TOK_JSON, NC_TOK_COUNT };
extern const char *const nc_tok_file[NC_TOK_COUNT];    /* "tokenizer.model", "vocab.json", ... */
extern const char *const nc_tok_cfg_key[NC_TOK_COUNT]; /* "model", "vocab_file", ... */
/* NeMo's tokenizer library for the files present ("sentencepiece",
 * "megatron", "huggingface"); NULL when none. */
const char *nc_tok_library(const bool present[NC_TOK_COUNT]);
/* Vocabulary size of the tokenizer in `dir` read with nemoc's own loaders;
 * *n = -1 (and NC_OK) when no tokenizer file nemoc reads is there. */
nc_status nc_tok_vocab_size(const char *dir, const bool present[NC_TOK_COUNT], int64_t *n);
/* arch + tokenizer -> model_config.yaml text (nc_free). `tok_member` holds
 * the artifact member names (NULL when absent), `tok_vocab` the tokenizer's
 * vocabulary size or -1. */
nc_status nc_nemo_config_write(const nc_gpt_arch *a, const char *const tok_member[NC_TOK_COUNT],
                               int64_t tok_vocab, const char *precision, char **yaml);

/* Megatron's _vocab_size_with_padding for TP=1. */
int64_t nc_vocab_padded(int64_t vocab, int64_t divisible_by);
/* NeMo's converters' choice: the largest power of two <= 128 dividing vocab. */
int64_t nc_vocab_divisor(int64_t vocab);

/* The weights of an HF folder: model.safetensors, or the shards that
 * model.safetensors.index.json names; else pytorch_model.bin or the shards
 * of pytorch_model.bin.index.json (torch.save zip files). */
typedef struct nc_hf_tensor {
    const char *name;
    const char *file; /* base name, for messages */
    nc_tensor view;   /* into the mapped safetensors file or the loaded .bin tensor */
    const char *bad_dtype; /* dtype name when not F32/BF16/F16, else NULL */
    bool used;
} nc_hf_tensor;

typedef struct nc_hf_weights {
    nc_st_file **files; /* safetensors files */
    int64_t n_files;
    char **paths; /* every file opened */
    int64_t n_paths;
    nc_tensor_list bin; /* tensors of .bin files */
    nc_hf_tensor *t;
    int64_t n;
} nc_hf_weights;

nc_status nc_hf_weights_open(const char *dir, nc_hf_weights *w);
void nc_hf_weights_close(nc_hf_weights *w);
/* Copies tensor `name` as `dt` into a new heap tensor after checking its
 * shape is (d0[, d1]) (ndim 1 or 2); `why` says which config keys fixed it. */
nc_status nc_hf_weights_get(nc_hf_weights *w, const char *name, nc_dtype dt, int ndim, int64_t d0, int64_t d1,
                            const char *why, nc_tensor **out);
bool nc_hf_weights_has(const nc_hf_weights *w, const char *name);
/* The dtype of the first float tensor (the checkpoint's dtype). */
nc_dtype nc_hf_weights_dtype(const nc_hf_weights *w);
/* Errors naming the first tensor nothing consumed, unless `skip` accepts it. */
nc_status nc_hf_weights_check_used(const nc_hf_weights *w, bool (*skip)(const char *name));

/* Row moves on 2-D tensors (a 1-D tensor is (n, 1)); each returns a new heap
 * tensor of the same dtype. */
nc_status nc_rows_transpose(const nc_tensor *x, nc_tensor **out);
/* [q (heads*kv); k (groups*kv); v (groups*kv)] -> per group g: [q heads of g; k_g; v_g]
 * (Megatron core's linear_qkv layout, NeMo TransformFns.merge_qkv). */
nc_status nc_rows_qkv_merge(const nc_tensor *q, const nc_tensor *k, const nc_tensor *v, int64_t heads,
                            int64_t groups, int64_t kv, nc_tensor **out);
/* The inverse (TransformFns.split_qkv): out[0..2] = q, k, v. */
nc_status nc_rows_qkv_split(const nc_tensor *qkv, int64_t heads, int64_t groups, int64_t kv, nc_tensor *out[3]);
/* Per head of kv rows, interleaved RoPE pairs (2i, 2i+1) to rotate-half
 * rows (i, i + kv/2): transformers' convert_llama_weights_to_hf.py permute(). */
nc_status nc_rows_rope_permute(const nc_tensor *x, int64_t n_heads, int64_t kv, nc_tensor **out);
/* Rows [r0, r1) of x. */
nc_status nc_rows_slice(const nc_tensor *x, int64_t r0, int64_t r1, nc_tensor **out);
/* [a; b]. */
nc_status nc_rows_cat(const nc_tensor *a, const nc_tensor *b, nc_tensor **out);
/* x with zero rows appended up to `rows`. */
nc_status nc_rows_pad(const nc_tensor *x, int64_t rows, nc_tensor **out);
/* GPT-2's Conv1D linears ((in, out) weights) and their Megatron-core names;
 * in_ffn / out_ffn: that side is ffn wide (else hidden). */
typedef struct nc_gpt2_linear {
    const char *hf, *nemo;
    int in_ffn, out_ffn;
} nc_gpt2_linear;
extern const nc_gpt2_linear nc_gpt2_linears[3];

/* A heap copy converted to dt. */
nc_status nc_tensor_as(const nc_tensor *x, nc_dtype dt, nc_tensor **out);

#endif
