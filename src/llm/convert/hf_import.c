/* HF GPT-2 / Llama folder -> MegatronGPTModel .nemo (TP=1, PP=1).
 *
 * Llama follows scripts/checkpoint_converters/convert_llama_hf_to_nemo.py:
 * q/k/v_proj regrouped per query group into linear_qkv, [gate_proj;
 * up_proj] into linear_fc1, o_proj/down_proj/norms/lm_head copied, no q/k
 * permutation (HF Llama and Megatron core both rotate halves). GPT-2 follows
 * the StarCoder converter's name map (convert_starcoder_hf_to_nemo.py);
 * GPT-2's Conv1D stores weights (in, out), so each is transposed, and its
 * c_attn [all q; all k; all v] is regrouped per head as NeMo 2's
 * TransformFns.merge_qkv_concat does. The vocabulary rows are padded with
 * zeros to make_vocab_size_divisible_by (nemoc/llm_convert.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm/convert/convert_internal.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/nemo_archive.h"

const nc_gpt2_linear nc_gpt2_linears[3] = {{"attn.c_proj", "self_attention.linear_proj", 0, 0},
                                           {"mlp.c_fc", "mlp.linear_fc1", 0, 1},
                                           {"mlp.c_proj", "mlp.linear_fc2", 1, 0}};

typedef struct imp {
    nc_hf_weights *w;
    const nc_gpt_arch *a;
    nc_dtype dt;
    nc_tensor_list *out;
} imp;

static nc_status get(imp *m, const char *name, int ndim, int64_t d0, int64_t d1, const char *why, nc_tensor **t) {
    return nc_hf_weights_get(m->w, name, m->dt, ndim, d0, d1, why, t);
}

/* Takes `t` (freed on failure too). */
static nc_status put(imp *m, const char *name, nc_tensor *t) {
    return nc_tensor_list_push(m->out, name, t, NC_TORCH_AUTO);
}

/* x (a heap tensor, consumed) through one row move into `name`. */
static nc_status put_moved(imp *m, const char *name, nc_tensor *x, nc_status (*move)(const nc_tensor *, nc_tensor **)) {
    nc_tensor *y = NULL;
    nc_status st = move(x, &y);
    nc_tensor_free(x);
    return st ? st : put(m, name, y);
}

static nc_status put_vocab(imp *m, const char *name, nc_tensor *x) {
    nc_tensor *y = NULL;
    nc_status st = nc_rows_pad(x, m->a->padded_vocab, &y);
    nc_tensor_free(x);
    return st ? st : put(m, name, y);
}

static nc_status put_qkv(imp *m, const char *name, nc_tensor *q, nc_tensor *k, nc_tensor *v) {
    nc_tensor *y = NULL;
    nc_status st = nc_rows_qkv_merge(q, k, v, m->a->heads, m->a->groups, m->a->kv, &y);
    nc_tensor_free(q);
    nc_tensor_free(k);
    nc_tensor_free(v);
    return st ? st : put(m, name, y);
}

#define TRY(call)                                                                                                     \
    do {                                                                                                              \
        if ((st = (call))) return st;                                                                                 \
    } while (0)

