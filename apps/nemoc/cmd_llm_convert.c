/* `nemoc llm import-hf` / `nemoc llm export-hf`: Hugging Face GPT-2 / Llama
 * folders to and from MegatronGPTModel .nemo files (NeMo's
 * scripts/checkpoint_converters/convert_llama_hf_to_nemo.py and
 * convert_llama_nemo_to_hf.py). The work is in src/llm/convert/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nemoc/llm_convert.h"

static int parse_count(const char *cmd, const char *key, const char *v, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || !*v || *end || n <= 0) {
        fprintf(stderr, "nemoc llm %s: %s='%s': expected a positive integer\n", cmd, key, v);
        return 2;
    }
    *out = n;
    return 0;
}

static void print_report(const char *what, const char *dst, const nc_hf_report *r) {
    printf("%s: %s model, %lld tensors, vocabulary %lld (embedding rows %lld), tokenizer %s -> %s\n", what,
           r->model_type, (long long)r->n_tensors, (long long)r->vocab_size, (long long)r->padded_vocab,
           r->tokenizer_library ? r->tokenizer_library : "none", dst);
}

int nc_cmd_llm_import_hf(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    nc_hf_import_params p = nc_hf_import_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: nemoc llm import-hf DIR out=MODEL.nemo [dtype=auto|fp32|bf16|fp16]\n"
                   "                          [make_vocab_size_divisible_by=N]\n\n"
                   "Converts a Hugging Face GPT-2 or Llama/Mistral folder (config.json; model.safetensors\n"
                   "or its sharded index, else pytorch_model.bin or its sharded index; tokenizer.model,\n"
                   "vocab.json + merges.txt, tokenizer.json) into a MegatronGPTModel .nemo for tensor and\n"
                   "pipeline parallel size 1 (Megatron-core names), as NeMo's\n"
                   "convert_llama_hf_to_nemo.py does. dtype: of the written weights (auto: the\n"
                   "checkpoint's). make_vocab_size_divisible_by: by default NeMo's converters' choice\n"
                   "(the largest power of two <= 128 dividing vocab_size: no padding rows); N pads the\n"
                   "embedding and output layer with zero rows to a multiple of N. docs/llm_checkpoints.md\n");
            return 0;
        }
        if (!strncmp(a, "out=", 4)) out = a + 4;
        else if (!strncmp(a, "dtype=", 6)) {
            if (nc_ckpt_dtype_parse(a + 6, &p.dtype)) {
                fprintf(stderr, "nemoc llm import-hf: %s\n", nc_last_error());
                return 2;
            }
        } else if (!strncmp(a, "make_vocab_size_divisible_by=", 29)) {
            int rc = parse_count("import-hf", "make_vocab_size_divisible_by", a + 29, &p.make_vocab_size_divisible_by);
            if (rc) return rc;
        } else if (!strchr(a, '=') && !dir) dir = a;
        else {
            fprintf(stderr, "nemoc llm import-hf: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "nemoc llm import-hf: need an HF folder and out=MODEL.nemo (see --help)\n");
        return 2;
    }
    nc_hf_report r;
    if (nc_llm_import_hf(dir, out, &p, &r)) {
        fprintf(stderr, "nemoc llm import-hf: %s\n", nc_last_error());
        return 1;
    }
    print_report("import-hf", out, &r);
    return 0;
}

int nc_cmd_llm_export_hf(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    nc_hf_export_params p = nc_hf_export_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: nemoc llm export-hf model=MODEL.nemo out=DIR [dtype=auto|fp32|bf16|fp16]\n"
                   "                          [vocab_size=V]\n\n"
                   "Writes a MegatronGPTModel .nemo (tensor/pipeline parallel size 1, Megatron-core names;\n"
                   "Transformer Engine norm names accepted) as a Hugging Face folder: config.json\n"
                   "(gpt2 for learned_absolute + layernorm + gelu, llama for rope + rmsnorm + swiglu;\n"
                   "anything else is refused by key), model.safetensors and the tokenizer files.\n"
                   "The padded vocabulary rows are dropped back to vocab_size (default: the tokenizer's\n"
                   "size when nemoc reads it, else every row is kept). docs/llm_checkpoints.md\n");
            return 0;
        }
        if (!strncmp(a, "model=", 6)) model = a + 6;
        else if (!strncmp(a, "out=", 4)) out = a + 4;
        else if (!strncmp(a, "dtype=", 6)) {
            if (nc_ckpt_dtype_parse(a + 6, &p.dtype)) {
                fprintf(stderr, "nemoc llm export-hf: %s\n", nc_last_error());
                return 2;
            }
        } else if (!strncmp(a, "vocab_size=", 11)) {
            int rc = parse_count("export-hf", "vocab_size", a + 11, &p.vocab_size);
            if (rc) return rc;
        } else {
            fprintf(stderr, "nemoc llm export-hf: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!model || !out) {
        fprintf(stderr, "nemoc llm export-hf: need model=MODEL.nemo and out=DIR (see --help)\n");
        return 2;
    }
    nc_hf_report r;
    if (nc_llm_export_hf(model, out, &p, &r)) {
        fprintf(stderr, "nemoc llm export-hf: %s\n", nc_last_error());
        return 1;
    }
    print_report("export-hf", out, &r);
    return 0;
}
