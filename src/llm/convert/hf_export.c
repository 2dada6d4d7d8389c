/* MegatronGPTModel .nemo (TP=1, PP=1) -> HF GPT-2 / Llama folder: the
 * inverse of hf_import.c, as NeMo's convert_llama_nemo_to_hf.py (q/k/v by
 * the per-group slices, linear_fc1 halves into gate_proj / up_proj) and NeMo
 * 2's HFLlamaExporter / HFStarcoderExporter (TransformFns.split_qkv,
 * split_fc1, prune_padding: the embedding cut back to the tokenizer's
 * vocabulary). Transformer Engine's fused-norm names are read as the local
 * ones. */
#include <stdio.h>
#include <string.h>

#include "io/fileutil.h"
#include "llm/convert/convert_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/nemo_archive.h"

typedef struct exp_ctx {
    const nc_tensor_list *in;
    bool *used;
    const nc_gpt_arch *a;
    nc_dtype dt;
    nc_tensor_list *out;
} exp_ctx;

/* The local-spec name, then Transformer Engine's, each also under
 * megatron_amp_O2's "model.module." prefix. */
static const nc_named_tensor *lookup(exp_ctx *e, const char *name) {
    static const char *const alias[][2] = {
        {"input_layernorm.weight", "self_attention.linear_qkv.layer_norm_weight"},
        {"input_layernorm.bias", "self_attention.linear_qkv.layer_norm_bias"},
        {"pre_mlp_layernorm.weight", "mlp.linear_fc1.layer_norm_weight"},
        {"pre_mlp_layernorm.bias", "mlp.linear_fc1.layer_norm_bias"},
    };
    char names[2][320];
    snprintf(names[0], sizeof names[0], "%s", name);
    names[1][0] = 0;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof alias / sizeof *alias; i++) {
        size_t k = strlen(alias[i][0]);
        if (n > k && !strcmp(name + n - k, alias[i][0]))
            snprintf(names[1], sizeof names[1], "%.*s%s", (int)(n - k), name, alias[i][1]);
    }
    for (int v = 0; v < 2; v++) {
        if (!names[v][0]) continue;
        for (int o2 = 0; o2 < 2; o2++) {
            char full[340];
            if (o2) snprintf(full, sizeof full, "model.module.%s", names[v] + strlen("model."));
            else snprintf(full, sizeof full, "%s", names[v]);
            const nc_named_tensor *t = nc_tensor_list_find(e->in, full);
            if (t) {
                e->used[t - e->in->items] = true;
                return t;
            }
        }
    }
    return NULL;
}

static nc_status get(exp_ctx *e, const char *name, int ndim, int64_t d0, int64_t d1, const char *why, nc_tensor **out) {
    *out = NULL;
    const nc_named_tensor *t = lookup(e, name);
    if (!t) return nc_error(NC_ERR_NOT_FOUND, "model_weights.ckpt: tensor '%s' is missing (%s)", name, why);
    int64_t want[2] = {d0, d1};
    bool ok = t->tensor->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->tensor->shape[i] == want[i];
    if (!ok) {
        char got[128], exp[64];
        return nc_error(NC_ERR_SHAPE, "model_weights.ckpt: tensor '%s' has shape %s but model_config.yaml (%s) needs %s",
                        name, nc_shape_str(t->tensor, got, sizeof got), why, nc_dims_str(ndim, want, exp, sizeof exp));
    }
    if (t->tensor->dtype != NC_F32 && t->tensor->dtype != NC_BF16 && t->tensor->dtype != NC_F16)
        return nc_error(NC_ERR_DTYPE, "model_weights.ckpt: tensor '%s' is %s", name, nc_dtype_name(t->tensor->dtype));
    return nc_tensor_as(t->tensor, e->dt, out);
}

static nc_status put(exp_ctx *e, const char *name, nc_tensor *t) {
    return nc_tensor_list_push(e->out, name, t, NC_TORCH_AUTO);
}

#define TRY(call)                                                                                                     \
    do {                                                                                                              \
        if ((st = (call))) goto fail;                                                                                 \
    } while (0)

/* Hands `var` to put(), which owns it from then on (and frees it on failure):
 * cleared first, so the fail path cannot free it again. */
