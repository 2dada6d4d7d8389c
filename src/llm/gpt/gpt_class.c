/* MegatronGPTModel on the model interface
 * (nemo/collections/nlp/models/language_modeling/megatron_gpt_model.py):
 * build from the model section, data from model.data, the training step's
 * mean next-token cross-entropy over the unmasked tokens (NeMo's loss_func:
 * sum(loss * mask) / sum(mask)) and validation loss and perplexity. */
#include <math.h>
#include <string.h>

#include "llm/gpt/gpt.h"
#include "nemoc/alloc.h"
#include "nemoc/trainer.h"

nc_status nc_gpt_build_params(nc_model *m, nc_gpt *g, uint64_t seed);
nc_status nc_gpt_load_tokenizer(nc_model *m, const nc_model_build_args *a, nc_tokenizer **out);

static nc_status gpt_build(nc_model *m, const nc_model_build_args *a) {
    nc_gpt *g = nc_calloc(1, sizeof *g);
    if (!g) return nc_error(NC_ERR_OOM, "MegatronGPTModel");
    m->impl = g;
    g->eos_id = g->bos_id = -1;
    nc_status s = nc_gpt_load_tokenizer(m, a, &g->tok);
    if (s) return s;
    if (g->tok) {
        nc_tokenizer_special sp = nc_tokenizer_special_ids(g->tok);
        g->eos_id = sp.eos_id;
        g->bos_id = sp.bos_id;
        if (nc_tokenizer_get_kind(g->tok) == NC_TOKENIZER_BYTE_BPE) {
            /* GPT2BPETokenizer: <|endoftext|> is eos and bos */
            g->eos_id = g->bos_id = nc_tokenizer_piece_to_id(g->tok, "<|endoftext|>");
        }
    }
    if ((s = nc_gpt_config_parse(m->cfg, g->tok ? nc_tokenizer_vocab_size(g->tok) : 0, &g->c))) return s;
    return nc_gpt_build_params(m, g, a->seed);
}

static void gpt_destroy(nc_model *m) {
    nc_gpt *g = m->impl;
    if (!g) return;
    nc_tokenizer_free(g->tok);
    nc_gpt_data_free(g->data);
    nc_free(g->layers);
    nc_free(g);
}

static nc_tensor *batch_loss(nc_ctx *ctx, const nc_gpt *g, const gpt_batch *b, nc_reduction red) {
    nc_tensor *h = nc_gpt_hidden(ctx, g, b->tokens, b->B, b->T, NULL);
    nc_tensor *logits = nc_gpt_logits(ctx, g, h);
    nc_tensor *lab = nc_from_data(ctx, NC_I64, NC_DIMS(b->B * b->T), b->labels);
    return nc_cross_entropy(ctx, nc_reshape(ctx, logits, NC_DIMS(b->B * b->T, g->c.padded_vocab)), lab, -100, 0.0f,
                            red);
}

static nc_status gpt_training_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss) {
    *loss = batch_loss(ctx, m->impl, batch, NC_REDUCE_MEAN);
    return nc_ctx_status(ctx);
}

static nc_status gpt_validation_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums) {
    const gpt_batch *b = batch;
    nc_tensor *l = batch_loss(ctx, m->impl, b, NC_REDUCE_SUM);
    nc_status s = nc_ctx_status(ctx);
    if (s) return s;
    sums[0] += nc_f32(l)[0];
    sums[1] += (double)b->n_loss;
    return NC_OK;
}

nc_status nc_gpt_accumulation(const nc_model *m, int world_size, int64_t *accumulate) {
    const nc_gpt *g = m->impl;
    const int64_t per_step = g->c.micro_batch_size * (world_size > 0 ? world_size : 1);
    if (g->c.global_batch_size % per_step)
        return nc_error(NC_ERR_CONFIG, "model.global_batch_size: %lld is not a multiple of micro_batch_size %lld x "
                        "%d data-parallel ranks", (long long)g->c.global_batch_size, (long long)g->c.micro_batch_size,
                        world_size);
    *accumulate = g->c.global_batch_size / per_step;
    return NC_OK;
}

/* Lightning's limit_*_batches as NeMo's sample counts read them: an int is
 * a count of global batches, a float (<= 1) one pass (0 here). */
static nc_status limit_batches(const nc_cfg *root, const char *key, int64_t *out) {
    *out = 0;
    nc_cfg_type t;
    if (!nc_cfg_has(root, key) || nc_cfg_get_type(root, key, &t) || t == NC_CFG_T_NULL) return NC_OK;
    if (t == NC_CFG_T_INT) return nc_cfg_get_int_in(root, key, 1, (int64_t)1 << 40, out);
    double f;
    nc_status s = nc_cfg_get_float_in(root, key, 0, 1, &f);
    if (s) return nc_error_prefix(s, "%s (a float is a fraction <= 1, an int a count of batches)", key);
    return NC_OK;
}

/* megatron_gpt_model.py: accumulation is derived, never set
 * (accumulate_grad_batches "do not modify"); val_check_interval and
 * limit_val_batches count global batches, the trainer counts micro batches. */
