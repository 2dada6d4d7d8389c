/* MegatronGPTModel's model_config.yaml <-> nc_gpt_arch, and the tokenizer
 * section. The keys written are those of NeMo's
 * examples/nlp/language_modeling/conf/megatron_gpt_config.yaml /
 * megatron_llama_config.yaml `model:` section that MegatronGPTModel and
 * MegatronBaseModel.build_transformer_config read, set as
 * convert_llama_hf_to_nemo.py (load_config) and
 * convert_starcoder_hf_to_nemo.py (override_model_dict) set them. */
#include <stdio.h>
#include <string.h>

#include "llm/convert/convert_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/tokenizer.h"

const char *const nc_tok_file[NC_TOK_COUNT] = {"tokenizer.model", "vocab.json", "merges.txt", "tokenizer.json"};
/* tokenizer.model / vocab_file / merge_file are the artifacts NeMo's
 * MegatronBaseModel._build_tokenizer registers. tokenizer.json is `type`
 * with library huggingface; beside another library it rides under HF's own
 * argument name, tokenizer_file, so that export can restore it. */
const char *const nc_tok_cfg_key[NC_TOK_COUNT] = {"model", "vocab_file", "merge_file", "tokenizer_file"};

/* The precedence of NeMo's converters: a SentencePiece model (Llama 2:
 * convert_llama_hf_to_nemo.py), GPT-2's BPE files (megatron_gpt_config.yaml's
 * GPT2BPETokenizer), else the HF tokenizer (Llama 3 there). */
