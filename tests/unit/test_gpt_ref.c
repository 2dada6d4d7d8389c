/* MegatronGPTModel against Megatron-LM's own megatron.core GPTModel
 * (tests/ref/gen_megatron_gpt.py, fixtures in tests/ref/megatron_gpt/ with
 * NeMo's build_transformer_config; the README there has the formulas):
 * GPT-2-style (layernorm, tanh-gelu, learned positions, tied), Llama-style
 * (rmsnorm, swiglu, rope, GQA, untied) and Nemotron-style (layernorm1p,
 * squared-relu, 50% rope, MQA). Per case: logits and the masked loss within
 * 1e-4 / 1e-5 relative, every parameter gradient within 1e-4 relative, the
 * greedy continuation of the fixture's prompt exactly (generated here with
 * the KV cache, there by full recomputation); the GPT-2 .nemo loads and gives
 * the same logits; Transformer Engine's parameter names load too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "llm/gpt/gpt.h"
#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"
#include "nemoc/llm_gpt.h"
#include "nemoc/safetensors.h"

static const char *dir_of(const char *c) {
    static char d[4096];
    snprintf(d, sizeof d, "%s/%s", nc_test_src("tests/ref/megatron_gpt"), c);
    return d;
}

static nc_model *build(const char *c) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model_config.yaml", dir_of(c));
    nc_cfg *cfg = NULL;
    nc_model *m = NULL;
    nc_model_build_args ba = {.seed = 1};
    CHECK_OK(nc_cfg_load(path, &cfg));
    if (cfg) CHECK_OK(nc_model_create(cfg, "MegatronGPTModel", &ba, &m));
    nc_cfg_free(cfg);
    return m;
}

/* Copies every fixture weight into the model: names and shapes must match 1:1. */
static void load_weights(nc_model *m, const char *c) {
    char path[4200];
    snprintf(path, sizeof path, "%s/weights.safetensors", dir_of(c));
    nc_st_file *f = NULL;
    CHECK_OK(nc_st_open(path, &f));
    if (!f) return;
    CHECK(nc_st_count(f) == nc_params_count(m->params));
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        nc_tensor *t = nc_params_at(m->params, i), w;
        if (nc_st_get(f, t->name, &w)) {
            CHECK(!"weight missing from the fixture");
            printf("  missing: %s\n", t->name);
            continue;
        }
        CHECK(nc_numel(&w) == nc_numel(t));
        if (nc_numel(&w) == nc_numel(t)) memcpy(t->data, w.data, (size_t)nc_numel(t) * sizeof(float));
    }
    nc_st_close(f);
}

static double max_abs(const float *x, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* max |got - want| / max |want| */
static double scaled_err(const float *got, const float *want, int64_t n) {
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs((double)got[i] - want[i]));
    double s = max_abs(want, n);
    return s > 0 ? e / s : e;
}

