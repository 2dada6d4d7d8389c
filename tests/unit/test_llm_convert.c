/* nemoc llm import-hf / export-hf (nemoc/llm_convert.h) against
 * tests/ref/gen_hf_convert.py: tiny HF GPT-2 (fp16, tied, causal-mask
 * buffers) and Llama (bf16, GQA, two shards) folders, and the NeMo
 * state dicts NeMo's own TransformFns (nemo/lightning/io/state.py) and
 * convert_llama_hf_to_nemo.py's logic make of them.
 *
 * Exact checks: every imported tensor equals NeMo's bytes (padding rows
 * zero), the model_config.yaml keys equal the expected values, HF -> .nemo
 * -> HF gives byte-identical tensors and tokenizer files, the exported
 * Llama q/k/v/gate/up/embedding equal NeMo's split_qkv / split_fc1 /
 * prune_padding, Transformer Engine norm names are read, and bad inputs
 * fail with errors that name the file, tensor or key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileutil.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/config.h"
#include "nemoc/llm_convert.h"
#include "nemoc/nemo_archive.h"
#include "nemoc/safetensors.h"

static char ref_dir[4096];

static const char *ref(const char *rel) {
    static char buf[32][4200];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", ref_dir, rel);
    return buf[k];
}

static const char *cat(const char *dir, const char *name) {
    static char buf[32][4200];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void copy_file(const char *src, const char *dst) {
    void *b = NULL;
    size_t n = 0;
    CHECK_OK(nc_read_file(src, &b, &n));
    CHECK_OK(nc_write_file_atomic(dst, b, n));
    nc_free(b);
}

static bool same_file(const char *a, const char *b) {
    void *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    bool ok = !nc_read_file(a, &x, &nx) && !nc_read_file(b, &y, &ny) && nx == ny && !memcmp(x, y, nx);
    nc_free(x);
    nc_free(y);
    return ok;
}

/* Every tensor of the expected NeMo state dict in the .nemo, bytes equal,
 * rows past the HF vocabulary zero; nothing else in the .nemo. */
static void check_weights(const char *nemo, const char *expected, int64_t padded_rows, nc_dtype want_dt) {
    nc_nemo *n = NULL;
    nc_st_file *e = NULL;
    nc_tensor_list got = {0};
    CHECK_OK(nc_nemo_open(nemo, &n));
    CHECK_OK(nc_st_open(expected, &e));
    if (!n || !e) goto out;
    CHECK_OK(nc_nemo_load_weights(n, NULL, NULL, &got));
    CHECK(got.n == nc_st_count(e));
    for (int64_t i = 0; i < nc_st_count(e); i++) {
        const nc_st_info *in = nc_st_at(e, i);
        const nc_named_tensor *g = nc_tensor_list_find(&got, in->name);
        if (!g) {
            nc_test_fail(__FILE__, __LINE__, "%s: '%s' missing", nemo, in->name);
            continue;
        }
        nc_tensor want;
        CHECK_OK(nc_st_get(e, in->name, &want));
        nc_tensor *w = NULL;
        CHECK_OK(nc_tensor_new(want_dt, want.ndim, want.shape, &w));
        CHECK_OK(nc_tensor_convert(&want, w));
        bool vocab = strstr(in->name, "word_embeddings") || strstr(in->name, "output_layer");
        int64_t rows = vocab ? padded_rows : want.shape[0];
        bool ok = g->tensor->dtype == want_dt && g->tensor->ndim == want.ndim && g->tensor->shape[0] == rows;
        for (int d = 1; ok && d < want.ndim; d++) ok = g->tensor->shape[d] == want.shape[d];
        ok = ok && !memcmp(g->tensor->data, w->data, nc_nbytes(w));
        if (ok && rows > want.shape[0]) {
            const unsigned char *pad = (const unsigned char *)g->tensor->data + nc_nbytes(w);
            for (size_t b = 0; b < nc_nbytes(g->tensor) - nc_nbytes(w); b++) ok = ok && pad[b] == 0;
        }
        if (!ok) nc_test_fail(__FILE__, __LINE__, "%s: tensor '%s' differs from NeMo's", nemo, in->name);
        nc_test_checks++;
        nc_tensor_free(w);
    }
out:
    nc_tensor_list_clear(&got);
    nc_st_close(e);
    nc_nemo_close(n);
}

