/* Hugging Face config.json <-> nc_gpt_arch for GPT2LMHeadModel and
 * LlamaForCausalLM (MistralForCausalLM reads as Llama). Keys and defaults
 * are transformers' GPT2Config / LlamaConfig; a key that asks for a feature
 * Megatron's GPTModel (as NeMo's converters configure it) does not have is
 * refused by name rather than dropped. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/fileutil.h"
#include "llm/convert/convert_internal.h"
#include "nemoc/alloc.h"

typedef struct jcfg {
    const cJSON *root;
    const char *path;
} jcfg;

static const cJSON *item(const jcfg *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j->root, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static nc_status get_int(const jcfg *j, const char *key, int64_t dflt, int64_t lo, int64_t *out) {
    const cJSON *v = item(j, key);
    if (!v) {
        if (dflt < 0) return nc_error(NC_ERR_CONFIG, "%s: key '%s' is missing", j->path, key);
        *out = dflt;
        return NC_OK;
    }
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || !(d >= (double)lo && d < 9.0e15) || d != floor(d))
        return nc_error(NC_ERR_CONFIG, "%s: '%s' must be an integer >= %lld", j->path, key, (long long)lo);
    *out = (int64_t)d;
    return NC_OK;
}

static nc_status get_num(const jcfg *j, const char *key, double dflt, double *out) {
    const cJSON *v = item(j, key);
    if (!v) {
        *out = dflt;
        return NC_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0)
        return nc_error(NC_ERR_CONFIG, "%s: '%s' must be a positive number", j->path, key);
    *out = v->valuedouble;
    return NC_OK;
}

static nc_status get_bool(const jcfg *j, const char *key, bool dflt, bool *out) {
    const cJSON *v = item(j, key);
    if (!v) {
        *out = dflt;
        return NC_OK;
    }
    if (!cJSON_IsBool(v)) return nc_error(NC_ERR_CONFIG, "%s: '%s' must be true or false", j->path, key);
    *out = cJSON_IsTrue(v);
    return NC_OK;
}

/* A key whose non-default value nemoc cannot carry into a Megatron GPT. */
static nc_status refuse_bool(const jcfg *j, const char *key, bool expected, const char *why) {
    bool v;
    nc_status st = get_bool(j, key, expected, &v);
    if (st) return st;
    if (v != expected)
        return nc_error(NC_ERR_UNSUPPORTED, "%s: '%s': %s is not supported (%s)", j->path, key, v ? "true" : "false", why);
    return NC_OK;
}

static nc_status read_gpt2(const jcfg *j, nc_gpt_arch *a) {
    nc_status st;
    int64_t inner;
    if ((st = get_int(j, "n_embd", -1, 1, &a->hidden)) || (st = get_int(j, "n_layer", -1, 1, &a->num_layers)) ||
        (st = get_int(j, "n_head", -1, 1, &a->heads)) || (st = get_int(j, "n_positions", -1, 1, &a->max_pos)) ||
        (st = get_int(j, "vocab_size", -1, 1, &a->vocab)) || (st = get_int(j, "n_inner", 0, 1, &inner)) ||
        (st = get_num(j, "layer_norm_epsilon", 1e-5, &a->eps)) || (st = get_bool(j, "tie_word_embeddings", true, &a->tie)))
        return st;
    a->ffn = inner ? inner : 4 * a->hidden; /* GPT2MLP: n_inner or 4 * n_embd */
    if (a->hidden % a->heads)
        return nc_error(NC_ERR_CONFIG, "%s: n_embd %lld is not a multiple of n_head %lld", j->path, (long long)a->hidden,
                        (long long)a->heads);
    a->groups = a->heads;
    a->kv = a->hidden / a->heads;
    const cJSON *act = item(j, "activation_function");
    const char *name = cJSON_IsString(act) ? act->valuestring : act ? "?" : "gelu_new";
    /* gelu_new / gelu_pytorch_tanh: the tanh approximation, NeMo's openai_gelu */
    if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh")) a->openai_gelu = true;
    else if (strcmp(name, "gelu"))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: activation_function '%s' is not supported (gelu_new, "
                                            "gelu_pytorch_tanh or gelu)", j->path, name);
    if ((st = refuse_bool(j, "scale_attn_weights", true, "Megatron always scales scores by 1/sqrt(head dim)")) ||
        (st = refuse_bool(j, "scale_attn_by_inverse_layer_idx", false, "no Megatron GPT equivalent")) ||
        (st = refuse_bool(j, "reorder_and_upcast_attn", false, "no Megatron GPT equivalent")) ||
        (st = refuse_bool(j, "add_cross_attention", false, "a decoder-only GPT has no cross-attention")))
        return st;
    return NC_OK;
}