#define PUT(name, var)                                                                                                \
    do {                                                                                                              \
        nc_tensor *x_ = (var);                                                                                        \
        (var) = NULL;                                                                                                 \
        TRY(put(e, (name), x_));                                                                                      \
    } while (0)

/* The first `rows` rows of the (padded) vocabulary tensor `name`. */
static nc_status put_vocab(exp_ctx *e, const char *name, const char *hf, int64_t rows_in) {
    nc_tensor *t = NULL, *u = NULL;
    nc_status st = get(e, name, 2, rows_in, e->a->hidden, "padded vocabulary, hidden_size", &t);
    if (!st) st = nc_rows_slice(t, 0, e->a->vocab, &u);
    nc_tensor_free(t);
    return st ? st : put(e, hf, u);
}

static nc_status export_gpt2(exp_ctx *e, int64_t rows) {
    const nc_gpt_arch *a = e->a;
    int64_t H = a->hidden, F = a->ffn;
    char s[256], d[256];
    nc_status st = NC_OK;
    nc_tensor *t = NULL, *u = NULL, *qkv[3] = {0};
    TRY(put_vocab(e, "model.embedding.word_embeddings.weight", "transformer.wte.weight", rows));
    TRY(get(e, "model.embedding.position_embeddings.weight", 2, a->max_pos, H, "max_position_embeddings, hidden_size", &t));
    PUT("transformer.wpe.weight", t);
    for (int64_t i = 0; i < a->num_layers; i++) {
        long long li = (long long)i;
        static const char *const norms[2][2] = {{"ln_1", "input_layernorm"}, {"ln_2", "pre_mlp_layernorm"}};
        for (int n = 0; n < 2; n++)
            for (int b = 0; b < 2; b++) {
                snprintf(s, sizeof s, "model.decoder.layers.%lld.%s.%s", li, norms[n][1], b ? "bias" : "weight");
                snprintf(d, sizeof d, "transformer.h.%lld.%s.%s", li, norms[n][0], b ? "bias" : "weight");
                TRY(get(e, s, 1, H, 0, "hidden_size", &t));
                PUT(d, t);
            }
        for (int b = 0; b < 2; b++) {
            snprintf(s, sizeof s, "model.decoder.layers.%lld.self_attention.linear_qkv.%s", li, b ? "bias" : "weight");
            TRY(get(e, s, b ? 1 : 2, 3 * H, H, "hidden_size", &t));
            TRY(nc_rows_qkv_split(t, a->heads, a->groups, a->kv, qkv));
            nc_tensor_free(t);
            t = NULL;
            TRY(nc_rows_cat(qkv[0], qkv[1], &u));
            TRY(nc_rows_cat(u, qkv[2], &t));
            nc_tensor_free(u);
            u = NULL;
            for (int k = 0; k < 3; k++) nc_tensor_free(qkv[k]), qkv[k] = NULL;
            if (!b) { /* back to Conv1D's (in, out) */
                TRY(nc_rows_transpose(t, &u));
                nc_tensor_free(t);
                t = u;
                u = NULL;
            }
            snprintf(d, sizeof d, "transformer.h.%lld.attn.c_attn.%s", li, b ? "bias" : "weight");
            PUT(d, t);
        }
        const nc_gpt2_linear *lin = nc_gpt2_linears;
        for (int l = 0; l < 3; l++) {
            int64_t in = lin[l].in_ffn ? F : H, outd = lin[l].out_ffn ? F : H;
            snprintf(s, sizeof s, "model.decoder.layers.%lld.%s.weight", li, lin[l].nemo);
            snprintf(d, sizeof d, "transformer.h.%lld.%s.weight", li, lin[l].hf);
            TRY(get(e, s, 2, outd, in, "hidden_size, ffn_hidden_size", &t));
            TRY(nc_rows_transpose(t, &u));
            nc_tensor_free(t);
            t = NULL;
            PUT(d, u);
            snprintf(s, sizeof s, "model.decoder.layers.%lld.%s.bias", li, lin[l].nemo);
            snprintf(d, sizeof d, "transformer.h.%lld.%s.bias", li, lin[l].hf);
            TRY(get(e, s, 1, outd, 0, "hidden_size, ffn_hidden_size", &t));
            PUT(d, t);
        }
    }
    for (int b = 0; b < 2; b++) {
        snprintf(s, sizeof s, "model.decoder.final_layernorm.%s", b ? "bias" : "weight");
        snprintf(d, sizeof d, "transformer.ln_f.%s", b ? "bias" : "weight");
        TRY(get(e, s, 1, H, 0, "hidden_size", &t));
        PUT(d, t);
    }
    if (!a->tie) TRY(put_vocab(e, "model.output_layer.weight", "lm_head.weight", rows));
    return NC_OK;
fail:
    nc_tensor_free(t);
    nc_tensor_free(u);
    for (int k = 0; k < 3; k++) nc_tensor_free(qkv[k]);
    return st;
}