static nc_status import_gpt2(imp *m) {
    const nc_gpt_arch *a = m->a;
    int64_t H = a->hidden, F = a->ffn;
    const char *pre = nc_hf_weights_has(m->w, "transformer.wte.weight") ? "transformer." : "";
    char s[256], d[256];
    nc_status st;
    nc_tensor *t = NULL, *u = NULL;
    snprintf(s, sizeof s, "%swte.weight", pre);
    TRY(get(m, s, 2, a->vocab, H, "vocab_size, n_embd", &t));
    TRY(put_vocab(m, "model.embedding.word_embeddings.weight", t));
    snprintf(s, sizeof s, "%swpe.weight", pre);
    TRY(get(m, s, 2, a->max_pos, H, "n_positions, n_embd", &t));
    TRY(put(m, "model.embedding.position_embeddings.weight", t));
    for (int64_t i = 0; i < a->num_layers; i++) {
        static const char *const norms[2][2] = {{"ln_1", "input_layernorm"}, {"ln_2", "pre_mlp_layernorm"}};
        for (int n = 0; n < 2; n++)
            for (int b = 0; b < 2; b++) {
                const char *wb = b ? "bias" : "weight";
                snprintf(s, sizeof s, "%sh.%lld.%s.%s", pre, (long long)i, norms[n][0], wb);
                snprintf(d, sizeof d, "model.decoder.layers.%lld.%s.%s", (long long)i, norms[n][1], wb);
                TRY(get(m, s, 1, H, 0, "n_embd", &t));
                TRY(put(m, d, t));
            }
        /* c_attn: Conv1D (H, 3H) -> (3H, H) = [q; k; v] -> per-head groups */
        snprintf(s, sizeof s, "%sh.%lld.attn.c_attn.weight", pre, (long long)i);
        TRY(get(m, s, 2, H, 3 * H, "n_embd", &t));
        st = nc_rows_transpose(t, &u);
        nc_tensor_free(t);
        if (st) return st;
        for (int b = 0; b < 2; b++) {
            if (b) {
                snprintf(s, sizeof s, "%sh.%lld.attn.c_attn.bias", pre, (long long)i);
                TRY(get(m, s, 1, 3 * H, 0, "n_embd", &u));
            }
            nc_tensor *q = NULL, *k = NULL, *v = NULL;
            if ((st = nc_rows_slice(u, 0, H, &q)) || (st = nc_rows_slice(u, H, 2 * H, &k)) ||
                (st = nc_rows_slice(u, 2 * H, 3 * H, &v))) {
                nc_tensor_free(q);
                nc_tensor_free(k);
                nc_tensor_free(u);
                return st;
            }
            nc_tensor_free(u);
            snprintf(d, sizeof d, "model.decoder.layers.%lld.self_attention.linear_qkv.%s", (long long)i,
                     b ? "bias" : "weight");
            TRY(put_qkv(m, d, q, k, v));
        }
        /* Conv1D (in, out) weights and their biases */
        const nc_gpt2_linear *lin = nc_gpt2_linears;
        for (int l = 0; l < 3; l++) {
            int64_t in = lin[l].in_ffn ? F : H, outd = lin[l].out_ffn ? F : H;
            snprintf(s, sizeof s, "%sh.%lld.%s.weight", pre, (long long)i, lin[l].hf);
            snprintf(d, sizeof d, "model.decoder.layers.%lld.%s.weight", (long long)i, lin[l].nemo);
            TRY(get(m, s, 2, in, outd, "n_embd, n_inner", &t));
            TRY(put_moved(m, d, t, nc_rows_transpose));
            snprintf(s, sizeof s, "%sh.%lld.%s.bias", pre, (long long)i, lin[l].hf);
            snprintf(d, sizeof d, "model.decoder.layers.%lld.%s.bias", (long long)i, lin[l].nemo);
            TRY(get(m, s, 1, outd, 0, "n_embd, n_inner", &t));
            TRY(put(m, d, t));
        }
    }
    for (int b = 0; b < 2; b++) {
        snprintf(s, sizeof s, "%sln_f.%s", pre, b ? "bias" : "weight");
        snprintf(d, sizeof d, "model.decoder.final_layernorm.%s", b ? "bias" : "weight");
        TRY(get(m, s, 1, H, 0, "n_embd", &t));
        TRY(put(m, d, t));
    }
    if (!a->tie) {
        TRY(get(m, "lm_head.weight", 2, a->vocab, H, "vocab_size, n_embd; tie_word_embeddings false", &t));
        TRY(put_vocab(m, "model.output_layer.weight", t));
    }
    return NC_OK;
}