static void run_case(const char *c) {
    printf("== %s\n", c);
    nc_model *m = build(c);
    if (!m) return;
    load_weights(m, c);
    nc_gpt *g = m->impl;
    char path[4200];
    snprintf(path, sizeof path, "%s/io.safetensors", dir_of(c));
    nc_st_file *io = NULL;
    CHECK_OK(nc_st_open(path, &io));
    nc_tensor tok, lab, mask, logits_ref, loss_ref;
    if (!io || nc_st_get(io, "tokens", &tok) || nc_st_get(io, "labels", &lab) || nc_st_get(io, "loss_mask", &mask) ||
        nc_st_get(io, "logits", &logits_ref) || nc_st_get(io, "loss", &loss_ref)) {
        CHECK(!"fixture tensors");
        nc_model_free(m);
        return;
    }
    const int64_t B = tok.shape[0], T = tok.shape[1];
    int64_t labels[256];
    for (int64_t i = 0; i < B * T; i++) labels[i] = nc_f32(&mask)[i] != 0 ? nc_i64(&lab)[i] : -100;
    nc_ctx *ctx = NULL;
    CHECK_OK(nc_ctx_create(NULL, &ctx));
    nc_set_training(ctx, true); /* dropout 0: train mode changes nothing but exercises its paths */
    nc_tensor *h = nc_gpt_hidden(ctx, g, nc_i64(&tok), B, T, NULL);
    nc_tensor *lg = nc_gpt_logits(ctx, g, h);
    nc_tensor *lt = nc_from_data(ctx, NC_I64, NC_DIMS(B * T), labels);
    nc_tensor *loss = nc_cross_entropy(ctx, nc_reshape(ctx, lg, NC_DIMS(B * T, g->c.padded_vocab)), lt, -100, 0.0f,
                                       NC_REDUCE_MEAN);
    CHECK_OK(nc_ctx_status(ctx));
    if (loss) {
        double el = scaled_err(nc_f32(lg), nc_f32(&logits_ref), nc_numel(&logits_ref));
        double ls = nc_f32(loss)[0], lr = nc_f32(&loss_ref)[0];
        printf("logits error %.3g (scaled), loss %.7f vs %.7f\n", el, ls, lr);
        CHECK(el <= 1e-4);
        CHECK(fabs(ls - lr) <= 1e-5 * fabs(lr));
        CHECK_OK(nc_backward(ctx, loss));
        double worst = 0;
        const char *worst_name = "";
        for (int64_t i = 0; i < nc_params_count(m->params); i++) {
            nc_tensor *t = nc_params_at(m->params, i), gr;
            char key[600];
            snprintf(key, sizeof key, "grad.%s", t->name);
            if (nc_st_get(io, key, &gr)) {
                CHECK(!"gradient missing from the fixture");
                continue;
            }
            const float *mine = nc_params_flat_grad(m->params) + nc_params_offset_at(m->params, i);
            double e = scaled_err(mine, nc_f32(&gr), nc_numel(&gr));
            if (e > worst) worst = e, worst_name = t->name;
        }
        printf("gradients: worst error %.3g (%s) over %lld tensors\n", worst, worst_name,
               (long long)nc_params_count(m->params));
        CHECK(worst <= 1e-4);
    }
    nc_ctx_free(ctx);
    nc_st_close(io);

    /* greedy continuation with the KV cache = Megatron's full recomputation */
    snprintf(path, sizeof path, "%s/generate.safetensors", dir_of(c));
    nc_st_file *gf = NULL;
    nc_tensor pr, want;
    CHECK_OK(nc_st_open(path, &gf));
    if (gf && !nc_st_get(gf, "prompt", &pr) && !nc_st_get(gf, "greedy", &want)) {
        int32_t ids[64];
        const int64_t np = nc_numel(&pr), nw = nc_numel(&want);
        for (int64_t i = 0; i < np; i++) ids[i] = (int32_t)nc_i64(&pr)[i];
        const int32_t *pp[1] = {ids};
        int32_t *out[1] = {NULL};
        int64_t on[1] = {0};
        nc_gen_params gp = nc_gen_default_params();
        gp.greedy = true;
        gp.max_new_tokens = nw;
        CHECK_OK(nc_gpt_generate(m, 1, pp, &np, &gp, NULL, NULL, out, on, NULL));
        CHECK(on[0] == nw);
        int agree = 0;
        for (int64_t i = 0; i < nw && i < on[0] && out[0][i] == nc_i64(&want)[i]; i++) agree++;
        printf("greedy: %d of %lld tokens equal Megatron's\n", agree, (long long)nw);
        CHECK(agree == nw);
        nc_free(out[0]);
    } else {
        CHECK(!"generate fixture");
    }
    nc_st_close(gf);
    nc_model_free(m);
}

/* The .nemo NeMo's connector layout holds (tar of ./model_config.yaml and
 * ./model_weights.ckpt) loads whole and computes the fixture's logits; with
 * Transformer Engine's names for the norms the same weights load too. */