static nc_status export_llama(exp_ctx *e, int64_t rows) {
    const nc_gpt_arch *a = e->a;
    int64_t H = a->hidden, F = a->ffn, Q = a->heads * a->kv;
    char s[256], d[256];
    nc_status st = NC_OK;
    nc_tensor *t = NULL, *u = NULL, *qkv[3] = {0};
    TRY(put_vocab(e, "model.embedding.word_embeddings.weight", "model.embed_tokens.weight", rows));
    for (int64_t i = 0; i < a->num_layers; i++) {
        long long li = (long long)i;
        snprintf(s, sizeof s, "model.decoder.layers.%lld.input_layernorm.weight", li);
        snprintf(d, sizeof d, "model.layers.%lld.input_layernorm.weight", li);
        TRY(get(e, s, 1, H, 0, "hidden_size", &t));
        PUT(d, t);
        snprintf(s, sizeof s, "model.decoder.layers.%lld.self_attention.linear_qkv.weight", li);
        TRY(get(e, s, 2, (a->heads + 2 * a->groups) * a->kv, H, "num_attention_heads, num_query_groups, kv_channels", &t));
        TRY(nc_rows_qkv_split(t, a->heads, a->groups, a->kv, qkv));
        nc_tensor_free(t);
        t = NULL;
        /* HF Llama rotates halves; Megatron's rotary_interleaved rotates
         * adjacent pairs (Meta's original layout): permute q and k rows as
         * transformers' convert_llama_weights_to_hf.py does */
        for (int k = 0; a->rotary_interleaved && k < 2; k++) {
            TRY(nc_rows_rope_permute(qkv[k], k ? a->groups : a->heads, a->kv, &u));
            nc_tensor_free(qkv[k]);
            qkv[k] = u;
            u = NULL;
        }
        static const char *const qkv_name[3] = {"q_proj", "k_proj", "v_proj"};
        for (int k = 0; k < 3; k++) {
            snprintf(d, sizeof d, "model.layers.%lld.self_attn.%s.weight", li, qkv_name[k]);
            nc_tensor *x = qkv[k];
            qkv[k] = NULL;
            TRY(put(e, d, x));
        }
        snprintf(s, sizeof s, "model.decoder.layers.%lld.self_attention.linear_proj.weight", li);
        snprintf(d, sizeof d, "model.layers.%lld.self_attn.o_proj.weight", li);
        TRY(get(e, s, 2, H, Q, "hidden_size, num_attention_heads x kv_channels", &t));
        PUT(d, t);
        snprintf(s, sizeof s, "model.decoder.layers.%lld.pre_mlp_layernorm.weight", li);
        snprintf(d, sizeof d, "model.layers.%lld.post_attention_layernorm.weight", li);
        TRY(get(e, s, 1, H, 0, "hidden_size", &t));
        PUT(d, t);
        /* linear_fc1 = [gate; up] (TransformFns.split_fc1) */
        snprintf(s, sizeof s, "model.decoder.layers.%lld.mlp.linear_fc1.weight", li);
        TRY(get(e, s, 2, 2 * F, H, "2 x ffn_hidden_size (gated), hidden_size", &t));
        TRY(nc_rows_slice(t, 0, F, &u));
        snprintf(d, sizeof d, "model.layers.%lld.mlp.gate_proj.weight", li);
        PUT(d, u);
        TRY(nc_rows_slice(t, F, 2 * F, &u));
        nc_tensor_free(t);
        t = NULL;
        snprintf(d, sizeof d, "model.layers.%lld.mlp.up_proj.weight", li);
        PUT(d, u);
        snprintf(s, sizeof s, "model.decoder.layers.%lld.mlp.linear_fc2.weight", li);
        snprintf(d, sizeof d, "model.layers.%lld.mlp.down_proj.weight", li);
        TRY(get(e, s, 2, H, F, "hidden_size, ffn_hidden_size", &t));
        PUT(d, t);
    }
    TRY(get(e, "model.decoder.final_layernorm.weight", 1, H, 0, "hidden_size", &t));
    PUT("model.norm.weight", t);
    if (!a->tie) TRY(put_vocab(e, "model.output_layer.weight", "lm_head.weight", rows));
    return NC_OK;
fail:
    nc_tensor_free(t);
    nc_tensor_free(u);
    for (int k = 0; k < 3; k++) nc_tensor_free(qkv[k]);
    return st;
}

