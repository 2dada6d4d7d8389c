/* Text generation for MegatronGPTModel, as NeMo's
 * nemo/collections/nlp/modules/common/text_generation_utils.py
 * sample_sequence_batch runs it, with a key/value cache: the prompts are
 * right-padded and advance in lockstep from the shortest one; a sequence
 * still inside its prompt takes its next prompt token instead of a sample.
 * Per step: eos suppressed within min_tokens_to_generate, padded-vocabulary
 * ids never sampled; greedy argmax, or logits / temperature, NeMo's
 * repetition penalty (the logits of already generated ids divided by it),
 * top-k then top-p filtering and a multinomial draw. */
#include <math.h>
#include <string.h>

#include "core/clock.h"
#include "llm/gpt/gpt.h"
#include "nemoc/alloc.h"
#include "nemoc/rng.h"

int64_t nc_gpt_context(const nc_model *m) {
    const gpt_config *c = &((const nc_gpt *)m->impl)->c;
    return c->pos == GPT_POS_LEARNED ? c->max_pos : (c->max_pos > c->seq_length ? c->max_pos : c->seq_length);
}

nc_gen_params nc_gen_default_params(void) {
    return (nc_gen_params){.max_new_tokens = 30, .greedy = false, .temperature = 1.0, .top_k = 0, .top_p = 0.9,
                           .repetition_penalty = 1.2, .seed = 1234, .stop_at_eos = true};
}

/* Keeps the k largest logits (ties at the k-th kept), and then the smallest
 * set of ids whose probability reaches top_p; the rest become -inf. */
static void filter_logits(float *l, int64_t V, int64_t k, double top_p, float *tmp, int32_t *idx) {
    if (k > 0 && k < V) {
        memcpy(tmp, l, (size_t)V * sizeof(float));
        /* k-th largest by partial selection */
        float kth = -INFINITY;
        for (int64_t r = 0; r < k; r++) {
            int64_t best = -1;
            for (int64_t i = 0; i < V; i++)
                if (tmp[i] > -INFINITY && (best < 0 || tmp[i] > tmp[best])) best = i;
            if (best < 0) break;
            kth = tmp[best];
            tmp[best] = -INFINITY;
        }
        for (int64_t i = 0; i < V; i++)
            if (l[i] < kth) l[i] = -INFINITY;
    }
    if (top_p > 0 && top_p < 1.0) {
        float mx = -INFINITY;
        int64_t n = 0;
        for (int64_t i = 0; i < V; i++)
            if (l[i] > -INFINITY) {
                idx[n++] = (int32_t)i;
                if (l[i] > mx) mx = l[i];
            }
        double z = 0;
        for (int64_t j = 0; j < n; j++) z += exp((double)l[idx[j]] - mx);
        /* insertion order by descending logit (n is the surviving count) */
        for (int64_t a = 1; a < n; a++) {
            int32_t v = idx[a];
            int64_t b = a;
            while (b > 0 && l[idx[b - 1]] < l[v]) {
                idx[b] = idx[b - 1];
                b--;
            }
            idx[b] = v;
        }
        /* NeMo's top_k_logits: remove tokens with cumulative probability
         * above top_p, keeping the first one above it */
        double cum = 0;
        for (int64_t j = 0; j < n; j++) {
            if (cum > top_p) l[idx[j]] = -INFINITY;
            cum += exp((double)l[idx[j]] - mx) / z;
        }
    }
}

static int32_t pick(const float *logits, int64_t V, int64_t n_real, const nc_gen_params *p, const int32_t *gen,
                    int64_t n_gen, bool block_eos, int32_t eos, nc_rng *rng, float *work, float *tmp, int32_t *idx) {
    memcpy(work, logits, (size_t)V * sizeof(float));
    for (int64_t i = n_real; i < V; i++) work[i] = -INFINITY;
    if (block_eos && eos >= 0 && eos < V) work[eos] = -INFINITY;
    if (p->greedy) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (work[i] > work[best]) best = i;
        return (int32_t)best;
    }
    const float invt = (float)(1.0 / (p->temperature > 0 ? p->temperature : 1.0));
    for (int64_t i = 0; i < V; i++) work[i] *= invt;
    if (p->repetition_penalty != 1.0 && p->repetition_penalty > 0) {
        /* torch.scatter with the gathered values: a repeated id is divided
         * once (idx marks the ids done; filter_logits refills it after) */
        for (int64_t j = 0; j < n_gen; j++) idx[gen[j]] = 0;
        for (int64_t j = 0; j < n_gen; j++) {
            const int32_t t = gen[j];
            if (idx[t]) continue;
            idx[t] = 1;
            if (work[t] > -INFINITY) work[t] = (float)(work[t] / p->repetition_penalty);
        }
    }
    filter_logits(work, V, p->top_k, p->top_p, tmp, idx);
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        if (work[i] > mx) mx = work[i];
    double z = 0;
    for (int64_t i = 0; i < V; i++) z += work[i] > -INFINITY ? exp((double)work[i] - mx) : 0.0;
    double u = nc_rng_double(rng) * z, c = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < V; i++) {
        if (work[i] == -INFINITY) continue;
        last = i;
        c += exp((double)work[i] - mx);
        if (c > u) return (int32_t)i;
    }
    return (int32_t)last;
}