const char *nc_tok_library(const bool present[NC_TOK_COUNT]) {
    if (present[NC_TOK_MODEL]) return "sentencepiece";
    if (present[NC_TOK_VOCAB] && present[NC_TOK_MERGES]) return "megatron";
    if (present[NC_TOK_JSON]) return "huggingface";
    return NULL;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = nc_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

nc_status nc_tok_vocab_size(const char *dir, const bool present[NC_TOK_COUNT], int64_t *n) {
    *n = -1;
    const char *lib = nc_tok_library(present);
    if (!lib) return NC_OK;
    char *a = join(dir, nc_tok_file[!strcmp(lib, "sentencepiece") ? NC_TOK_MODEL
                                    : !strcmp(lib, "megatron")    ? NC_TOK_VOCAB
                                                                  : NC_TOK_JSON]);
    char *b = join(dir, nc_tok_file[NC_TOK_MERGES]);
    if (!a || !b) {
        nc_free(a);
        nc_free(b);
        return nc_error(NC_ERR_OOM, "out of memory");
    }
    nc_tokenizer *t = NULL;
    nc_status st = !strcmp(lib, "sentencepiece") ? nc_tokenizer_spm_load(a, &t)
                   : !strcmp(lib, "megatron")    ? nc_tokenizer_gpt2_load(a, b, &t)
                                                 : nc_tokenizer_hf_load(a, &t);
    if (st == NC_ERR_OOM) {
        nc_free(a);
        nc_free(b);
        return st;
    }
    if (st) {
        /* a tokenizer nemoc does not read still travels; only its size is unknown */
        NC_WARN("%s: %s (its vocabulary size is not checked)", a, nc_last_error());
        nc_clear_error();
    } else {
        *n = nc_tokenizer_vocab_size(t);
    }
    nc_tokenizer_free(t);
    nc_free(a);
    nc_free(b);
    return NC_OK;
}

#define SET(call)                                                                                                     \
    do {                                                                                                              \
        if ((st = (call))) goto done;                                                                                 \
    } while (0)

nc_status nc_nemo_config_write(const nc_gpt_arch *a, const char *const tok_member[NC_TOK_COUNT], int64_t tok_vocab,
                               const char *precision, char **yaml) {
    *yaml = NULL;
    nc_cfg *c = NULL;
    nc_status st = nc_cfg_new(NC_CFG_MAP, &c);
    if (st) return st;
    bool gpt2 = a->family == NC_HF_GPT2;
    size_t len;
    SET(nc_cfg_set_bool(c, "mcore_gpt", true));
    SET(nc_cfg_set_int(c, "micro_batch_size", 1));
    SET(nc_cfg_set_int(c, "global_batch_size", 1));
    SET(nc_cfg_set_int(c, "tensor_model_parallel_size", 1));
    SET(nc_cfg_set_int(c, "pipeline_model_parallel_size", 1));
    SET(nc_cfg_set_null(c, "virtual_pipeline_model_parallel_size"));
    SET(nc_cfg_set_int(c, "encoder_seq_length", a->max_pos));
    SET(nc_cfg_set_int(c, "max_position_embeddings", a->max_pos));
    SET(nc_cfg_set_int(c, "num_layers", a->num_layers));
    SET(nc_cfg_set_int(c, "hidden_size", a->hidden));
    SET(nc_cfg_set_int(c, "ffn_hidden_size", a->ffn));
    SET(nc_cfg_set_int(c, "num_attention_heads", a->heads));
    SET(nc_cfg_set_int(c, "num_query_groups", a->groups));
    SET(nc_cfg_set_int(c, "kv_channels", a->kv));
    SET(nc_cfg_set_float(c, "init_method_std", a->has_init_std ? a->init_std : 0.02));
    SET(nc_cfg_set_bool(c, "use_scaled_init_method", true));
    SET(nc_cfg_set_float(c, "hidden_dropout", 0.0));
    SET(nc_cfg_set_float(c, "attention_dropout", 0.0));
    SET(nc_cfg_set_float(c, "ffn_dropout", 0.0));
    SET(nc_cfg_set_bool(c, "apply_query_key_layer_scaling", false));
    SET(nc_cfg_set_str(c, "normalization", gpt2 ? "layernorm" : "rmsnorm"));
    SET(nc_cfg_set_float(c, "layernorm_epsilon", a->eps));
    SET(nc_cfg_set_bool(c, "do_layer_norm_weight_decay", false));
    SET(nc_cfg_set_int(c, "make_vocab_size_divisible_by", a->divisible_by));
    SET(nc_cfg_set_bool(c, "pre_process", true));
    SET(nc_cfg_set_bool(c, "post_process", true));
    SET(nc_cfg_set_bool(c, "persist_layer_norm", true));
    SET(nc_cfg_set_bool(c, "bias", gpt2));
    SET(nc_cfg_set_str(c, "activation", gpt2 ? "gelu" : "fast-swiglu"));
    /* activation_to_func (nlp/parts/utils_funcs.py): openai_gelu wins over
     * 'gelu' and is the tanh approximation, HF's gelu_new */
    SET(nc_cfg_set_bool(c, "openai_gelu", a->openai_gelu));
    SET(nc_cfg_set_bool(c, "headscale", false));
    SET(nc_cfg_set_str(c, "transformer_block_type", "pre_ln"));
    SET(nc_cfg_set_bool(c, "normalize_attention_scores", true));
    SET(nc_cfg_set_str(c, "position_embedding_type", gpt2 ? "learned_absolute" : "rope"));
    SET(nc_cfg_set_float(c, "rotary_percentage", 1.0));
    SET(nc_cfg_set_float(c, "rotary_base", a->rotary_base));
    SET(nc_cfg_set_str(c, "attention_type", "multihead"));
    SET(nc_cfg_set_bool(c, "share_embeddings_and_output_weights", a->tie));
    /* MegatronGPTModel builds override_vocab_size rows when set, otherwise
     * the tokenizer's vocab_size padded to make_vocab_size_divisible_by;
     * set only when the latter would not give the rows written. */
    if (tok_vocab < 0 || nc_vocab_padded(tok_vocab, a->divisible_by) != a->padded_vocab)
        SET(nc_cfg_set_int(c, "override_vocab_size", a->padded_vocab));
    const char *lib = NULL;
    bool present[NC_TOK_COUNT];
    for (int i = 0; i < NC_TOK_COUNT; i++) present[i] = tok_member[i] != NULL;
    lib = nc_tok_library(present);
    if (lib) {
        bool hf = !strcmp(lib, "huggingface");
        SET(nc_cfg_set_str(c, "tokenizer.library", lib));
        /* huggingface: `type` names the tokenizer.json, as nemoc's GPT model
         * and `nemoc llm preprocess --tokenizer-type` read it (NeMo's
         * AutoTokenizer wants the HF folder or hub name there instead) */
        if (!strcmp(lib, "megatron")) SET(nc_cfg_set_str(c, "tokenizer.type", "GPT2BPETokenizer"));
        else if (!hf) SET(nc_cfg_set_null(c, "tokenizer.type"));
        for (int i = 0; i < NC_TOK_COUNT; i++) {
            char key[64];
            snprintf(key, sizeof key, "tokenizer.%s", hf && i == NC_TOK_JSON ? "type" : nc_tok_cfg_key[i]);
            if (tok_member[i]) {
                size_t n = strlen(tok_member[i]) + 6;
                char *v = nc_malloc(n);
                if (!v) {
                    st = nc_error(NC_ERR_OOM, "out of memory");
                    goto done;
                }
                snprintf(v, n, "nemo:%s", tok_member[i]);
                st = nc_cfg_set_str(c, key, v);
                nc_free(v);
                if (st) goto done;
            } else if (i != NC_TOK_JSON) {
                SET(nc_cfg_set_null(c, key));
            }
        }
        SET(nc_cfg_set_null(c, "tokenizer.delimiter"));
        SET(nc_cfg_set_bool(c, "tokenizer.sentencepiece_legacy", false));
        if (hf) SET(nc_cfg_set_bool(c, "tokenizer.use_fast", true));
    }
    SET(nc_cfg_set_int(c, "native_amp_init_scale", 4294967296LL));
    SET(nc_cfg_set_int(c, "native_amp_growth_interval", 1000));
    SET(nc_cfg_set_int(c, "hysteresis", 2));
    SET(nc_cfg_set_bool(c, "fp32_residual_connection", false));
    SET(nc_cfg_set_bool(c, "fp16_lm_cross_entropy", false));
    SET(nc_cfg_set_bool(c, "megatron_amp_O2", false));
    SET(nc_cfg_set_bool(c, "bias_activation_fusion", false));
    SET(nc_cfg_set_bool(c, "bias_dropout_add_fusion", false));
    SET(nc_cfg_set_bool(c, "masked_softmax_fusion", true));
    SET(nc_cfg_set_int(c, "seed", 1234));
    SET(nc_cfg_set_bool(c, "use_cpu_initialization", false));
    SET(nc_cfg_set_bool(c, "sequence_parallel", false));
    /* the local spec's names (input_layernorm, pre_mlp_layernorm) are the
     * ones written; NeMo builds them with transformer_engine: false */
    SET(nc_cfg_set_bool(c, "transformer_engine", false));
    if (!strcmp(precision, "bf16")) SET(nc_cfg_set_str(c, "precision", "bf16"));
    else SET(nc_cfg_set_int(c, "precision", !strcmp(precision, "16") ? 16 : 32));
    SET(nc_cfg_set_str(c, "optim.name", "fused_adam"));
    SET(nc_cfg_set_float(c, "optim.lr", 2e-4));
    SET(nc_cfg_set_float(c, "optim.weight_decay", 0.01));
    SET(nc_cfg_set_str(c, "target", "nemo.collections.nlp.models.language_modeling.megatron_gpt_model.MegatronGPTModel"));
    SET(nc_cfg_emit(c, 0, yaml, &len));
done:
    nc_cfg_free(c);
    return st;
}

static nc_status refuse_str(const char *key, const char *value, const char *why) {
    return nc_error(NC_ERR_UNSUPPORTED, "model_config.yaml: %s: '%s' has no Hugging Face gpt2/llama equivalent (%s)",
                    key, value, why);
}

nc_status nc_nemo_gpt_arch(const nc_cfg *c, nc_gpt_arch *a) {
    memset(a, 0, sizeof *a);
    nc_status st;
    bool mcore, bias, openai, normalize, fusion;
    const char *pos, *norm, *act, *block;
    double rot_pct, interp;
    int64_t enc_len, experts;
    if ((st = nc_cfg_get_bool_or(c, "mcore_gpt", false, &mcore))) return st;
    if (!mcore)
        return nc_error(NC_ERR_UNSUPPORTED, "model_config.yaml: mcore_gpt: false (the pre-Megatron-core "
                                            "'model.language_model.*' layout) is not supported");
    if ((st = nc_cfg_get_int(c, "num_layers", &a->num_layers)) || (st = nc_cfg_get_int(c, "hidden_size", &a->hidden)) ||
        (st = nc_cfg_get_int(c, "ffn_hidden_size", &a->ffn)) ||
        (st = nc_cfg_get_int(c, "num_attention_heads", &a->heads)) ||
        (st = nc_cfg_get_int_or(c, "encoder_seq_length", 512, &enc_len)) ||
        (st = nc_cfg_get_int_or(c, "max_position_embeddings", enc_len, &a->max_pos)) ||
        (st = nc_cfg_get_int_or(c, "num_query_groups", a->heads, &a->groups)) ||
        (st = nc_cfg_get_float_or(c, "layernorm_epsilon", 1e-5, &a->eps)) ||
        (st = nc_cfg_get_float_or(c, "rotary_base", 10000.0, &a->rotary_base)) ||
        (st = nc_cfg_get_float_or(c, "rotary_percentage", 1.0, &rot_pct)) ||
        (st = nc_cfg_get_bool_or(c, "share_embeddings_and_output_weights", true, &a->tie)) ||
        (st = nc_cfg_get_bool_or(c, "bias", true, &bias)) || (st = nc_cfg_get_bool_or(c, "openai_gelu", false, &openai)) ||
        (st = nc_cfg_get_bool_or(c, "bias_activation_fusion", true, &fusion)) ||
        (st = nc_cfg_get_bool_or(c, "normalize_attention_scores", true, &normalize)) ||
        (st = nc_cfg_get_str_or(c, "position_embedding_type", "learned_absolute", &pos)) ||
        (st = nc_cfg_get_str_or(c, "normalization", "layernorm", &norm)) ||
        (st = nc_cfg_get_str_or(c, "activation", "gelu", &act)) ||
        (st = nc_cfg_get_str_or(c, "transformer_block_type", "pre_ln", &block)) ||
        (st = nc_cfg_get_float_or(c, "seq_len_interpolation_factor", 0.0, &interp)) ||
        (st = nc_cfg_get_int_or(c, "num_moe_experts", 0, &experts)) ||
        (st = nc_cfg_get_bool_or(c, "rotary_interleaved", false, &a->rotary_interleaved)) ||
        (st = nc_cfg_get_int_or(c, "make_vocab_size_divisible_by", 128, &a->divisible_by)))
        return nc_error_prefix(st, "model_config.yaml");
    if (a->heads <= 0 || a->groups <= 0 || a->heads % a->groups || a->hidden <= 0 || a->num_layers <= 0)
        return nc_error(NC_ERR_CONFIG, "model_config.yaml: num_attention_heads %lld / num_query_groups %lld / "
                                       "hidden_size %lld / num_layers %lld do not describe a model",
                        (long long)a->heads, (long long)a->groups, (long long)a->hidden, (long long)a->num_layers);
    if ((st = nc_cfg_get_int_or(c, "kv_channels", a->hidden / a->heads, &a->kv)))
        return nc_error_prefix(st, "model_config.yaml");
    if (nc_cfg_has(c, "init_method_std") && !nc_cfg_get_float(c, "init_method_std", &a->init_std)) a->has_init_std = true;
    nc_clear_error();
    if (!normalize) return refuse_str("normalize_attention_scores", "false", "HF scales scores by 1/sqrt(head dim)");
    if (strcmp(block, "pre_ln")) return refuse_str("transformer_block_type", block, "HF's are pre-LN");
    if (interp != 0.0) return refuse_str("seq_len_interpolation_factor", "set", "RoPE scaling is not converted");
    if (experts) return refuse_str("num_moe_experts", "set", "mixture of experts");
    bool layernorm = !strcmp(norm, "layernorm") || !strcmp(norm, "LayerNorm");
    bool rmsnorm = !strcmp(norm, "rmsnorm") || !strcmp(norm, "RMSNorm");
    if (!layernorm && !rmsnorm) return refuse_str("normalization", norm, "layernorm or rmsnorm");
    if (!strcmp(pos, "learned_absolute")) {
        a->family = NC_HF_GPT2;
        if (!layernorm) return refuse_str("normalization", norm, "GPT-2 uses layernorm");
        if (strcmp(act, "gelu")) return refuse_str("activation", act, "GPT-2 uses gelu");
        if (!bias) return refuse_str("bias", "false", "GPT-2 has biases");
        if (a->groups != a->heads) return refuse_str("num_query_groups", "< num_attention_heads", "GPT-2 is MHA");
        if (a->kv * a->heads != a->hidden)
            return refuse_str("kv_channels", "!= hidden_size / num_attention_heads", "GPT-2's head size");
        /* Megatron core's MLP with bias_activation_fusion (NeMo's default)
         * and a bias runs bias_gelu_impl, the tanh approximation, as does
         * openai_gelu: HF's gelu_new; otherwise F.gelu (erf): HF's gelu */
        a->openai_gelu = openai || fusion;
    } else if (!strcmp(pos, "rope")) {
        a->family = NC_HF_LLAMA;
        if (!rmsnorm) return refuse_str("normalization", norm, "Llama uses rmsnorm");
        if (strcmp(act, "fast-swiglu") && strcmp(act, "swiglu"))
            return refuse_str("activation", act, "Llama uses SwiGLU");
        if (bias) return refuse_str("bias", "true", "Llama has no biases");
        if (rot_pct != 1.0) return refuse_str("rotary_percentage", "< 1", "Llama rotates every channel");
        if (openai) return refuse_str("openai_gelu", "true", "Llama uses SwiGLU");
        if (a->rotary_interleaved && a->kv % 2) return refuse_str("kv_channels", "odd", "RoPE rotates channel pairs");
    } else {
        return refuse_str("position_embedding_type", pos, "learned_absolute (GPT-2) or rope (Llama)");
    }
    return NC_OK;
}