/* model_config.yaml against expected_config.json[model] (dotted keys). */
static void check_config(const char *nemo, const char *model, int64_t divisible_override) {
    nc_nemo *n = NULL;
    nc_cfg *got = NULL, *all = NULL, *exp = NULL;
    char *yaml = NULL;
    void *json = NULL;
    size_t len = 0, jlen = 0;
    CHECK_OK(nc_nemo_open(nemo, &n));
    if (!n) return;
    CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
    CHECK_OK(nc_cfg_parse(yaml, len, "model_config.yaml", &got));
    CHECK_OK(nc_read_file(ref("expected_config.json"), &json, &jlen));
    CHECK_OK(nc_cfg_parse(json, jlen, "expected_config.json", &all));
    CHECK_OK(nc_cfg_get_node(all, model, &exp));
    for (int64_t i = 0; exp && got && i < nc_cfg_size(exp); i++) {
        const char *key = nc_cfg_item_key(exp, i);
        const nc_cfg *v = nc_cfg_item(exp, i);
        nc_cfg_type t = nc_cfg_scalar_type(nc_cfg_text(v), nc_cfg_quoted(v));
        bool ok = false;
        if (t == NC_CFG_T_BOOL) {
            bool a, b;
            ok = !nc_cfg_get_bool(got, key, &a) && !nc_cfg_get_bool(v, "", &b) && a == b;
        } else if (t == NC_CFG_T_INT || t == NC_CFG_T_FLOAT) {
            double a, b;
            ok = !nc_cfg_get_float(got, key, &a) && !nc_cfg_get_float(v, "", &b) && a == b;
            if (divisible_override && !strcmp(key, "make_vocab_size_divisible_by")) ok = a == (double)divisible_override;
        } else {
            const char *a, *b;
            ok = !nc_cfg_get_str(got, key, &a) && !nc_cfg_get_str(v, "", &b) && !strcmp(a, b);
        }
        if (!ok) nc_test_fail(__FILE__, __LINE__, "%s: %s is not '%s'", nemo, key, nc_cfg_text(v));
        nc_test_checks++;
    }
    /* the tokenizer reads back to the rows written: no override needed */
    CHECK(got && !nc_cfg_has(got, "override_vocab_size"));
    nc_cfg_free(got);
    nc_cfg_free(all);
    nc_free(yaml);
    nc_free(json);
    nc_nemo_close(n);
}

/* Tensors of `got` equal those named in `want` files byte for byte (HF
 * buffers skipped); counts must match unless `subset`. */
static void check_hf_tensors(const char *got_path, const char *const *want_paths, int n_want, bool subset) {
    nc_st_file *g = NULL;
    CHECK_OK(nc_st_open(got_path, &g));
    if (!g) return;
    int64_t seen = 0;
    for (int f = 0; f < n_want; f++) {
        nc_st_file *w = NULL;
        CHECK_OK(nc_st_open(want_paths[f], &w));
        for (int64_t i = 0; w && i < nc_st_count(w); i++) {
            const nc_st_info *wi = nc_st_at(w, i);
            size_t nl = strlen(wi->name);
            if (nl > 10 && !strcmp(wi->name + nl - 10, ".attn.bias")) continue; /* causal mask buffer */
            const nc_st_info *gi = nc_st_find(g, wi->name);
            bool ok = gi && gi->dtype == wi->dtype && gi->ndim == wi->ndim && gi->nbytes == wi->nbytes &&
                      !memcmp(gi->data, wi->data, (size_t)wi->nbytes);
            for (int d = 0; ok && d < wi->ndim; d++) ok = gi->shape[d] == wi->shape[d];
            if (!ok) nc_test_fail(__FILE__, __LINE__, "%s: '%s' differs from %s", got_path, wi->name, want_paths[f]);
            nc_test_checks++;
            seen++;
        }
        nc_st_close(w);
    }
    if (!subset) CHECK(seen == nc_st_count(g));
    nc_st_close(g);
}