static nc_status import_llama(imp *m) {
    const nc_gpt_arch *a = m->a;
    int64_t H = a->hidden, F = a->ffn, Q = a->heads * a->kv, KV = a->groups * a->kv;
    char s[256], d[256];
    nc_status st;
    nc_tensor *t = NULL;
    TRY(get(m, "model.embed_tokens.weight", 2, a->vocab, H, "vocab_size, hidden_size", &t));
    TRY(put_vocab(m, "model.embedding.word_embeddings.weight", t));
    for (int64_t i = 0; i < a->num_layers; i++) {
        long long li = (long long)i;
        snprintf(s, sizeof s, "model.layers.%lld.input_layernorm.weight", li);
        snprintf(d, sizeof d, "model.decoder.layers.%lld.input_layernorm.weight", li);
        TRY(get(m, s, 1, H, 0, "hidden_size", &t));
        TRY(put(m, d, t));
        nc_tensor *q = NULL, *k = NULL, *v = NULL;
        snprintf(s, sizeof s, "model.layers.%lld.self_attn.q_proj.weight", li);
        st = get(m, s, 2, Q, H, "num_attention_heads x head_dim, hidden_size", &q);
        snprintf(s, sizeof s, "model.layers.%lld.self_attn.k_proj.weight", li);
        if (!st) st = get(m, s, 2, KV, H, "num_key_value_heads x head_dim, hidden_size", &k);
        snprintf(s, sizeof s, "model.layers.%lld.self_attn.v_proj.weight", li);
        if (!st) st = get(m, s, 2, KV, H, "num_key_value_heads x head_dim, hidden_size", &v);
        if (st) {
            nc_tensor_free(q);
            nc_tensor_free(k);
            return st;
        }
        snprintf(d, sizeof d, "model.decoder.layers.%lld.self_attention.linear_qkv.weight", li);
        TRY(put_qkv(m, d, q, k, v));
        snprintf(s, sizeof s, "model.layers.%lld.self_attn.o_proj.weight", li);
        snprintf(d, sizeof d, "model.decoder.layers.%lld.self_attention.linear_proj.weight", li);
        TRY(get(m, s, 2, H, Q, "hidden_size, num_attention_heads x head_dim", &t));
        TRY(put(m, d, t));
        snprintf(s, sizeof s, "model.layers.%lld.post_attention_layernorm.weight", li);
        snprintf(d, sizeof d, "model.decoder.layers.%lld.pre_mlp_layernorm.weight", li);
        TRY(get(m, s, 1, H, 0, "hidden_size", &t));
        TRY(put(m, d, t));
        /* linear_fc1 = [gate_proj; up_proj]: Megatron's SwiGLU applies silu
         * to the first half (convert_llama_hf_to_nemo.py torch.cat((gate, up))) */
        nc_tensor *gate = NULL, *up = NULL, *fc1 = NULL;
        snprintf(s, sizeof s, "model.layers.%lld.mlp.gate_proj.weight", li);
        st = get(m, s, 2, F, H, "intermediate_size, hidden_size", &gate);
        snprintf(s, sizeof s, "model.layers.%lld.mlp.up_proj.weight", li);
        if (!st) st = get(m, s, 2, F, H, "intermediate_size, hidden_size", &up);
        if (!st) st = nc_rows_cat(gate, up, &fc1);
        nc_tensor_free(gate);
        nc_tensor_free(up);
        if (st) return st;
        snprintf(d, sizeof d, "model.decoder.layers.%lld.mlp.linear_fc1.weight", li);
        TRY(put(m, d, fc1));
        snprintf(s, sizeof s, "model.layers.%lld.mlp.down_proj.weight", li);
        snprintf(d, sizeof d, "model.decoder.layers.%lld.mlp.linear_fc2.weight", li);
        TRY(get(m, s, 2, H, F, "hidden_size, intermediate_size", &t));
        TRY(put(m, d, t));
    }
    TRY(get(m, "model.norm.weight", 1, H, 0, "hidden_size", &t));
    TRY(put(m, "model.decoder.final_layernorm.weight", t));
    if (!a->tie) {
        TRY(get(m, "lm_head.weight", 2, a->vocab, H, "vocab_size, hidden_size; tie_word_embeddings false", &t));
        TRY(put_vocab(m, "model.output_layer.weight", t));
    }
    return NC_OK;
}

/* Buffers HF checkpoints carry that are no parameters: GPT-2's causal masks
 * (h.N.attn.bias, h.N.attn.masked_bias) and Llama's rotary inv_freq (recomputed
 * from rope_theta; NeMo's converter copies it to model.rotary_pos_emb.inv_freq,
 * which Megatron core does not keep in its state_dict). */
static bool skip_buffer(const char *name) {
    size_t n = strlen(name);
#define ENDS(sfx) (n >= sizeof(sfx) - 1 && !strcmp(name + n - (sizeof(sfx) - 1), sfx))
    return ENDS(".attn.bias") || ENDS(".attn.masked_bias") || ENDS("rotary_emb.inv_freq");
#undef ENDS
}
static bool skip_tied(const char *name) { return skip_buffer(name) || !strcmp(name, "lm_head.weight"); }

nc_hf_import_params nc_hf_import_default_params(void) { return (nc_hf_import_params){0}; }