nc_hf_export_params nc_hf_export_default_params(void) { return (nc_hf_export_params){0}; }

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = nc_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The tokenizer artifacts back under their HF file names. */
static nc_status write_tokenizer(const nc_nemo *n, const nc_cfg *cfg, const char *dir, bool present[NC_TOK_COUNT]) {
    nc_status st = NC_OK;
    for (int i = 0; i < NC_TOK_COUNT && !st; i++) {
        char key[64];
        const char *ref = NULL;
        present[i] = false;
        snprintf(key, sizeof key, "tokenizer.%s", nc_tok_cfg_key[i]);
        if ((st = nc_cfg_get_str_or(cfg, key, NULL, &ref))) break;
        if (!ref && i == NC_TOK_JSON) { /* library huggingface: type names the tokenizer.json */
            const char *lib = NULL;
            snprintf(key, sizeof key, "tokenizer.type");
            if ((st = nc_cfg_get_str_or(cfg, "tokenizer.library", NULL, &lib)) ||
                (st = nc_cfg_get_str_or(cfg, key, NULL, &ref)))
                break;
            if (!lib || strcmp(lib, "huggingface") || !ref || strncmp(ref, "nemo:", 5)) ref = NULL;
        }
        if (!ref) continue;
        if (!nc_nemo_find(n, ref)) {
            NC_WARN("model_config.yaml: %s '%s' is not in the archive; not written", key, ref);
            continue;
        }
        void *buf = NULL;
        size_t len = 0;
        char *path = join(dir, nc_tok_file[i]);
        if (!path) st = nc_error(NC_ERR_OOM, "out of memory");
        else if (!(st = nc_nemo_read(n, ref, &buf, &len)) && !(st = nc_write_file_atomic(path, buf, len)))
            present[i] = true;
        nc_free(buf);
        nc_free(path);
    }
    return st;
}

/* Entries nothing converts: Transformer Engine's extra state and the rotary
 * frequencies (recomputed from rotary_base). */
static bool skip_nemo(const char *name) {
    size_t n = strlen(name);
    return (n >= 12 && !strcmp(name + n - 12, "_extra_state")) || strstr(name, "rotary_pos_emb.inv_freq");
}

