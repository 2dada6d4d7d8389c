/* MegatronGPTModel's network: Megatron-core's GPTModel
 * (megatron/core/models/gpt/gpt_model.py) with the local layer spec, as
 * NeMo builds it for TP = PP = 1:
 *
 *   x = word_embeddings(tokens) [+ position_embeddings(pos)]; dropout
 *   per layer:  x += dropout(linear_proj(attention(input_layernorm(x))))
 *               x += dropout(linear_fc2(act(linear_fc1(pre_mlp_layernorm(x)))))
 *   logits = final_layernorm(x) @ (output_layer or word_embeddings)^T
 *
 * linear_qkv's rows are grouped per query group (attention.py
 * get_query_key_value_tensors): for group g, its heads/groups query heads,
 * then its key head, then its value head, kv_channels rows each. RoPE (if
 * any) rotates q and k before attention; with GQA each key/value head serves
 * heads/groups consecutive query heads. Parameter names are NeMo's .nemo
 * state_dict keys ("model." + the Megatron-core key). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "llm/gpt/gpt.h"
#include "nemoc/alloc.h"
#include "nemoc/arena.h"
#include "nemoc/rng.h"

static nc_tensor *add_param(nc_params *p, nc_init init, const char *fmt, int layer, const char *leaf, int nd,
                            int64_t d0, int64_t d1) {
    char name[256];
    if (layer >= 0)
        snprintf(name, sizeof name, "model.decoder.layers.%d.%s", layer, leaf);
    else
        snprintf(name, sizeof name, "%s", fmt);
    int64_t shape[2] = {d0, d1};
    nc_tensor *t = nc_params_add(p, name, NC_PARAM_TRAINABLE, NC_F32, nd, shape);
    if (t) nc_params_set_init(p, t, init);
    return t;
}

static nc_status declare(nc_model *m, nc_gpt *g) {
    const gpt_config *c = &g->c;
    nc_params *p = m->params;
    const int64_t H = c->hidden, kv = c->kv_channels;
    const int64_t qkv_rows = (c->heads + 2 * c->groups) * kv, fc1_rows = c->act == GPT_ACT_SWIGLU ? 2 * c->ffn : c->ffn;
    const float sd = (float)c->init_std;
    const float sd_out = c->scaled_init ? (float)(c->init_std / sqrt(2.0 * (double)c->num_layers)) : sd;
    const nc_init w_in = {NC_INIT_NORMAL, 0, sd}, w_out = {NC_INIT_NORMAL, 0, sd_out}, zero = {NC_INIT_ZEROS, 0, 0};
    /* layernorm1p stores gamma zero-centred: the norm multiplies by (1 + w) */
    const nc_init gamma = c->norm == GPT_NORM_LAYERNORM1P ? zero : (nc_init){NC_INIT_CONST, 1, 0};
    const bool norm_bias = c->norm != GPT_NORM_RMSNORM;
    g->wte = add_param(p, w_in, "model.embedding.word_embeddings.weight", -1, NULL, 2, c->padded_vocab, H);
    if (c->pos == GPT_POS_LEARNED)
        g->wpe = add_param(p, w_in, "model.embedding.position_embeddings.weight", -1, NULL, 2, c->max_pos, H);
    for (int l = 0; l < c->num_layers; l++) {
        gpt_layer *L = &g->layers[l];
        L->ln1_w = add_param(p, gamma, NULL, l, "input_layernorm.weight", 1, H, 0);
        if (norm_bias) L->ln1_b = add_param(p, zero, NULL, l, "input_layernorm.bias", 1, H, 0);
        L->qkv_w = add_param(p, w_in, NULL, l, "self_attention.linear_qkv.weight", 2, qkv_rows, H);
        if (c->bias) L->qkv_b = add_param(p, zero, NULL, l, "self_attention.linear_qkv.bias", 1, qkv_rows, 0);
        L->proj_w = add_param(p, w_out, NULL, l, "self_attention.linear_proj.weight", 2, H, c->heads * kv);
        if (c->bias) L->proj_b = add_param(p, zero, NULL, l, "self_attention.linear_proj.bias", 1, H, 0);
        L->ln2_w = add_param(p, gamma, NULL, l, "pre_mlp_layernorm.weight", 1, H, 0);
        if (norm_bias) L->ln2_b = add_param(p, zero, NULL, l, "pre_mlp_layernorm.bias", 1, H, 0);
        L->fc1_w = add_param(p, w_in, NULL, l, "mlp.linear_fc1.weight", 2, fc1_rows, H);
        if (c->bias) L->fc1_b = add_param(p, zero, NULL, l, "mlp.linear_fc1.bias", 1, fc1_rows, 0);
        L->fc2_w = add_param(p, w_out, NULL, l, "mlp.linear_fc2.weight", 2, H, c->ffn);
        if (c->bias) L->fc2_b = add_param(p, zero, NULL, l, "mlp.linear_fc2.bias", 1, H, 0);
        if (!L->ln1_w || !L->qkv_w || !L->proj_w || !L->ln2_w || !L->fc1_w || !L->fc2_w) return nc_error(NC_ERR_CONFIG, "MegatronGPTModel: %s", nc_last_error());
    }
    g->lnf_w = add_param(p, gamma, "model.decoder.final_layernorm.weight", -1, NULL, 1, H, 0);
    if (norm_bias) g->lnf_b = add_param(p, zero, "model.decoder.final_layernorm.bias", -1, NULL, 1, H, 0);
    if (!c->tied) g->out_w = add_param(p, w_in, "model.output_layer.weight", -1, NULL, 2, c->padded_vocab, H);
    if (!g->wte || !g->lnf_w || (c->pos == GPT_POS_LEARNED && !g->wpe) || (!c->tied && !g->out_w))
        return nc_error(NC_ERR_CONFIG, "MegatronGPTModel: %s", nc_last_error());
    return NC_OK;
}