static void nemo_file(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/gpt2.nemo", dir_of("gpt2"));
    nc_model *m = NULL;
    CHECK_OK(nc_model_load(path, &m));
    if (!m) return;
    snprintf(path, sizeof path, "%s/io.safetensors", dir_of("gpt2"));
    nc_st_file *io = NULL;
    nc_tensor tok, logits_ref;
    CHECK_OK(nc_st_open(path, &io));
    if (io && !nc_st_get(io, "tokens", &tok) && !nc_st_get(io, "logits", &logits_ref)) {
        nc_ctx *ctx = NULL;
        CHECK_OK(nc_ctx_create(NULL, &ctx));
        nc_set_grad_enabled(ctx, false);
        nc_tensor *lg = nc_gpt_logits(ctx, m->impl, nc_gpt_hidden(ctx, m->impl, nc_i64(&tok), tok.shape[0],
                                                                   tok.shape[1], NULL));
        CHECK_OK(nc_ctx_status(ctx));
        if (lg) {
            double e = scaled_err(nc_f32(lg), nc_f32(&logits_ref), nc_numel(&logits_ref));
            printf("gpt2.nemo: logits error %.3g\n", e);
            CHECK(e <= 1e-4);
        }
        nc_ctx_free(ctx);
    }
    nc_st_close(io);
    const nc_model_class *cls = m->cls;
    char buf[512];
    CHECK(!strcmp(cls->map_state_key("model.decoder.layers.3.self_attention.linear_qkv.layer_norm_weight", buf,
                                     sizeof buf), "model.decoder.layers.3.input_layernorm.weight"));
    CHECK(!strcmp(cls->map_state_key("model.decoder.layers.0.mlp.linear_fc1.layer_norm_bias", buf, sizeof buf),
                  "model.decoder.layers.0.pre_mlp_layernorm.bias"));
    CHECK(cls->map_state_key("model.decoder.layers.0.self_attention.core_attention._extra_state", buf,
                             sizeof buf) == NULL);
    CHECK(!strcmp(cls->map_state_key("model.output_layer.weight", buf, sizeof buf), "model.output_layer.weight"));
    /* megatron_amp_O2's model.module. prefix and NeMo 1.x's non-mcore names
     * (convert_gpt_nemo_to_mcore.py build_key_mapping) */
    static const char *const legacy[][2] = {
        {"model.module.decoder.layers.1.mlp.linear_fc2.bias", "model.decoder.layers.1.mlp.linear_fc2.bias"},
        {"model.language_model.embedding.word_embeddings.weight", "model.embedding.word_embeddings.weight"},
        {"model.language_model.embedding.position_embeddings.weight", "model.embedding.position_embeddings.weight"},
        {"model.language_model.encoder.layers.11.input_layernorm.bias", "model.decoder.layers.11.input_layernorm.bias"},
        {"model.language_model.encoder.layers.0.self_attention.query_key_value.weight",
         "model.decoder.layers.0.self_attention.linear_qkv.weight"},
        {"model.language_model.encoder.layers.0.self_attention.dense.bias", "model.decoder.layers.0.self_attention.linear_proj.bias"},
        {"model.language_model.encoder.layers.2.post_attention_layernorm.weight",
         "model.decoder.layers.2.pre_mlp_layernorm.weight"},
        {"model.language_model.encoder.layers.2.mlp.dense_h_to_4h.weight", "model.decoder.layers.2.mlp.linear_fc1.weight"},
        {"model.language_model.encoder.layers.2.mlp.dense_4h_to_h.weight", "model.decoder.layers.2.mlp.linear_fc2.weight"},
        {"model.language_model.encoder.final_layernorm.weight", "model.decoder.final_layernorm.weight"},
        {"model.language_model.output_layer.weight", "model.output_layer.weight"},
    };
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        const char *got = cls->map_state_key(legacy[i][0], buf, sizeof buf);
        CHECK(got && !strcmp(got, legacy[i][1]));
    }
    CHECK(cls->map_state_key("model.language_model.rotary_pos_emb.inv_freq", buf, sizeof buf) == NULL);
    nc_model_free(m);
}

int main(void) {
    CHECK_OK(nc_register_collections());
    run_case("gpt2");
    run_case("llama");
    run_case("nemotron");
    nemo_file();
    return nc_test_finish("gpt_ref");
}