/* True when the decoded generated text of a sequence ends with a stop string. */
static bool hits_stop(const nc_gpt *g, const nc_gen_params *p, const int32_t *gen, int64_t n) {
    if (!p->stop_strings || !g->tok || !n) return false;
    char *text = NULL;
    if (nc_tokenizer_decode(g->tok, gen, n, &text)) return false;
    bool hit = false;
    size_t tl = strlen(text);
    for (const char *const *s = p->stop_strings; *s && !hit; s++) {
        size_t sl = strlen(*s);
        hit = sl && tl >= sl && strstr(text, *s) != NULL;
    }
    nc_free(text);
    return hit;
}

nc_status nc_gpt_generate(nc_model *m, int64_t B, const int32_t *const *ids, const int64_t *n, const nc_gen_params *p,
                          nc_gen_token_fn on_token, void *user, int32_t **out_ids, int64_t *out_n, nc_gen_stats *stats) {
    nc_gpt *g = m->impl;
    const gpt_config *c = &g->c;
    const int64_t V = c->padded_vocab, n_real = c->vocab;
    if (B <= 0) return nc_error(NC_ERR_INVALID_ARG, "generate: no prompts");
    int64_t min_len = INT64_MAX, max_len = 0;
    for (int64_t b = 0; b < B; b++) {
        if (n[b] < 1) return nc_error(NC_ERR_INVALID_ARG, "generate: prompt %lld is empty", (long long)b);
        for (int64_t i = 0; i < n[b]; i++)
            if (ids[b][i] < 0 || ids[b][i] >= n_real)
                return nc_error(NC_ERR_INVALID_ARG, "generate: prompt %lld holds id %d outside the vocabulary of %lld",
                                (long long)b, ids[b][i], (long long)n_real);
        if (n[b] < min_len) min_len = n[b];
        if (n[b] > max_len) max_len = n[b];
    }
    const int64_t ctx_max = nc_gpt_context(m);
    if (max_len > ctx_max)
        return nc_error(NC_ERR_INVALID_ARG, "generate: a prompt of %lld tokens exceeds the model's context of %lld",
                        (long long)max_len, (long long)ctx_max);
    if (p->max_new_tokens <= 0) { /* nothing to generate */
        for (int64_t b = 0; b < B; b++) {
            out_n[b] = 0;
            out_ids[b] = nc_malloc(sizeof(int32_t));
            if (!out_ids[b]) {
                for (int64_t q = 0; q < b; q++) nc_free(out_ids[q]);
                return nc_error(NC_ERR_OOM, "generate: output");
            }
        }
        if (stats) *stats = (nc_gen_stats){0};
        return NC_OK;
    }
    int64_t total = max_len + p->max_new_tokens;
    if (total > ctx_max) total = ctx_max; /* generation stops at the context's end */
    const int64_t cap = total;
    nc_ctx_params cp = nc_ctx_default_params();
    cp.precision = p->bf16 ? NC_PREC_BF16 : NC_PREC_F32;
    nc_ctx *ctx = NULL;
    gpt_kv_cache cache = {0};
    int64_t *seq = nc_calloc((size_t)(B * cap), sizeof(int64_t));
    int64_t *step_tok = nc_malloc((size_t)B * sizeof(int64_t));
    int32_t *gen = nc_calloc((size_t)(B * cap), sizeof(int32_t));
    int64_t *n_gen = nc_calloc((size_t)B, sizeof(int64_t));
    bool *done = nc_calloc((size_t)B, sizeof(bool));
    float *work = nc_malloc((size_t)(2 * V) * sizeof(float));
    int32_t *idx = nc_malloc((size_t)V * sizeof(int32_t));
    nc_status s = (!seq || !step_tok || !gen || !n_gen || !done || !work || !idx)
                      ? nc_error(NC_ERR_OOM, "generate: buffers")
                      : nc_ctx_create(&cp, &ctx);
    if (!s) s = nc_gpt_cache_init(g, B, cap, &cache);
    if (s) goto out;
    nc_set_grad_enabled(ctx, false);
    nc_set_training(ctx, false);
    nc_ctx_keep_bf16_params(ctx, p->bf16); /* the weights do not change while generating */
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < n[b]; i++) seq[b * cap + i] = ids[b][i];
    nc_rng rng;
    nc_rng_seed(&rng, p->seed);
    double t0 = nc_now_s(), t_prompt = 0;
    /* prefill the common prefix: positions [0, min_len) */
    int64_t *pre = nc_malloc((size_t)(B * min_len) * sizeof(int64_t));
    if (!pre) {
        s = nc_error(NC_ERR_OOM, "generate: prompt");
        goto out;
    }
    for (int64_t b = 0; b < B; b++) memcpy(pre + b * min_len, seq + b * cap, (size_t)min_len * sizeof(int64_t));
    nc_tensor *h = nc_gpt_hidden(ctx, g, pre, B, min_len, &cache);
    nc_free(pre);
    int64_t pos = min_len; /* the position the next token goes to */
    int64_t active = B;
    while (!(s = nc_ctx_status(ctx)) && active > 0 && pos < cap) {
        nc_tensor *last = nc_slice(ctx, h, 1, h->shape[1] - 1, h->shape[1], 1);
        nc_tensor *lg = nc_gpt_logits(ctx, g, last); /* (B, 1, V) */
        if ((s = nc_ctx_status(ctx))) break;
        if (pos == min_len) t_prompt = nc_now_s() - t0;
        for (int64_t b = 0; b < B; b++) {
            int64_t tok;
            if (pos < n[b]) {
                tok = seq[b * cap + pos]; /* still inside this prompt */
            } else if (done[b]) {
                tok = g->eos_id >= 0 ? g->eos_id : 0;
            } else {
                const bool block = p->min_new_tokens > 0 && n_gen[b] < p->min_new_tokens;
                tok = pick(nc_f32(lg) + b * V, V, n_real, p, gen + b * cap, n_gen[b], block, g->eos_id, &rng, work,
                           work + V, idx);
                gen[b * cap + n_gen[b]++] = (int32_t)tok;
                const char *piece = g->tok ? nc_tokenizer_id_to_piece(g->tok, (int32_t)tok) : NULL;
                bool stop = on_token && on_token(user, b, (int32_t)tok, piece);
                stop |= p->stop_at_eos && tok == g->eos_id;
                stop |= n_gen[b] >= p->max_new_tokens;
                stop |= hits_stop(g, p, gen + b * cap, n_gen[b]);
                if (stop) {
                    done[b] = true;
                    active--;
                }
            }
            seq[b * cap + pos] = tok;
            step_tok[b] = tok;
        }
        pos++;
        if (active == 0 || pos >= cap) break;
        nc_ctx_reset(ctx);
        h = nc_gpt_hidden(ctx, g, step_tok, B, 1, &cache);
    }
    if (s) goto out;
    for (int64_t b = 0; b < B; b++) {
        out_n[b] = n_gen[b];
        out_ids[b] = nc_malloc((size_t)(n_gen[b] ? n_gen[b] : 1) * sizeof(int32_t));
        if (!out_ids[b]) {
            for (int64_t q = 0; q < b; q++) nc_free(out_ids[q]);
            s = nc_error(NC_ERR_OOM, "generate: output");
            goto out;
        }
        memcpy(out_ids[b], gen + b * cap, (size_t)n_gen[b] * sizeof(int32_t));
    }
    if (stats) {
        int64_t np = 0, ng = 0;
        for (int64_t b = 0; b < B; b++) np += n[b], ng += n_gen[b];
        *stats = (nc_gen_stats){.prompt_tokens = np, .new_tokens = ng, .prompt_s = t_prompt,
                                .decode_s = nc_now_s() - t0 - t_prompt};
    }
out:
    nc_gpt_cache_free(&cache);
    nc_ctx_free(ctx);
    nc_free(seq), nc_free(step_tok), nc_free(gen), nc_free(n_gen), nc_free(done), nc_free(work), nc_free(idx);
    return s;
}