nc_status nc_gpt_build_params(nc_model *m, nc_gpt *g, uint64_t seed) {
    const gpt_config *c = &g->c;
    int64_t per_layer = (c->heads + 2 * c->groups) * c->kv_channels * c->hidden + c->heads * c->kv_channels * c->hidden +
                        3 * c->ffn * c->hidden;
    nc_status s = nc_params_check_fits(c->num_layers * per_layer + 2 * c->padded_vocab * c->hidden);
    if (s) return s;
    g->layers = nc_calloc((size_t)c->num_layers, sizeof *g->layers);
    if (!g->layers) return nc_error(NC_ERR_OOM, "MegatronGPTModel: layers");
    if ((s = nc_params_create(&m->params)) || (s = declare(m, g)) || (s = nc_params_finalize(m->params))) return s;
    /* NeMo's get_params_for_weight_decay_optimization
     * (nlp/modules/common/megatron/utils.py): layer norms and biases get no
     * weight decay; here those are exactly the 1-D parameters */
    for (int64_t i = 0; i < nc_params_count(m->params); i++) {
        nc_tensor *t = nc_params_at(m->params, i);
        if (t->ndim == 1) nc_params_set_no_decay(m->params, t, true);
    }
    nc_rng rng;
    nc_rng_seed(&rng, seed);
    return nc_params_initialize(m->params, &rng);
}

static nc_tensor *norm(nc_ctx *ctx, const gpt_config *c, nc_tensor *x, nc_tensor *w, nc_tensor *b) {
    switch (c->norm) {
    case GPT_NORM_RMSNORM: return nc_rms_norm(ctx, x, w, c->eps);
    case GPT_NORM_LAYERNORM1P: return nc_layer_norm(ctx, x, nc_add_scalar(ctx, w, 1.0f), b, c->eps);
    default: return nc_layer_norm(ctx, x, w, b, c->eps);
    }
}

static nc_tensor *activation(nc_ctx *ctx, const gpt_config *c, nc_tensor *x) {
    switch (c->act) {
    case GPT_ACT_SWIGLU: return nc_swiglu(ctx, x);
    case GPT_ACT_SQUARED_RELU: return nc_pow(ctx, nc_relu(ctx, x), 2.0f);
    case GPT_ACT_RELU: return nc_relu(ctx, x);
    default: return nc_gelu(ctx, x, c->gelu_tanh);
    }
}

