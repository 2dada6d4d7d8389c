/* Unigram and bigram perplexity baselines for a language model's
 * validation split: counts over the training split's documents (one pass,
 * in document order), scored on exactly the next-token predictions the
 * model's validation makes (the GPTDataset validation samples of
 * model.data, micro_batch_size at a time with drop_last, each sample's
 * tokens 1..T given the one before). So the baselines and val_ppl cover the
 * same tokens.
 *   unigram: add-one (Laplace) over the tokenizer's vocabulary;
 *   bigram: interpolated Kneser-Ney with one discount D = n1 / (n1 + 2 n2)
 *           (Chen & Goodman 1998, sec. 3), the continuation distribution
 *           itself add-one smoothed so that no token has probability 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/gpt/gpt.h"
#include "nemoc/alloc.h"
#include "nemoc/llm_data.h"

typedef struct bigram {
    uint64_t key; /* prev << 32 | next */
    int64_t n;
} bigram;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_bigram(const void *a, const void *b) {
    uint64_t x = ((const bigram *)a)->key, y = ((const bigram *)b)->key;
    return x < y ? -1 : x > y;
}

nc_status nc_gpt_ngram_baseline(const nc_cfg *model_cfg, int64_t vocab, nc_gpt_baseline *out) {
    memset(out, 0, sizeof *out);
    nc_gpt_data_params p;
    nc_status s = nc_gpt_data_params_from_cfg(model_cfg, &p);
    if (s) return s;
    int64_t mbs = 1;
    nc_indexed_dataset *d = NULL;
    nc_gpt_split_data *split[3] = {0};
    uint64_t *pairs = NULL;
    bigram *bg = NULL;
    int64_t *uni = NULL, *cont = NULL, *ctx_n = NULL, *ctx_types = NULL;
    int32_t *buf = NULL;
    if (p.n_prefix != 1) {
        s = nc_error(NC_ERR_UNSUPPORTED, "model.data.data_prefix: the baselines need one prefix (no blend, no dict)");
        goto out;
    }
    if ((s = nc_cfg_get_int_in_or(model_cfg, "micro_batch_size", 1, 1, 1 << 20, &mbs)) ||
        (s = nc_indexed_open(p.data_prefix[0], &d)))
        goto out;
    int64_t idx[4];
    if ((s = nc_gpt_split(p.splits_string, nc_indexed_num_docs(d), idx))) goto out;
    /* training counts: every token of the train documents, consecutive
     * pairs within the concatenated stream (as GPT samples cross documents) */
    const int64_t s0 = nc_indexed_doc_index(d, idx[0]), s1 = nc_indexed_doc_index(d, idx[1]);
    int64_t n_tok = 0;
    for (int64_t i = s0; i < s1; i++) n_tok += nc_indexed_size(d, i);
    uni = nc_calloc((size_t)vocab, sizeof *uni);
    cont = nc_calloc((size_t)vocab, sizeof *cont);
    ctx_n = nc_calloc((size_t)vocab, sizeof *ctx_n);
    ctx_types = nc_calloc((size_t)vocab, sizeof *ctx_types);
    pairs = nc_malloc((size_t)(n_tok > 1 ? n_tok : 1) * sizeof *pairs);
    int64_t maxlen = 1;
    for (int64_t i = s0; i < s1; i++)
        if (nc_indexed_size(d, i) > maxlen) maxlen = nc_indexed_size(d, i);
    buf = nc_malloc((size_t)(maxlen > p.seq_length + 1 ? maxlen : p.seq_length + 1) * sizeof *buf);
    if (!uni || !cont || !ctx_n || !ctx_types || !pairs || !buf) {
        s = nc_error(NC_ERR_OOM, "baseline counts");
        goto out;
    }
    int64_t np = 0, prev = -1;
    for (int64_t i = s0; i < s1; i++) {
        int64_t n = 0;
        if ((s = nc_indexed_get(d, i, 0, -1, buf, &n))) goto out;
        for (int64_t j = 0; j < n; j++) {
            const int32_t t = buf[j];
            if (t < 0 || t >= vocab) {
                s = nc_error(NC_ERR_INVALID_ARG, "token id %d outside the vocabulary of %lld", t, (long long)vocab);
                goto out;
            }
            uni[t]++;
            if (prev >= 0) pairs[np++] = (uint64_t)prev << 32 | (uint32_t)t;
            prev = t;
        }
    }
    qsort(pairs, (size_t)np, sizeof *pairs, cmp_u64);
    int64_t nb = 0;
    bg = nc_malloc((size_t)(np ? np : 1) * sizeof *bg);
    if (!bg) {
        s = nc_error(NC_ERR_OOM, "bigrams");
        goto out;
    }
    for (int64_t i = 0; i < np; i++) {
        if (nb && bg[nb - 1].key == pairs[i]) bg[nb - 1].n++;
        else bg[nb++] = (bigram){pairs[i], 1};
    }
    int64_t n1 = 0, n2 = 0;
    for (int64_t i = 0; i < nb; i++) {
        const int64_t v = (int64_t)(bg[i].key >> 32), w = (int64_t)(bg[i].key & 0xffffffffu);
        cont[w]++;
        ctx_n[v] += bg[i].n;
        ctx_types[v]++;
        n1 += bg[i].n == 1;
        n2 += bg[i].n == 2;
    }
    const double D = n1 + 2 * n2 > 0 ? (double)n1 / (double)(n1 + 2 * n2) : 0.75;
    /* scoring: the validation samples the trainer reads */
    p.num_samples[0] = p.num_samples[1] = p.num_samples[2] = 1;
    if ((s = nc_gpt_build_datasets(&p, split))) goto out;
    if (!split[1]) {
        s = nc_error(NC_ERR_CONFIG, "model.data.splits_string: the validation split is empty");
        goto out;
    }
    const int64_t L = nc_gpt_split_data_sample_len(split[1]);
    const int64_t n_samples = nc_gpt_split_data_len(split[1]) / mbs * mbs;
    double lu = 0, lb = 0;
    int64_t scored = 0;
    for (int64_t k = 0; k < n_samples; k++) {
        if ((s = nc_gpt_split_data_sample(split[1], k, buf))) goto out;
        for (int64_t t = 0; t + 1 < L && t < p.seq_length; t++) {
            const int32_t v = buf[t], w = buf[t + 1];
            if (v < 0 || w < 0) continue;
            const double pu = (double)(uni[w] + 1) / (double)(n_tok + vocab);
            const double pc = (double)(cont[w] + 1) / (double)(nb + vocab);
            double pb = pc;
            if (ctx_n[v]) {
                bigram key = {(uint64_t)v << 32 | (uint32_t)w, 0};
                const bigram *hit = bsearch(&key, bg, (size_t)nb, sizeof *bg, cmp_bigram);
                const double c = hit ? (double)hit->n : 0.0;
                pb = fmax(c - D, 0.0) / (double)ctx_n[v] + D * (double)ctx_types[v] / (double)ctx_n[v] * pc;
            }
            lu -= log(pu);
            lb -= log(pb);
            scored++;
        }
    }
    out->tokens = scored;
    out->train_tokens = n_tok;
    out->unigram_ppl = scored ? exp(lu / (double)scored) : NAN;
    out->bigram_ppl = scored ? exp(lb / (double)scored) : NAN;
out:
    for (int k = 0; k < 3; k++) nc_gpt_split_data_free(split[k]);
    nc_indexed_close(d);
    nc_gpt_data_params_free(&p);
    nc_free(pairs), nc_free(bg), nc_free(uni), nc_free(cont), nc_free(ctx_n), nc_free(ctx_types), nc_free(buf);
    return s;
}
