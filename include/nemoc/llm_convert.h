/* Hugging Face <-> NeMo checkpoint conversion for GPT-2 and Llama-style
 * models (the work of NeMo's scripts/checkpoint_converters/
 * convert_llama_hf_to_nemo.py / convert_llama_nemo_to_hf.py and
 * convert_starcoder_hf_to_nemo.py, and of NeMo 2's HF importers/exporters).
 *
 * An HF folder is config.json, model.safetensors (or the shards named by
 * model.safetensors.index.json) and its tokenizer files (tokenizer.model,
 * vocab.json + merges.txt, tokenizer.json). A .nemo is MegatronGPTModel's
 * archive for tensor/pipeline parallel size 1: model_config.yaml,
 * model_weights.ckpt under Megatron core's state_dict names ("model." +
 * GPTModel key, local-spec norm names) and the tokenizer files as
 * artifacts. docs/llm_checkpoints.md describes the mapping. */
#ifndef NEMOC_LLM_CONVERT_H
#define NEMOC_LLM_CONVERT_H

#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_ckpt_dtype {
    NC_CKPT_DTYPE_AUTO = 0, /* keep the source checkpoint's dtype */
    NC_CKPT_DTYPE_FP32,
    NC_CKPT_DTYPE_BF16,
    NC_CKPT_DTYPE_FP16,
} nc_ckpt_dtype;

/* "fp32" (also "32", "float32"), "bf16" ("bfloat16"), "fp16" ("16",
 * "float16"), "auto". */
nc_status nc_ckpt_dtype_parse(const char *s, nc_ckpt_dtype *out);

typedef struct nc_hf_import_params {
    nc_ckpt_dtype dtype;
    /* 0: NeMo's converters' choice, the largest power of two <= 128 that
     * divides vocab_size, so the embedding keeps exactly vocab_size rows.
     * N > 0: make_vocab_size_divisible_by = N and the embedding (and output
     * layer) padded with zero rows up to a multiple of N, as Megatron pads. */
    int64_t make_vocab_size_divisible_by;
} nc_hf_import_params;

typedef struct nc_hf_export_params {
    nc_ckpt_dtype dtype;
    /* Rows kept of the (padded) embedding and output layer. 0: the
     * tokenizer's vocabulary size when nemoc reads the tokenizer artifact
     * and it is not larger than the embedding, otherwise every row. */
    int64_t vocab_size;
} nc_hf_export_params;

/* What a conversion did, for the CLI's summary line. */
typedef struct nc_hf_report {
    const char *model_type; /* "gpt2" or "llama" (static) */
    int64_t n_tensors;      /* tensors written */
    int64_t vocab_size;     /* HF rows */
    int64_t padded_vocab;   /* NeMo rows */
    const char *tokenizer_library; /* NeMo tokenizer library, NULL when none (static) */
} nc_hf_report;

nc_hf_import_params nc_hf_import_default_params(void);
nc_hf_export_params nc_hf_export_default_params(void);

/* HF folder -> .nemo (written atomically). `params`/`report` may be NULL. */
nc_status nc_llm_import_hf(const char *hf_dir, const char *nemo_path, const nc_hf_import_params *params,
                           nc_hf_report *report);
/* .nemo -> HF folder (created if missing; config.json, model.safetensors,
 * tokenizer files). `params`/`report` may be NULL. */
nc_status nc_llm_export_hf(const char *nemo_path, const char *out_dir, const nc_hf_export_params *params,
                           nc_hf_report *report);

#ifdef __cplusplus
}
#endif
#endif