/* (B, T, G*kv) -> (B, T, H*kv): each group's head repeated for its H/G query heads. */
static nc_tensor *repeat_groups(nc_ctx *ctx, nc_tensor *x, int64_t G, int64_t rep, int64_t kv) {
    if (rep == 1 || !x) return x;
    const int64_t B = x->shape[0], T = x->shape[1];
    nc_tensor *x5 = nc_reshape(ctx, x, NC_DIMS(B, T, G, 1, kv));
    nc_tensor *parts[64];
    if (rep > 64) return nc_ctx_fail(ctx, NC_ERR_UNSUPPORTED, "more than 64 query heads per group");
    for (int64_t i = 0; i < rep; i++) parts[i] = x5;
    return nc_reshape(ctx, nc_concat(ctx, (int)rep, parts, 3), NC_DIMS(B, T, G * rep * kv));
}

/* Causal attention with dropout on the probabilities (training with
 * attention_dropout > 0): the unfused chain, (B, H, T, T) materialised. */
static nc_tensor *attention_dropout(nc_ctx *ctx, nc_tensor *q, nc_tensor *k, nc_tensor *v, int64_t H, float p) {
    const int64_t B = q->shape[0], T = q->shape[1], dk = q->shape[2] / H;
    nc_tensor *qh = nc_permute(ctx, nc_reshape(ctx, q, NC_DIMS(B, T, H, dk)), (int[]){0, 2, 1, 3});
    nc_tensor *kh = nc_permute(ctx, nc_reshape(ctx, k, NC_DIMS(B, T, H, dk)), (int[]){0, 2, 1, 3});
    nc_tensor *vh = nc_permute(ctx, nc_reshape(ctx, v, NC_DIMS(B, T, H, dk)), (int[]){0, 2, 1, 3});
    nc_tensor *mask = nc_empty(ctx, NC_U8, NC_DIMS(1, 1, T, T));
    if (!mask) return NULL;
    uint8_t *mk = mask->data;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) mk[i * T + j] = j > i;
    nc_tensor *sc = nc_scale(ctx, nc_matmul(ctx, qh, kh, false, true), 1.0f / sqrtf((float)dk));
    nc_tensor *pr = nc_dropout(ctx, nc_softmax(ctx, nc_masked_fill(ctx, sc, mask, -INFINITY), -1), p);
    nc_tensor *o = nc_permute(ctx, nc_matmul(ctx, pr, vh, false, false), (int[]){0, 2, 1, 3});
    return nc_reshape(ctx, nc_contiguous_copy(ctx, o), NC_DIMS(B, T, H * dk));
}

/* Megatron's core attention: (q, k, v) -> context, the part selective
 * activation checkpointing recomputes. */
static nc_tensor *core_attention(nc_ctx *ctx, void *user, nc_tensor *const *in) {
    const nc_gpt *g = user;
    const gpt_config *c = &g->c;
    const int64_t G = c->groups, rep = c->heads / G, kv = c->kv_channels;
    nc_tensor *k = repeat_groups(ctx, in[1], G, rep, kv), *v = repeat_groups(ctx, in[2], G, rep, kv);
    if (c->attention_dropout > 0 && nc_training(ctx)) return attention_dropout(ctx, in[0], k, v, c->heads, c->attention_dropout);
    nc_attention_params ap = {.n_heads = c->heads, .causal = true};
    return nc_attention(ctx, in[0], k, v, NULL, NULL, NULL, &ap);
}

