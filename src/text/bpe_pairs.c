/* Pair counts and merges for the vocabulary trainers (bpe_pairs.h). A merge
 * rescans the words for the pair and recounts only those that hold it:
 * O(corpus symbols) per merge, plus a scan of the pair table to pick it. */
#include "text/bpe_pairs.h"

#include <string.h>

#include "nemoc/alloc.h"

static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
}

void nc_pair_map_free(nc_pair_map *m) {
    nc_free(m->key);
    nc_free(m->count);
    memset(m, 0, sizeof *m);
}

static nc_status pm_grow(nc_pair_map *m) {
    int64_t cap = m->cap ? m->cap * 2 : 4096;
    uint64_t *key = nc_malloc((size_t)cap * sizeof *key);
    int64_t *cnt = nc_calloc((size_t)cap, sizeof *cnt);
    if (!key || !cnt) {
        nc_free(key);
        nc_free(cnt);
        return nc_error(NC_ERR_OOM, "tokenizer train: cannot allocate %lld pairs", (long long)cap);
    }
    memset(key, 0xFF, (size_t)cap * sizeof *key);
    for (int64_t i = 0; i < m->cap; i++) {
        if (m->key[i] == UINT64_MAX) continue;
        uint64_t j = mix(m->key[i]) & (uint64_t)(cap - 1);
        while (key[j] != UINT64_MAX) j = (j + 1) & (uint64_t)(cap - 1);
        key[j] = m->key[i];
        cnt[j] = m->count[i];
    }
    nc_free(m->key);
    nc_free(m->count);
    m->key = key;
    m->count = cnt;
    m->cap = cap;
    return NC_OK;
}

nc_status nc_pair_map_add(nc_pair_map *m, int32_t a, int32_t b, int64_t delta) {
    if ((m->n + 1) * 2 > m->cap) {
        nc_status st = pm_grow(m);
        if (st) return st;
    }
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint64_t j = mix(k) & (uint64_t)(m->cap - 1);
    while (m->key[j] != UINT64_MAX && m->key[j] != k) j = (j + 1) & (uint64_t)(m->cap - 1);
    if (m->key[j] == UINT64_MAX) {
        m->key[j] = k;
        m->n++;
    }
    m->count[j] += delta;
    return NC_OK;
}

nc_status nc_pair_map_word(nc_pair_map *m, const nc_bpe_word *w, int64_t sign) {
    nc_status st = NC_OK;
    for (int32_t i = 0; i + 1 < w->n && !st; i++) st = nc_pair_map_add(m, w->sym[i], w->sym[i + 1], sign * w->count);
    return st;
}

bool nc_pair_map_best(const nc_pair_map *m, int64_t min_count, int32_t *a, int32_t *b) {
    int64_t best = -1;
    uint64_t best_key = 0;
    for (int64_t i = 0; i < m->cap; i++) {
        if (m->key[i] == UINT64_MAX || m->count[i] < min_count) continue;
        if (m->count[i] > best || (m->count[i] == best && m->key[i] < best_key)) {
            best = m->count[i];
            best_key = m->key[i];
        }
    }
    if (best < 0) return false;
    *a = (int32_t)(best_key >> 32);
    *b = (int32_t)(uint32_t)best_key;
    return true;
}

nc_status nc_bpe_words_merge(nc_pair_map *m, nc_bpe_word *words, int64_t n_words, int32_t a, int32_t b, int32_t id) {
    nc_status st = NC_OK;
    for (int64_t w = 0; w < n_words && !st; w++) {
        nc_bpe_word *wd = &words[w];
        bool has = false;
        for (int32_t i = 0; i + 1 < wd->n && !has; i++) has = wd->sym[i] == a && wd->sym[i + 1] == b;
        if (!has) continue;
        if ((st = nc_pair_map_word(m, wd, -1))) break;
        int32_t o = 0;
        for (int32_t i = 0; i < wd->n; i++) {
            if (i + 1 < wd->n && wd->sym[i] == a && wd->sym[i + 1] == b) {
                wd->sym[o++] = id;
                i++;
            } else {
                wd->sym[o++] = wd->sym[i];
            }
        }
        wd->n = o;
        st = nc_pair_map_word(m, wd, 1);
    }
    return st;
}

nc_status nc_bpe_words_count(nc_trie *ix, nc_bpe_word **words, int64_t *n_words, int64_t *cap_words, const char *s,
                             int64_t len, const char *who, bool *added) {
    *added = false;
    int32_t k = nc_trie_get(ix, s, len);
    if (k >= 0) {
        (*words)[k].count++;
        return NC_OK;
    }
    if (*n_words == *cap_words) {
        int64_t cap = *cap_words ? *cap_words * 2 : 1024;
        nc_bpe_word *w = nc_calloc((size_t)cap, sizeof *w);
        if (!w) return nc_error(NC_ERR_OOM, "%s: cannot allocate %lld words", who, (long long)cap);
        if (*words) memcpy(w, *words, (size_t)*n_words * sizeof *w);
        nc_free(*words);
        *words = w;
        *cap_words = cap;
    }
    nc_status st = nc_trie_put(ix, s, len, (int32_t)*n_words);
    if (st) return st;
    (*words)[(*n_words)++].count = 1;
    *added = true;
    return NC_OK;
}