static void test_gpt2(const char *tmp) {
    const char *nemo = cat(tmp, "gpt2.nemo"), *back = cat(tmp, "gpt2_hf");
    nc_hf_report r;
    CHECK_OK(nc_llm_import_hf(ref("gpt2"), nemo, NULL, &r));
    CHECK(r.vocab_size == 257 && r.padded_vocab == 257 && !strcmp(r.model_type, "gpt2") && r.n_tensors == 28);
    check_weights(nemo, ref("gpt2_nemo.safetensors"), 257, NC_F16);
    check_config(nemo, "gpt2", 0);
    CHECK_OK(nc_llm_export_hf(nemo, back, NULL, &r));
    const char *src[] = {ref("gpt2/model.safetensors")};
    check_hf_tensors(cat(back, "model.safetensors"), src, 1, false);
    CHECK(same_file(cat(back, "vocab.json"), ref("gpt2/vocab.json")));
    CHECK(same_file(cat(back, "merges.txt"), ref("gpt2/merges.txt")));

    /* the hub's gpt2 model.safetensors names its tensors without the
     * "transformer." prefix (GPT2Model's state_dict): same result */
    nc_st_file *f = NULL;
    CHECK_OK(nc_st_open(ref("gpt2/model.safetensors"), &f));
    if (f) {
        int64_t n = nc_st_count(f);
        nc_st_entry *ents = nc_calloc((size_t)n, sizeof *ents);
        nc_tensor *views = nc_calloc((size_t)n, sizeof *views);
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/gpt2_bare", tmp);
        CHECK_OK(nc_mkdir_p(dir));
        for (int64_t i = 0; ents && views && i < n; i++) {
            const char *name = nc_st_at(f, i)->name;
            CHECK_OK(nc_st_get(f, name, &views[i]));
            ents[i] = (nc_st_entry){.name = strncmp(name, "transformer.", 12) ? name : name + 12, .tensor = &views[i]};
        }
        if (ents && views) CHECK_OK(nc_st_save(cat(dir, "model.safetensors"), ents, n, NULL));
        copy_file(ref("gpt2/config.json"), cat(dir, "config.json"));
        CHECK_OK(nc_llm_import_hf(dir, nemo, NULL, &r));
        check_weights(nemo, ref("gpt2_nemo.safetensors"), 257, NC_F16);
        nc_free(ents);
        nc_free(views);
        nc_st_close(f);
    }

    /* Megatron padding to 128 rows (384), then fp32: f16 -> f32 is exact */
    nc_hf_import_params p = nc_hf_import_default_params();
    p.make_vocab_size_divisible_by = 128;
    p.dtype = NC_CKPT_DTYPE_FP32;
    CHECK_OK(nc_llm_import_hf(ref("gpt2"), nemo, &p, &r));
    CHECK(r.padded_vocab == 384);
    check_weights(nemo, ref("gpt2_nemo.safetensors"), 384, NC_F32);
    /* back to fp16 and 257 rows (the GPT-2 tokenizer's size): the original bytes */
    nc_hf_export_params ep = nc_hf_export_default_params();
    ep.dtype = NC_CKPT_DTYPE_FP16;
    CHECK_OK(nc_llm_export_hf(nemo, cat(tmp, "gpt2_hf32"), &ep, &r));
    CHECK(r.vocab_size == 257 && r.padded_vocab == 384);
    check_hf_tensors(cat(cat(tmp, "gpt2_hf32"), "model.safetensors"), src, 1, false);
}

static void test_llama(const char *tmp) {
    const char *nemo = cat(tmp, "llama.nemo"), *back = cat(tmp, "llama_hf");
    nc_hf_report r;
    nc_hf_import_params p = nc_hf_import_default_params();
    p.make_vocab_size_divisible_by = 128;
    CHECK_OK(nc_llm_import_hf(ref("llama"), nemo, &p, &r));
    CHECK(r.vocab_size == 250 && r.padded_vocab == 256 && !strcmp(r.model_type, "llama"));
    CHECK(r.tokenizer_library && !strcmp(r.tokenizer_library, "sentencepiece"));
    check_weights(nemo, ref("llama_nemo.safetensors"), 256, NC_BF16);
    check_config(nemo, "llama", 128);
    CHECK_OK(nc_llm_export_hf(nemo, back, NULL, &r));
    CHECK(r.vocab_size == 250); /* the SentencePiece model's 250 pieces */
    const char *src[] = {ref("llama/model-00001-of-00002.safetensors"), ref("llama/model-00002-of-00002.safetensors")};
    check_hf_tensors(cat(back, "model.safetensors"), src, 2, false);
    const char *split[] = {ref("llama_split.safetensors")};
    check_hf_tensors(cat(back, "model.safetensors"), split, 1, true);
    CHECK(same_file(cat(back, "tokenizer.model"), ref("llama/tokenizer.model")));

    /* NeMo's default: no padding rows (250 = 2 x 125: divisible by 2) */
    CHECK_OK(nc_llm_import_hf(ref("llama"), nemo, NULL, &r));
    CHECK(r.padded_vocab == 250);
    check_weights(nemo, ref("llama_nemo.safetensors"), 250, NC_BF16);
    check_config(nemo, "llama", 0);
}

/* A .nemo under Transformer Engine's norm names (as NeMo's own converters
 * write, transformer_engine: true), with an _extra_state entry and without
 * the tokenizer artifact: export reads it (vocab_size given). */