static nc_tensor *self_attention(nc_ctx *ctx, const nc_gpt *g, const gpt_layer *L, nc_tensor *x, int l,
                                 gpt_kv_cache *cache) {
    const gpt_config *c = &g->c;
    const int64_t B = x->shape[0], T = x->shape[1], G = c->groups, rep = c->heads / G, kv = c->kv_channels;
    nc_tensor *qkv = nc_linear(ctx, x, L->qkv_w, L->qkv_b);
    nc_tensor *q4 = nc_reshape(ctx, qkv, NC_DIMS(B, T, G, (rep + 2) * kv));
    nc_tensor *q = nc_reshape(ctx, nc_slice(ctx, q4, 3, 0, rep * kv, 1), NC_DIMS(B, T, c->heads * kv));
    nc_tensor *k = nc_reshape(ctx, nc_slice(ctx, q4, 3, rep * kv, (rep + 1) * kv, 1), NC_DIMS(B, T, G * kv));
    nc_tensor *v = nc_reshape(ctx, nc_slice(ctx, q4, 3, (rep + 1) * kv, (rep + 2) * kv, 1), NC_DIMS(B, T, G * kv));
    const int64_t pos0 = cache ? cache->len : 0;
    if (c->pos == GPT_POS_ROPE) {
        nc_rope_params rq = {.n_heads = c->heads, .rot_dim = c->rot_dim, .base = c->rotary_base, .pos0 = pos0};
        nc_rope_params rk = rq;
        rk.n_heads = G;
        q = nc_rope(ctx, q, &rq);
        k = nc_rope(ctx, k, &rk);
    }
    if (!q || !k || !v) return NULL;
    nc_tensor *a;
    if (cache) {
        /* append the new keys/values at [len, len + T), then attend over all */
        const int64_t row = G * kv, blk = B * cache->cap * row;
        float *kc = cache->k + l * blk, *vc = cache->v + l * blk;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                memcpy(kc + (b * cache->cap + pos0 + t) * row, nc_f32(k) + (b * T + t) * row, (size_t)row * sizeof(float));
                memcpy(vc + (b * cache->cap + pos0 + t) * row, nc_f32(v) + (b * T + t) * row, (size_t)row * sizeof(float));
            }
        nc_tensor kt, vt;
        nc_tensor_init(&kt, NC_F32, NC_DIMS(B, cache->cap, row), kc);
        nc_tensor_init(&vt, NC_F32, NC_DIMS(B, cache->cap, row), vc);
        a = nc_attention_cached(ctx, q, &kt, &vt, pos0, c->heads, 0.0f);
    } else {
        nc_tensor *qkv3[3] = {q, k, v};
        a = c->ckpt_granularity == 1 ? nc_checkpoint(ctx, core_attention, (void *)g, 3, qkv3)
                                     : core_attention(ctx, (void *)g, qkv3);
    }
    return nc_linear(ctx, a, L->proj_w, L->proj_b);
}

/* One transformer layer (Megatron-core's TransformerLayer with the local spec). */
static nc_tensor *layer_fwd(nc_ctx *ctx, const nc_gpt *g, int l, nc_tensor *x, gpt_kv_cache *cache) {
    const gpt_config *c = &g->c;
    const gpt_layer *L = &g->layers[l];
    nc_tensor *a = self_attention(ctx, g, L, norm(ctx, c, x, L->ln1_w, L->ln1_b), l, cache);
    x = nc_add_dropout(ctx, x, a, c->hidden_dropout, 1.0f);
    nc_tensor *h = nc_linear(ctx, norm(ctx, c, x, L->ln2_w, L->ln2_b), L->fc1_w, L->fc1_b);
    h = nc_linear(ctx, activation(ctx, c, h), L->fc2_w, L->fc2_b);
    return nc_add_dropout(ctx, x, h, c->hidden_dropout, 1.0f);
}

/* Layers [l0, l1) as one checkpointed segment (full granularity). */
typedef struct layer_span {
    const nc_gpt *g;
    int l0, l1;
} layer_span;

static nc_tensor *layer_segment(nc_ctx *ctx, void *user, nc_tensor *const *in) {
    const layer_span *sp = user;
    nc_tensor *x = in[0];
    for (int l = sp->l0; l < sp->l1 && x; l++) x = layer_fwd(ctx, sp->g, l, x, NULL);
    return x;
}