static nc_dtype to_nc(nc_ckpt_dtype d, nc_dtype src) {
    return d == NC_CKPT_DTYPE_FP32 ? NC_F32 : d == NC_CKPT_DTYPE_BF16 ? NC_BF16 : d == NC_CKPT_DTYPE_FP16 ? NC_F16 : src;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = nc_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static nc_status write_nemo(const char *dir, const char *nemo_path, const nc_gpt_arch *a, nc_dtype dt,
                            const nc_tensor_list *tensors, nc_hf_report *rep) {
    bool present[NC_TOK_COUNT];
    char *paths[NC_TOK_COUNT] = {0}, *members[NC_TOK_COUNT] = {0};
    nc_nemo_artifact arts[NC_TOK_COUNT];
    int64_t n_arts = 0, tok_vocab = -1;
    nc_status st = NC_OK;
    char *yaml = NULL;
    for (int i = 0; i < NC_TOK_COUNT && !st; i++) {
        if (!(paths[i] = join(dir, nc_tok_file[i]))) st = nc_error(NC_ERR_OOM, "out of memory");
        present[i] = paths[i] && !access(paths[i], R_OK);
    }
    for (int i = 0; i < NC_TOK_COUNT && !st; i++) {
        if (!present[i]) continue;
        size_t cap = strlen(nc_tok_file[i]) + 40;
        if (!(members[i] = nc_malloc(cap))) st = nc_error(NC_ERR_OOM, "out of memory");
        else if (!(st = nc_nemo_artifact_name(paths[i], members[i], cap)))
            arts[n_arts++] = (nc_nemo_artifact){.name = members[i], .path = paths[i]};
    }
    if (!st) st = nc_tok_vocab_size(dir, present, &tok_vocab);
    if (!st && tok_vocab > a->padded_vocab)
        NC_WARN("%s: the tokenizer has %lld entries but the embedding %lld rows", dir, (long long)tok_vocab,
                (long long)a->padded_vocab);
    const char *prec = dt == NC_BF16 ? "bf16" : dt == NC_F16 ? "16" : "32";
    if (!st) st = nc_nemo_config_write(a, (const char *const *)members, tok_vocab, prec, &yaml);
    if (!st) {
        nc_nemo_contents c = {.config_yaml = yaml, .tensors = tensors->items, .n_tensors = tensors->n,
                              .artifacts = arts, .n_artifacts = n_arts};
        st = nc_nemo_save(nemo_path, &c);
    }
    if (!st && rep) rep->tokenizer_library = nc_tok_library(present);
    nc_free(yaml);
    for (int i = 0; i < NC_TOK_COUNT; i++) {
        nc_free(paths[i]);
        nc_free(members[i]);
    }
    return st;
}

nc_status nc_llm_import_hf(const char *hf_dir, const char *nemo_path, const nc_hf_import_params *params,
                           nc_hf_report *report) {
    nc_hf_import_params p = params ? *params : nc_hf_import_default_params();
    if (report) memset(report, 0, sizeof *report);
    struct stat sb;
    if (stat(hf_dir, &sb) || !S_ISDIR(sb.st_mode))
        return nc_error(NC_ERR_NOT_FOUND, "'%s' is not a folder (an HF checkpoint folder with config.json)", hf_dir);
    if (p.make_vocab_size_divisible_by < 0)
        return nc_error(NC_ERR_INVALID_ARG, "make_vocab_size_divisible_by must be positive (0: NeMo's choice)");
    char *cfg_path = join(hf_dir, "config.json");
    if (!cfg_path) return nc_error(NC_ERR_OOM, "out of memory");
    nc_gpt_arch a;
    nc_status st = nc_hf_config_read(cfg_path, &a);
    nc_free(cfg_path);
    if (st) return st;
    nc_hf_weights w;
    if ((st = nc_hf_weights_open(hf_dir, &w))) return st;
    a.dtype = nc_hf_weights_dtype(&w);
    a.divisible_by = p.make_vocab_size_divisible_by ? p.make_vocab_size_divisible_by : nc_vocab_divisor(a.vocab);
    a.padded_vocab = nc_vocab_padded(a.vocab, a.divisible_by);
    nc_dtype dt = to_nc(p.dtype, a.dtype);
    nc_tensor_list out = {0};
    imp m = {.w = &w, .a = &a, .dt = dt, .out = &out};
    st = a.family == NC_HF_GPT2 ? import_gpt2(&m) : import_llama(&m);
    if (!st) st = nc_hf_weights_check_used(&w, a.tie ? skip_tied : skip_buffer);
    nc_hf_weights_close(&w);
    if (!st) st = write_nemo(hf_dir, nemo_path, &a, dt, &out, report);
    if (!st && report) {
        report->model_type = a.family == NC_HF_GPT2 ? "gpt2" : "llama";
        report->n_tensors = out.n;
        report->vocab_size = a.vocab;
        report->padded_vocab = a.padded_vocab;
    }
    nc_tensor_list_clear(&out);
    return st;
}

nc_status nc_ckpt_dtype_parse(const char *s, nc_ckpt_dtype *out) {
    static const struct {
        const char *name;
        nc_ckpt_dtype d;
    } names[] = {{"auto", NC_CKPT_DTYPE_AUTO},    {"fp32", NC_CKPT_DTYPE_FP32}, {"32", NC_CKPT_DTYPE_FP32},
                 {"float32", NC_CKPT_DTYPE_FP32}, {"bf16", NC_CKPT_DTYPE_BF16}, {"bfloat16", NC_CKPT_DTYPE_BF16},
                 {"fp16", NC_CKPT_DTYPE_FP16},    {"16", NC_CKPT_DTYPE_FP16},   {"float16", NC_CKPT_DTYPE_FP16}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].d;
            return NC_OK;
        }
    return nc_error(NC_ERR_INVALID_ARG, "dtype '%s': expected fp32, bf16, fp16 or auto", s);
}