static nc_status convert(const nc_nemo *n, const char *out_dir, const nc_hf_export_params *p, nc_hf_report *rep,
                         nc_gpt_arch *a, const nc_tensor_list *in, bool *used) {
    nc_status st;
    char *yaml = NULL, *json = NULL, *path = NULL;
    size_t len;
    nc_cfg *cfg = NULL;
    nc_tensor_list out = {0};
    nc_st_entry *ents = NULL;
    if ((st = nc_nemo_read_config(n, &yaml, &len)) || (st = nc_cfg_parse(yaml, len, "model_config.yaml", &cfg)) ||
        (st = nc_nemo_gpt_arch(cfg, a)))
        goto done;
    const nc_named_tensor *emb = nc_tensor_list_find(in, "model.embedding.word_embeddings.weight");
    if (!emb) emb = nc_tensor_list_find(in, "model.module.embedding.word_embeddings.weight");
    if (!emb || emb->tensor->ndim != 2) {
        st = nc_error(NC_ERR_NOT_FOUND, "model_weights.ckpt: no 2-D 'model.embedding.word_embeddings.weight' (a "
                                        "Megatron-core GPT checkpoint of tensor/pipeline parallel size 1 is expected)");
        goto done;
    }
    int64_t rows = emb->tensor->shape[0];
    a->dtype = emb->tensor->dtype;
    nc_dtype dt = p->dtype == NC_CKPT_DTYPE_FP32   ? NC_F32
                  : p->dtype == NC_CKPT_DTYPE_BF16 ? NC_BF16
                  : p->dtype == NC_CKPT_DTYPE_FP16 ? NC_F16
                                                   : a->dtype;
    if ((st = nc_mkdir_p(out_dir))) goto done;
    bool present[NC_TOK_COUNT];
    int64_t tok_vocab = -1;
    if ((st = write_tokenizer(n, cfg, out_dir, present)) || (st = nc_tok_vocab_size(out_dir, present, &tok_vocab)))
        goto done;
    if (p->vocab_size > rows) {
        st = nc_error(NC_ERR_INVALID_ARG, "vocab_size=%lld is larger than the embedding's %lld rows",
                      (long long)p->vocab_size, (long long)rows);
        goto done;
    }
    a->vocab = p->vocab_size > 0 ? p->vocab_size : tok_vocab > 0 && tok_vocab <= rows ? tok_vocab : rows;
    a->dtype = dt;
    exp_ctx e = {.in = in, .used = used, .a = a, .dt = dt, .out = &out};
    if ((st = a->family == NC_HF_GPT2 ? export_gpt2(&e, rows) : export_llama(&e, rows))) goto done;
    for (int64_t i = 0; i < in->n; i++)
        if (!used[i] && !skip_nemo(in->items[i].name)) {
            st = nc_error(NC_ERR_UNSUPPORTED, "model_weights.ckpt: tensor '%s' has no place in a Hugging Face %s model",
                          in->items[i].name, a->family == NC_HF_GPT2 ? "gpt2" : "llama");
            goto done;
        }
    if (!(ents = nc_calloc((size_t)out.n + 1, sizeof *ents))) {
        st = nc_error(NC_ERR_OOM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < out.n; i++) ents[i] = (nc_st_entry){.name = out.items[i].name, .tensor = out.items[i].tensor};
    static const char *const meta[] = {"format", "pt", NULL};
    if (!(path = join(out_dir, "model.safetensors"))) st = nc_error(NC_ERR_OOM, "out of memory");
    if (!st) st = nc_st_save(path, ents, out.n, meta);
    nc_free(path);
    path = NULL;
    if (!st) st = nc_hf_config_write(a, &json);
    if (!st && !(path = join(out_dir, "config.json"))) st = nc_error(NC_ERR_OOM, "out of memory");
    if (!st) st = nc_write_file_atomic(path, json, strlen(json));
    if (!st && rep) {
        rep->model_type = a->family == NC_HF_GPT2 ? "gpt2" : "llama";
        rep->n_tensors = out.n;
        rep->vocab_size = a->vocab;
        rep->padded_vocab = rows;
        rep->tokenizer_library = nc_tok_library(present);
    }
done:
    nc_free(path);
    nc_free(json);
    nc_free(ents);
    nc_tensor_list_clear(&out);
    nc_cfg_free(cfg);
    nc_free(yaml);
    return st;
}

nc_status nc_llm_export_hf(const char *nemo_path, const char *out_dir, const nc_hf_export_params *params,
                           nc_hf_report *report) {
    nc_hf_export_params p = params ? *params : nc_hf_export_default_params();
    if (report) memset(report, 0, sizeof *report);
    if (p.vocab_size < 0) return nc_error(NC_ERR_INVALID_ARG, "vocab_size must be positive (0: the tokenizer's)");
    nc_nemo *n = NULL;
    nc_status st = nc_nemo_open(nemo_path, &n);
    if (st) return st;
    nc_tensor_list in = {0};
    nc_torch_read_params rp = nc_torch_read_default_params();
    rp.allow_unknown_globals = true; /* Transformer Engine's _extra_state objects */
    bool *used = NULL;
    nc_gpt_arch a;
    st = nc_nemo_load_weights(n, NULL, &rp, &in);
    if (!st && !(used = nc_calloc((size_t)in.n + 1, sizeof *used))) st = nc_error(NC_ERR_OOM, "out of memory");
    if (!st) st = convert(n, out_dir, &p, report, &a, &in, used);
    nc_free(used);
    nc_tensor_list_clear(&in);
    nc_nemo_close(n);
    if (st) nc_error_prefix(st, "%s", nemo_path);
    return st;
}