static nc_status read_llama(const jcfg *j, nc_gpt_arch *a) {
    nc_status st;
    if ((st = get_int(j, "hidden_size", -1, 1, &a->hidden)) ||
        (st = get_int(j, "intermediate_size", -1, 1, &a->ffn)) ||
        (st = get_int(j, "num_hidden_layers", -1, 1, &a->num_layers)) ||
        (st = get_int(j, "num_attention_heads", -1, 1, &a->heads)) ||
        (st = get_int(j, "max_position_embeddings", -1, 1, &a->max_pos)) ||
        (st = get_int(j, "vocab_size", -1, 1, &a->vocab)) ||
        (st = get_int(j, "num_key_value_heads", a->heads, 1, &a->groups)) ||
        (st = get_num(j, "rms_norm_eps", 1e-6, &a->eps)) || (st = get_num(j, "rope_theta", 10000.0, &a->rotary_base)) ||
        (st = get_bool(j, "tie_word_embeddings", false, &a->tie)))
        return st;
    if (a->heads % a->groups)
        return nc_error(NC_ERR_CONFIG, "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                        j->path, (long long)a->heads, (long long)a->groups);
    if (!item(j, "head_dim") && a->hidden % a->heads)
        return nc_error(NC_ERR_CONFIG, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", j->path,
                        (long long)a->hidden, (long long)a->heads);
    if ((st = get_int(j, "head_dim", a->hidden / a->heads, 1, &a->kv))) return st;
    const cJSON *act = item(j, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu")))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (silu: NeMo's fast-swiglu)", j->path,
                        cJSON_IsString(act) ? act->valuestring : "?");
    if (item(j, "rope_scaling"))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: 'rope_scaling' is not supported (RoPE scaling needs NeMo's "
                                            "seq_len_interpolation_factor / scale_positional_embedding)", j->path);
    if (item(j, "sliding_window"))
        return nc_error(NC_ERR_UNSUPPORTED, "%s: 'sliding_window' attention is not supported", j->path);
    if ((st = refuse_bool(j, "attention_bias", false, "Llama q/k/v/o projections without bias")) ||
        (st = refuse_bool(j, "mlp_bias", false, "Llama MLP without bias")))
        return st;
    return NC_OK;
}

nc_status nc_hf_config_read(const char *path, nc_gpt_arch *a) {
    memset(a, 0, sizeof *a);
    a->rotary_base = 10000.0;
    void *buf = NULL;
    size_t len = 0;
    nc_status st = nc_check_readable(path, "config.json");
    if (st || (st = nc_read_file(path, &buf, &len))) return st;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    nc_free(buf);
    if (!root) return nc_error(NC_ERR_FORMAT, "%s: not valid JSON", path);
    jcfg j = {root, path};
    const cJSON *mt = cJSON_IsObject(root) ? item(&j, "model_type") : NULL;
    if (!cJSON_IsString(mt)) st = nc_error(NC_ERR_CONFIG, "%s: key 'model_type' is missing", path);
    else if (!strcmp(mt->valuestring, "gpt2")) {
        a->family = NC_HF_GPT2;
        st = read_gpt2(&j, a);
    } else if (!strcmp(mt->valuestring, "llama") || !strcmp(mt->valuestring, "mistral")) {
        a->family = NC_HF_LLAMA;
        st = read_llama(&j, a);
    } else
        st = nc_error(NC_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (gpt2, llama, mistral)", path,
                      mt->valuestring);
    if (!st) {
        const cJSON *ir = item(&j, "initializer_range");
        if (cJSON_IsNumber(ir)) {
            a->init_std = ir->valuedouble;
            a->has_init_std = true;
        }
    }
    cJSON_Delete(root);
    return st;
}

static const char *torch_dtype_name(nc_dtype dt) {
    return dt == NC_BF16 ? "bfloat16" : dt == NC_F16 ? "float16" : "float32";
}

nc_status nc_hf_config_write(const nc_gpt_arch *a, char **json) {
    *json = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *arch = cJSON_CreateArray();
    if (!o || !arch) {
        cJSON_Delete(o);
        cJSON_Delete(arch);
        return nc_error(NC_ERR_OOM, "out of memory");
    }
    bool gpt2 = a->family == NC_HF_GPT2;
    cJSON_AddItemToArray(arch, cJSON_CreateString(gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM"));
    cJSON_AddItemToObject(o, "architectures", arch);
    cJSON_AddStringToObject(o, "model_type", gpt2 ? "gpt2" : "llama");
    cJSON_AddNumberToObject(o, "vocab_size", (double)a->vocab);
    if (gpt2) {
        cJSON_AddNumberToObject(o, "n_embd", (double)a->hidden);
        cJSON_AddNumberToObject(o, "n_layer", (double)a->num_layers);
        cJSON_AddNumberToObject(o, "n_head", (double)a->heads);
        cJSON_AddNumberToObject(o, "n_positions", (double)a->max_pos);
        cJSON_AddNumberToObject(o, "n_inner", (double)a->ffn);
        cJSON_AddStringToObject(o, "activation_function", a->openai_gelu ? "gelu_new" : "gelu");
        cJSON_AddNumberToObject(o, "layer_norm_epsilon", a->eps);
    } else {
        cJSON_AddNumberToObject(o, "hidden_size", (double)a->hidden);
        cJSON_AddNumberToObject(o, "intermediate_size", (double)a->ffn);
        cJSON_AddNumberToObject(o, "num_hidden_layers", (double)a->num_layers);
        cJSON_AddNumberToObject(o, "num_attention_heads", (double)a->heads);
        cJSON_AddNumberToObject(o, "num_key_value_heads", (double)a->groups);
        cJSON_AddNumberToObject(o, "head_dim", (double)a->kv);
        cJSON_AddStringToObject(o, "hidden_act", "silu");
        cJSON_AddNumberToObject(o, "max_position_embeddings", (double)a->max_pos);
        cJSON_AddNumberToObject(o, "rms_norm_eps", a->eps);
        cJSON_AddNumberToObject(o, "rope_theta", a->rotary_base);
        cJSON_AddNullToObject(o, "rope_scaling");
        cJSON_AddFalseToObject(o, "attention_bias");
        cJSON_AddFalseToObject(o, "mlp_bias");
    }
    if (a->has_init_std) cJSON_AddNumberToObject(o, "initializer_range", a->init_std);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", a->tie);
    cJSON_AddStringToObject(o, "torch_dtype", torch_dtype_name(a->dtype));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return nc_error(NC_ERR_OOM, "out of memory");
    size_t n = strlen(s);
    *json = nc_malloc(n + 2);
    if (*json) {
        memcpy(*json, s, n);
        (*json)[n] = '\n';
        (*json)[n + 1] = 0;
    }
    cJSON_free(s);
    return *json ? NC_OK : nc_error(NC_ERR_OOM, "out of memory");
}

int64_t nc_vocab_padded(int64_t vocab, int64_t divisible_by) {
    return (vocab + divisible_by - 1) / divisible_by * divisible_by;
}

/* convert_llama_hf_to_nemo.py load_config(): base = 128, halved while it does
 * not divide vocab_size (NeMo 2's HFLlamaImporter does the same). */
int64_t nc_vocab_divisor(int64_t vocab) {
    int64_t base = 128;
    while (vocab % base) base /= 2;
    return base;
}