static void test_te_names(const char *tmp) {
    const char *nemo = cat(tmp, "llama.nemo"), *te = cat(tmp, "llama_te.nemo");
    nc_hf_import_params p = nc_hf_import_default_params();
    p.make_vocab_size_divisible_by = 128;
    CHECK_OK(nc_llm_import_hf(ref("llama"), nemo, &p, NULL));
    nc_nemo *n = NULL;
    nc_tensor_list l = {0};
    char *yaml = NULL;
    size_t len = 0;
    CHECK_OK(nc_nemo_open(nemo, &n));
    if (!n) return;
    CHECK_OK(nc_nemo_load_weights(n, NULL, NULL, &l));
    CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
    for (int64_t i = 0; i < l.n; i++) {
        char *s = l.items[i].name, buf[256];
        char *at = strstr(s, "input_layernorm.weight");
        if (at) snprintf(buf, sizeof buf, "%.*sself_attention.linear_qkv.layer_norm_weight", (int)(at - s), s);
        else if ((at = strstr(s, "pre_mlp_layernorm.weight")))
            snprintf(buf, sizeof buf, "%.*smlp.linear_fc1.layer_norm_weight", (int)(at - s), s);
        else continue;
        nc_free(l.items[i].name);
        l.items[i].name = nc_strdup(buf);
    }
    int64_t one = 1;
    nc_tensor *extra = NULL;
    CHECK_OK(nc_tensor_new(NC_U8, 1, &one, &extra));
    CHECK_OK(nc_tensor_list_push(&l, "model.decoder.layers.0.self_attention.linear_qkv._extra_state", extra, NC_TORCH_AUTO));
    nc_nemo_contents c = {.config_yaml = yaml, .tensors = l.items, .n_tensors = l.n};
    CHECK_OK(nc_nemo_save(te, &c));
    nc_hf_export_params ep = nc_hf_export_default_params();
    ep.vocab_size = 250;
    nc_hf_report r;
    CHECK_OK(nc_llm_export_hf(te, cat(tmp, "llama_te_hf"), &ep, &r));
    CHECK(r.vocab_size == 250 && r.padded_vocab == 256);
    const char *src[] = {ref("llama/model-00001-of-00002.safetensors"), ref("llama/model-00002-of-00002.safetensors")};
    check_hf_tensors(cat(cat(tmp, "llama_te_hf"), "model.safetensors"), src, 2, false);

    /* architectures HF's gpt2/llama classes do not express are refused by key */
    static const char *const bad[][3] = {
        {"activation: fast-swiglu", "activation: squared-relu", "activation: 'squared-relu'"},
        {"normalization: rmsnorm", "normalization: layernorm1p", "normalization: 'layernorm1p'"},
        {"mcore_gpt: true", "mcore_gpt: false", "mcore_gpt: false"},
        {"position_embedding_type: rope", "position_embedding_type: alibi", "position_embedding_type: 'alibi'"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
        const char *at = strstr(yaml, bad[b][0]);
        CHECK(at != NULL);
        if (!at) continue;
        char *y2 = nc_malloc(len + 64);
        snprintf(y2, len + 64, "%.*s%s%s", (int)(at - yaml), yaml, bad[b][1], at + strlen(bad[b][0]));
        nc_nemo_contents c2 = {.config_yaml = y2, .tensors = l.items, .n_tensors = l.n};
        CHECK_OK(nc_nemo_save(te, &c2));
        CHECK_ERR(nc_llm_export_hf(te, cat(tmp, "bad_hf"), NULL, NULL), NC_ERR_UNSUPPORTED, bad[b][2]);
        nc_free(y2);
    }
    nc_free(yaml);
    nc_tensor_list_clear(&l);
    nc_nemo_close(n);
}

/* rotary_interleaved: true with q/k rows in Meta's interleaved order
 * (gen_hf_convert.py, the inverse of transformers' permute): export applies
 * the permutation and gives HF's rows back. */
static void test_interleaved(const char *tmp) {
    const char *nemo = cat(tmp, "llama.nemo"), *inter = cat(tmp, "llama_inter.nemo");
    CHECK_OK(nc_llm_import_hf(ref("llama"), nemo, NULL, NULL));
    nc_nemo *n = NULL;
    nc_st_file *f = NULL;
    nc_tensor_list l = {0};
    char *yaml = NULL;
    size_t len = 0;
    CHECK_OK(nc_nemo_open(nemo, &n));
    CHECK_OK(nc_st_open(ref("llama_interleaved.safetensors"), &f));
    if (!n || !f) goto out;
    CHECK_OK(nc_nemo_load_weights(n, NULL, NULL, &l));
    CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
    int replaced = 0;
    for (int64_t i = 0; i < l.n; i++) {
        nc_tensor v;
        if (nc_st_get(f, l.items[i].name, &v)) continue;
        CHECK(nc_nbytes(&v) == nc_nbytes(l.items[i].tensor));
        memcpy(l.items[i].tensor->data, v.data, nc_nbytes(&v));
        replaced++;
    }
    nc_clear_error();
    CHECK(replaced == 2);
    CHECK(!strstr(yaml, "rotary_interleaved")); /* NeMo's default, false, is not written */
    char *y2 = nc_malloc(len + 32);
    if (!y2) goto out;
    snprintf(y2, len + 32, "%srotary_interleaved: true\n", yaml);
    nc_nemo_contents c = {.config_yaml = y2, .tensors = l.items, .n_tensors = l.n};
    CHECK_OK(nc_nemo_save(inter, &c));
    nc_free(y2);
    nc_hf_export_params ep = nc_hf_export_default_params();
    ep.vocab_size = 250;
    CHECK_OK(nc_llm_export_hf(inter, cat(tmp, "llama_inter_hf"), &ep, NULL));
    const char *src[] = {ref("llama/model-00001-of-00002.safetensors"), ref("llama/model-00002-of-00002.safetensors")};
    check_hf_tensors(cat(cat(tmp, "llama_inter_hf"), "model.safetensors"), src, 2, false);
out:
    nc_free(yaml);
    nc_tensor_list_clear(&l);
    nc_st_close(f);
    nc_nemo_close(n);
}

/* Export's GELU: Megatron core runs the tanh approximation for openai_gelu
 * or for bias_activation_fusion with a bias (bias_gelu_impl; NeMo's default
 * fusion is on), erf GELU otherwise: HF gelu_new vs gelu. */
static void test_gelu(const char *tmp) {
    const char *nemo = cat(tmp, "gpt2.nemo"), *g2 = cat(tmp, "gelu.nemo");
    CHECK_OK(nc_llm_import_hf(ref("gpt2"), nemo, NULL, NULL));
    nc_nemo *n = NULL;
    nc_tensor_list l = {0};
    char *yaml = NULL;
    size_t len = 0;
    CHECK_OK(nc_nemo_open(nemo, &n));
    if (!n) return;
    CHECK_OK(nc_nemo_load_weights(n, NULL, NULL, &l));
    CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
    static const struct {
        const char *openai, *fusion, *want;
    } cases[] = {{"openai_gelu: false", "bias_activation_fusion: false", "\"gelu\""},
                 {"openai_gelu: false", "bias_activation_fusion: true", "\"gelu_new\""},
                 {"openai_gelu: true", "bias_activation_fusion: false", "\"gelu_new\""}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *y = nc_malloc(len + 64), *a = strstr(yaml, "openai_gelu: true"), *b = strstr(yaml, "bias_activation_fusion: false");
        CHECK(y && a && b && a < b);
        if (!y || !a || !b || a > b) {
            nc_free(y);
            break;
        }
        snprintf(y, len + 64, "%.*s%s%.*s%s%s", (int)(a - yaml), yaml, cases[k].openai,
                 (int)(b - a - strlen("openai_gelu: true")), a + strlen("openai_gelu: true"), cases[k].fusion,
                 b + strlen("bias_activation_fusion: false"));
        nc_nemo_contents c = {.config_yaml = y, .tensors = l.items, .n_tensors = l.n};
        CHECK_OK(nc_nemo_save(g2, &c));
        nc_free(y);
        char out[4200];
        snprintf(out, sizeof out, "%s/gelu%zu", tmp, k);
        CHECK_OK(nc_llm_export_hf(g2, out, NULL, NULL));
        void *js = NULL;
        size_t jl = 0;
        CHECK_OK(nc_read_file(cat(out, "config.json"), &js, &jl));
        char want[64];
        snprintf(want, sizeof want, "\"activation_function\":\t%s", cases[k].want);
        if (js && !strstr(js, want)) nc_test_fail(__FILE__, __LINE__, "case %zu: config.json lacks %s", k, want);
        nc_test_checks++;
        nc_free(js);
    }
    nc_free(yaml);
    nc_tensor_list_clear(&l);
    nc_nemo_close(n);
}

/* PyTorch checkpoints: the fixtures' tensors as pytorch_model.bin (GPT-2)
 * and two shards + pytorch_model.bin.index.json (Llama), written by nemoc's
 * torch.save writer (test_torch_ckpt_write checks it against torch.load). */
static void write_bin(const char *st_path, const char *bin_path) {
    nc_st_file *f = NULL;
    CHECK_OK(nc_st_open(st_path, &f));
    if (!f) return;
    nc_tensor_list l = {0};
    for (int64_t i = 0; i < nc_st_count(f); i++) {
        nc_tensor v, *c = NULL;
        CHECK_OK(nc_st_get(f, nc_st_at(f, i)->name, &v));
        CHECK_OK(nc_tensor_clone(&v, &c));
        CHECK_OK(nc_tensor_list_push(&l, nc_st_at(f, i)->name, c, NC_TORCH_AUTO));
    }
    CHECK_OK(nc_torch_ckpt_save(bin_path, l.items, l.n, NULL));
    nc_tensor_list_clear(&l);
    nc_st_close(f);
}

static void test_bin(const char *tmp) {
    char d[4200];
    snprintf(d, sizeof d, "%s/gpt2_bin", tmp);
    CHECK_OK(nc_mkdir_p(d));
    copy_file(ref("gpt2/config.json"), cat(d, "config.json"));
    write_bin(ref("gpt2/model.safetensors"), cat(d, "pytorch_model.bin"));
    const char *nemo = cat(tmp, "bin.nemo");
    CHECK_OK(nc_llm_import_hf(d, nemo, NULL, NULL));
    check_weights(nemo, ref("gpt2_nemo.safetensors"), 257, NC_F16);

    snprintf(d, sizeof d, "%s/llama_bin", tmp);
    CHECK_OK(nc_mkdir_p(d));
    copy_file(ref("llama/config.json"), cat(d, "config.json"));
    write_bin(ref("llama/model-00001-of-00002.safetensors"), cat(d, "pytorch_model-00001-of-00002.bin"));
    write_bin(ref("llama/model-00002-of-00002.safetensors"), cat(d, "pytorch_model-00002-of-00002.bin"));
    void *b = NULL;
    size_t n = 0;
    CHECK_OK(nc_read_file(ref("llama/model.safetensors.index.json"), &b, &n));
    if (b) { /* the same index with the .bin shard names */
        char *text = b, *out = nc_malloc(2 * n + 1), *o = out;
        for (const char *p = text; out && *p;) {
            const char *q = strstr(p, "\"model-");
            if (!q) {
                o += sprintf(o, "%s", p);
                break;
            }
            const char *e = strstr(q, ".safetensors\"");
            o += sprintf(o, "%.*s\"pytorch_model-%.*s.bin\"", (int)(q - p), p, (int)(e - q - 7), q + 7);
            p = e + 13;
        }
        if (out) CHECK_OK(nc_write_file_atomic(cat(d, "pytorch_model.bin.index.json"), out, strlen(out)));
        nc_free(out);
        nc_free(b);
    }
    CHECK_OK(nc_llm_import_hf(d, nemo, NULL, NULL));
    check_weights(nemo, ref("llama_nemo.safetensors"), 250, NC_BF16);
    remove(cat(d, "pytorch_model-00002-of-00002.bin"));
    CHECK_ERR(nc_llm_import_hf(d, nemo, NULL, NULL), NC_ERR_NOT_FOUND, "pytorch_model-00002-of-00002.bin");
}

/* An HF folder in tmp/name: the GPT-2 fixture's files, config.json text
 * with `from` replaced by `to` (when given). */
static const char *hf_variant(const char *tmp, const char *name, const char *from, const char *to) {
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    CHECK_OK(nc_mkdir_p(dir));
    copy_file(ref("gpt2/model.safetensors"), cat(dir, "model.safetensors"));
    void *b = NULL;
    size_t n = 0;
    CHECK_OK(nc_read_file(ref("gpt2/config.json"), &b, &n));
    char *text = b, *out = nc_malloc(n + 256);
    const char *at = from ? strstr(text, from) : NULL;
    if (from) CHECK(at != NULL);
    if (at) snprintf(out, n + 256, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    else snprintf(out, n + 256, "%s", text);
    CHECK_OK(nc_write_file_atomic(cat(dir, "config.json"), out, strlen(out)));
    nc_free(out);
    nc_free(b);
    return dir;
}

/* tokenizer.json: alone -> library huggingface with `type` the artifact;
 * beside vocab.json + merges.txt -> megatron, tokenizer.json carried as
 * tokenizer_file. Export writes every file back. The 757-entry
 * tokenizer.json (tests/ref/llm_tok/tiny_gpt2) is larger than the 257-row
 * embedding: override_vocab_size keeps NeMo at 257 rows, export keeps them. */
static void test_hf_tokenizer(const char *tmp) {
    const char *tj = nc_test_src("tests/ref/llm_tok/tiny_gpt2/tokenizer.json");
    char tok_json[4200];
    snprintf(tok_json, sizeof tok_json, "%s", tj);
    for (int both = 0; both < 2; both++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/hf_tok%d", tmp, both);
        CHECK_OK(nc_mkdir_p(dir));
        copy_file(ref("gpt2/config.json"), cat(dir, "config.json"));
        copy_file(ref("gpt2/model.safetensors"), cat(dir, "model.safetensors"));
        copy_file(tok_json, cat(dir, "tokenizer.json"));
        if (both) {
            copy_file(ref("gpt2/vocab.json"), cat(dir, "vocab.json"));
            copy_file(ref("gpt2/merges.txt"), cat(dir, "merges.txt"));
        }
        const char *nemo = cat(tmp, "hf_tok.nemo");
        nc_hf_report r;
        CHECK_OK(nc_llm_import_hf(dir, nemo, NULL, &r));
        CHECK(r.tokenizer_library && !strcmp(r.tokenizer_library, both ? "megatron" : "huggingface"));
        nc_nemo *n = NULL;
        char *yaml = NULL;
        size_t len;
        nc_cfg *c = NULL;
        CHECK_OK(nc_nemo_open(nemo, &n));
        if (!n) continue;
        CHECK_OK(nc_nemo_read_config(n, &yaml, &len));
        CHECK_OK(nc_cfg_parse(yaml, len, "model_config.yaml", &c));
        const char *ref_json = NULL;
        int64_t ov = 0;
        CHECK_OK(nc_cfg_get_str(c, both ? "tokenizer.tokenizer_file" : "tokenizer.type", &ref_json));
        CHECK(ref_json && !strncmp(ref_json, "nemo:", 5) && nc_nemo_find(n, ref_json));
        if (!both) CHECK_OK(nc_cfg_get_int(c, "override_vocab_size", &ov));
        CHECK(both || ov == 257);
        nc_cfg_free(c);
        nc_free(yaml);
        nc_nemo_close(n);
        char back[4200];
        snprintf(back, sizeof back, "%s/hf_tok_back%d", tmp, both);
        CHECK_OK(nc_llm_export_hf(nemo, back, NULL, &r));
        CHECK(r.vocab_size == 257);
        CHECK(same_file(cat(back, "tokenizer.json"), tok_json));
        if (both) CHECK(same_file(cat(back, "vocab.json"), ref("gpt2/vocab.json")));
        const char *src[] = {ref("gpt2/model.safetensors")};
        check_hf_tensors(cat(back, "model.safetensors"), src, 1, false);
    }
}

static void test_errors(const char *tmp) {
    const char *out = cat(tmp, "bad.nemo");
    CHECK_ERR(nc_llm_import_hf(cat(tmp, "nowhere"), out, NULL, NULL), NC_ERR_NOT_FOUND, "is not a folder");
    const char *d = hf_variant(tmp, "no_config", NULL, NULL);
    remove(cat(d, "config.json"));
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_NOT_FOUND, "no_config/config.json");
    d = hf_variant(tmp, "bert", "\"gpt2\"", "\"bert\"");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_UNSUPPORTED, "model_type 'bert' is not supported");
    d = hf_variant(tmp, "wide", "\"n_embd\": 64", "\"n_embd\": 128");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_SHAPE,
              "tensor 'transformer.wte.weight' has shape (257, 64) but config.json (vocab_size, n_embd) needs (257, 128)");
    d = hf_variant(tmp, "inner", "\"n_inner\": 128", "\"n_inner\": 96");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_SHAPE, "'transformer.h.0.mlp.c_fc.weight' has shape (64, 128)");
    d = hf_variant(tmp, "relu", "\"gelu_new\"", "\"relu\"");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_UNSUPPORTED, "activation_function 'relu'");
    d = hf_variant(tmp, "untied", "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_NOT_FOUND, "tensor 'lm_head.weight' is not in the checkpoint");
    d = hf_variant(tmp, "one_layer", "\"n_layer\": 2", "\"n_layer\": 1");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_UNSUPPORTED, "tensor 'transformer.h.1.");
    d = hf_variant(tmp, "no_vocab", "\"vocab_size\": 257,", "");
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_CONFIG, "key 'vocab_size' is missing");

    /* truncated safetensors: the reader's named error */
    d = hf_variant(tmp, "truncated", NULL, NULL);
    void *b = NULL;
    size_t n = 0;
    CHECK_OK(nc_read_file(ref("gpt2/model.safetensors"), &b, &n));
    CHECK_OK(nc_write_file_atomic(cat(d, "model.safetensors"), b, n / 2));
    nc_free(b);
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_FORMAT, "model.safetensors");
    remove(cat(d, "model.safetensors"));
    CHECK_ERR(nc_llm_import_hf(d, out, NULL, NULL), NC_ERR_NOT_FOUND, "no model.safetensors, model.safetensors.index.json, pytorch_model.bin");

    /* Llama: rope_scaling refused; a missing shard named */
    char ld[4200];
    snprintf(ld, sizeof ld, "%s/llama_bad", tmp);
    CHECK_OK(nc_mkdir_p(ld));
    copy_file(ref("llama/model.safetensors.index.json"), cat(ld, "model.safetensors.index.json"));
    copy_file(ref("llama/model-00001-of-00002.safetensors"), cat(ld, "model-00001-of-00002.safetensors"));
    CHECK_OK(nc_read_file(ref("llama/config.json"), &b, &n));
    char *t = b, *at = strstr(t, "\"rope_scaling\": null"), cfg[4096];
    CHECK(at != NULL);
    if (at) {
        snprintf(cfg, sizeof cfg, "%.*s\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}%s", (int)(at - t), t,
                 at + strlen("\"rope_scaling\": null"));
        CHECK_OK(nc_write_file_atomic(cat(ld, "config.json"), cfg, strlen(cfg)));
        CHECK_ERR(nc_llm_import_hf(ld, out, NULL, NULL), NC_ERR_UNSUPPORTED, "'rope_scaling' is not supported");
    }
    CHECK_OK(nc_write_file_atomic(cat(ld, "config.json"), b, n));
    nc_free(b);
    CHECK_ERR(nc_llm_import_hf(ld, out, NULL, NULL), NC_ERR_NOT_FOUND, "model-00002-of-00002.safetensors");

    /* no tokenizer: override_vocab_size carries the rows */
    d = hf_variant(tmp, "no_tok", NULL, NULL);
    CHECK_OK(nc_llm_import_hf(d, out, NULL, NULL));
    nc_nemo *nm = NULL;
    char *yaml = NULL;
    size_t len;
    nc_cfg *c = NULL;
    int64_t ov = 0;
    CHECK_OK(nc_nemo_open(out, &nm));
    if (nm) {
        CHECK_OK(nc_nemo_read_config(nm, &yaml, &len));
        CHECK_OK(nc_cfg_parse(yaml, len, "model_config.yaml", &c));
        CHECK_OK(nc_cfg_get_int(c, "override_vocab_size", &ov));
        CHECK(ov == 257 && !nc_cfg_has(c, "tokenizer"));
        nc_cfg_free(c);
        nc_free(yaml);
        nc_nemo_close(nm);
    }
    nc_ckpt_dtype dt;
    CHECK_ERR(nc_ckpt_dtype_parse("fp8", &dt), NC_ERR_INVALID_ARG, "dtype 'fp8'");
}