nc_tensor *nc_gpt_hidden(nc_ctx *ctx, const nc_gpt *g, const int64_t *tokens, int64_t B, int64_t T,
                         gpt_kv_cache *cache) {
    const gpt_config *c = &g->c;
    const int64_t pos0 = cache ? cache->len : 0;
    if (pos0 + T > c->max_pos && c->pos == GPT_POS_LEARNED)
        return nc_ctx_fail(ctx, NC_ERR_INVALID_ARG, "%lld positions exceed max_position_embeddings %lld",
                           (long long)(pos0 + T), (long long)c->max_pos);
    nc_tensor *ids = nc_from_data(ctx, NC_I64, NC_DIMS(B, T), tokens);
    nc_tensor *x = nc_embedding(ctx, g->wte, ids, -1);
    if (c->pos == GPT_POS_LEARNED) {
        nc_tensor *pos = nc_empty(ctx, NC_I64, NC_DIMS(T));
        if (!pos) return NULL;
        for (int64_t t = 0; t < T; t++) nc_i64(pos)[t] = pos0 + t;
        x = nc_add(ctx, x, nc_embedding(ctx, g->wpe, pos, -1));
    }
    x = nc_dropout(ctx, x, c->hidden_dropout);
    /* Without gradients nothing outlives the layer that reads it: each layer
     * runs in arena space handed back once its output is copied into one of
     * two buffers made before (validation and generation memory stays one
     * layer's, as conformer_fwd.c does for speech). */
    const bool frugal = !nc_grad_enabled(ctx) && x;
    nc_arena *arena = nc_ctx_arena(ctx);
    nc_tensor *buf[2] = {NULL, NULL};
    if (frugal) {
        buf[0] = nc_empty(ctx, NC_F32, x->ndim, x->shape);
        buf[1] = nc_empty(ctx, NC_F32, x->ndim, x->shape);
        if (!buf[0] || !buf[1]) return NULL;
    }
    for (int l = 0; l < c->num_layers && x;) {
        if (frugal) {
            nc_arena_mark mk = nc_arena_mark_get(arena);
            nc_tensor *y = layer_fwd(ctx, g, l, x, cache);
            if (!y) return NULL;
            nc_tensor *dst = buf[x == buf[0] ? 1 : 0];
            memcpy(dst->data, y->data, nc_nbytes(y));
            nc_arena_rewind(arena, mk);
            x = dst;
            l++;
            continue;
        }
        int n = 1;
        if (c->ckpt_granularity == 2 && !cache) {
            /* full: uniform groups of ckpt_layers layers, or (block) the first ckpt_layers layers one by one */
            n = c->ckpt_block ? 1 : (int)c->ckpt_layers;
            if (l + n > c->num_layers) n = c->num_layers - l;
            if (!c->ckpt_block || l < c->ckpt_layers) {
                layer_span *sp = nc_scratch(ctx, sizeof *sp);
                if (!sp) return NULL;
                *sp = (layer_span){g, l, l + n};
                x = nc_checkpoint(ctx, layer_segment, sp, 1, &x);
                l += n;
                continue;
            }
        }
        x = layer_fwd(ctx, g, l, x, cache);
        l++;
    }
    if (cache && x) cache->len += T;
    return norm(ctx, c, x, g->lnf_w, g->lnf_b);
}

nc_tensor *nc_gpt_logits(nc_ctx *ctx, const nc_gpt *g, nc_tensor *h) {
    return nc_linear(ctx, h, g->c.tied ? g->wte : g->out_w, NULL);
}

nc_status nc_gpt_cache_init(const nc_gpt *g, int64_t B, int64_t cap, gpt_kv_cache *c) {
    memset(c, 0, sizeof *c);
    const int64_t n = g->c.num_layers * B * cap * g->c.groups * g->c.kv_channels;
    c->k = nc_malloc((size_t)n * sizeof(float));
    c->v = nc_malloc((size_t)n * sizeof(float));
    if (!c->k || !c->v) {
        nc_gpt_cache_free(c);
        return nc_error(NC_ERR_OOM, "key/value cache of %lld x %lld positions", (long long)B, (long long)cap);
    }
    c->B = B;
    c->cap = cap;
    return NC_OK;
}

void nc_gpt_cache_free(gpt_kv_cache *c) {
    nc_free(c->k);
    nc_free(c->v);
    memset(c, 0, sizeof *c);
}