static nc_status gpt_configure_trainer(nc_model *m, const nc_cfg *root, int world, nc_trainer_params *tp) {
    nc_gpt *g = m->impl;
    if (tp->accumulate_grad_batches != 1)
        return nc_error(NC_ERR_CONFIG, "trainer.accumulate_grad_batches: must be 1 for MegatronGPTModel (the "
                        "accumulation is global_batch_size / (micro_batch_size x ranks))");
    if (tp->max_steps <= 0)
        return nc_error(NC_ERR_CONFIG, "trainer.max_steps: MegatronGPTModel needs max_steps > 0 (the training "
                        "samples are max_steps x global_batch_size)");
    int64_t acc;
    nc_status s = nc_gpt_accumulation(m, world, &acc);
    if (s) return s;
    tp->accumulate_grad_batches = acc;
    g->trainer_max_steps = tp->max_steps;
    if ((s = limit_batches(root, "trainer.limit_val_batches", &g->trainer_limit_val)) ||
        (s = limit_batches(root, "trainer.limit_test_batches", &g->trainer_limit_test)))
        return s;
    tp->limit_val_batches = g->trainer_limit_val * acc;
    if (tp->val_check_interval > 1) {
        g->trainer_val_check = (int64_t)tp->val_check_interval;
        tp->val_check_interval *= (double)acc;
    } else {
        g->trainer_val_check = (int64_t)(tp->val_check_interval * (double)tp->max_steps);
        if (g->trainer_val_check < 1) g->trainer_val_check = 1;
    }
    return NC_OK;
}

/* Replaces `from` (at pos, len n) in buf by `to`; false when it would not fit. */
static bool splice(char *buf, size_t cap, size_t pos, size_t n, const char *to) {
    const size_t len = strlen(buf), tl = strlen(to);
    if (len - n + tl + 1 > cap) return false;
    memmove(buf + pos + tl, buf + pos + n, len - pos - n + 1);
    memcpy(buf + pos, to, tl);
    return true;
}

/* Rewrites the first occurrence of `from` in buf into `to`. */
static void rewrite(char *buf, size_t cap, const char *from, const char *to) {
    char *at = strstr(buf, from);
    if (at) splice(buf, cap, (size_t)(at - buf), strlen(from), to);
}

/* Other spellings of the same weights, mapped onto the local layer spec's:
 *  - Transformer Engine's spec fuses the norms into the next linear
 *    (megatron/core/models/gpt/gpt_layer_specs.py): linear_qkv.layer_norm_*,
 *    linear_fc1.layer_norm_*; its `_extra_state` (fp8 metadata) is no weight;
 *  - megatron_amp_O2 checkpoints hold the model under `model.module.`;
 *  - NeMo 1.x's non-mcore GPT (`mcore_gpt: false`): the 1:1 names of
 *    scripts/checkpoint_converters/convert_gpt_nemo_to_mcore.py
 *    (build_key_mapping: language_model.encoder.layers.N.query_key_value ->
 *    decoder.layers.N.self_attention.linear_qkv, ... the tensors are the same;
 *    its rotary_pos_emb.inv_freq buffer is recomputed, not loaded). */
static const char *gpt_map_state_key(const char *key, char *buf, size_t cap) {
    static const struct {
        const char *from, *to;
    } names[] = {
        {".self_attention.linear_qkv.layer_norm_weight", ".input_layernorm.weight"},
        {".self_attention.linear_qkv.layer_norm_bias", ".input_layernorm.bias"},
        {".mlp.linear_fc1.layer_norm_weight", ".pre_mlp_layernorm.weight"},
        {".mlp.linear_fc1.layer_norm_bias", ".pre_mlp_layernorm.bias"},
        {"model.language_model.embedding.", "model.embedding."},
        {"model.language_model.encoder.layers.", "model.decoder.layers."},
        {"model.language_model.encoder.final_layernorm.", "model.decoder.final_layernorm."},
        {"model.language_model.output_layer.", "model.output_layer."},
        {".self_attention.query_key_value.", ".self_attention.linear_qkv."},
        {".self_attention.dense.", ".self_attention.linear_proj."},
        {".post_attention_layernorm.", ".pre_mlp_layernorm."},
        {".mlp.dense_h_to_4h.", ".mlp.linear_fc1."},
        {".mlp.dense_4h_to_h.", ".mlp.linear_fc2."},
    };
    const size_t n = strlen(key);
    if ((n >= 12 && !strcmp(key + n - 12, "_extra_state")) || strstr(key, "rotary_pos_emb.inv_freq")) return NULL;
    if (n + 64 >= cap) return key;
    memcpy(buf, key, n + 1);
    if (!strncmp(buf, "model.module.", 13)) splice(buf, cap, 6, 7, "");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) rewrite(buf, cap, names[i].from, names[i].to);
    return buf;
}

const nc_tokenizer *nc_gpt_tokenizer(const nc_model *m) { return ((const nc_gpt *)m->impl)->tok; }

static const nc_metric_def gpt_metrics[] = {
    {.name = "loss", .num = 0, .den = 1},
    {.name = "ppl", .num = 0, .den = 1, .exp = true},
};

const nc_model_class nc_gpt_model_class = {
    .target = "nemo.collections.nlp.models.language_modeling.megatron_gpt_model.MegatronGPTModel",
    .collection = "llm",
    .description = "GPT decoder language model (Megatron-core GPTModel)",
    .build = gpt_build,
    .destroy = gpt_destroy,
    .setup_data = nc_gpt_setup_data,
    .training_step = gpt_training_step,
    .validation_step = gpt_validation_step,
    .metrics = gpt_metrics,
    .n_metrics = 2,
    .n_sums = 2,
    .throughput_unit = "tok",
    .configure_trainer = gpt_configure_trainer,
    .map_state_key = gpt_map_state_key,
};

static const nc_model_class *const llm_classes[] = {&nc_gpt_model_class};

nc_status nc_llm_register(void) { return nc_model_register(llm_classes, 1); }