/* Every allocation of import and export can fail: with the debug allocator
 * failing allocation k (k = 1, 2, ... until the call succeeds), the call
 * returns NC_ERR_OOM and leaves no live blocks. */
static const char *oom_tmp;
static nc_status op_import_gpt2(void) { return nc_llm_import_hf(ref("gpt2"), cat(oom_tmp, "oom_g.nemo"), NULL, NULL); }
static nc_status op_import_llama(void) {
    nc_hf_import_params p = nc_hf_import_default_params();
    p.make_vocab_size_divisible_by = 128;
    return nc_llm_import_hf(ref("llama"), cat(oom_tmp, "oom_l.nemo"), &p, NULL);
}
static nc_status op_export_gpt2(void) { return nc_llm_export_hf(cat(oom_tmp, "oom_g.nemo"), cat(oom_tmp, "oom_g_hf"), NULL, NULL); }
static nc_status op_export_llama(void) { return nc_llm_export_hf(cat(oom_tmp, "oom_l.nemo"), cat(oom_tmp, "oom_l_hf"), NULL, NULL); }

static void sweep(const char *what, nc_status (*op)(void)) {
    int k;
    for (k = 1; k < 20000; k++) {
        nc_debug_alloc st = {.fail_at = k};
        nc_allocator dbg = nc_debug_allocator(&st);
        nc_allocator prev = nc_set_allocator(&dbg);
        nc_status s = op();
        nc_set_allocator(&prev);
        if (st.live_blocks != 0) {
            nc_test_fail(__FILE__, __LINE__, "%s: %lld blocks leaked with allocation %d failing", what,
                         (long long)st.live_blocks, k);
            break;
        }
        if (s == NC_OK && st.n_failed == 0) break;
        /* success despite a refused allocation: the atomic writer's folder fsync is best effort */
        if (s != NC_OK && s != NC_ERR_OOM) {
            nc_test_fail(__FILE__, __LINE__, "%s: allocation %d failing gave %s: %s", what, k, nc_status_str(s),
                         nc_last_error());
            break;
        }
    }
    CHECK(k > 1 && k < 20000);
    printf("  %-14s %d allocation points\n", what, k - 1);
}

static void test_oom(const char *tmp) {
    oom_tmp = tmp;
    sweep("import gpt2", op_import_gpt2);
    sweep("import llama", op_import_llama);
    sweep("export gpt2", op_export_gpt2);
    sweep("export llama", op_export_llama);
}

int main(void) {
    snprintf(ref_dir, sizeof ref_dir, "%s", nc_test_src("tests/ref/hf_convert"));
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", nc_test_tmpdir("llm_convert"));
    test_gpt2(tmp);
    test_llama(tmp);
    test_te_names(tmp);
    test_interleaved(tmp);
    test_hf_tokenizer(tmp);
    test_gelu(tmp);
    test_bin(tmp);
    test_oom(tmp);
    test_errors(tmp);
    return nc_test_finish("llm_convert");
}
