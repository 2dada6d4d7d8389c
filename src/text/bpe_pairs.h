/* What the BPE-style vocabulary trainers (WordPiece's and byte-level
 * BPE's) share: words as symbol-id arrays with their corpus counts, a hash
 * map of adjacent-pair counts kept up to date incrementally, the choice of
 * the next merge, and applying it. Not public. */
#ifndef NC_TEXT_BPE_PAIRS_H
#define NC_TEXT_BPE_PAIRS_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "text/piece_trie.h"

typedef struct nc_bpe_word {
    int32_t *sym; /* current symbol ids */
    int32_t n;
    int64_t count; /* occurrences in the corpus */
} nc_bpe_word;

/* uint64 (left << 32 | right) -> count, open addressing, never shrinks. */
typedef struct nc_pair_map {
    uint64_t *key; /* UINT64_MAX: empty */
    int64_t *count;
    int64_t cap, n;
} nc_pair_map;

/* Counts one occurrence of the word s[0..len): an entry already in `ix`
 * gets count + 1 (*added = false); a new one gets the next slot of *words
 * (grown as needed) with count 1, its index in `ix` and *added = true, for
 * the caller to fill in its symbols. `who` names the trainer in errors. */
nc_status nc_bpe_words_count(nc_trie *ix, nc_bpe_word **words, int64_t *n_words, int64_t *cap_words, const char *s,
                             int64_t len, const char *who, bool *added);

void nc_pair_map_free(nc_pair_map *m);
nc_status nc_pair_map_add(nc_pair_map *m, int32_t a, int32_t b, int64_t delta);
/* Adds (sign = 1) or removes (sign = -1) every adjacent pair of w, weighted
 * by its count. */
nc_status nc_pair_map_word(nc_pair_map *m, const nc_bpe_word *w, int64_t sign);
/* The most frequent pair with count >= min_count (ties: the smaller
 * left << 32 | right); false when none is left. */
bool nc_pair_map_best(const nc_pair_map *m, int64_t min_count, int32_t *a, int32_t *b);
/* Replaces every (a, b) in every word, left to right, by `id`, updating
 * the counts of the words that held it. */
nc_status nc_bpe_words_merge(nc_pair_map *m, nc_bpe_word *words, int64_t n_words, int32_t a, int32_t b, int32_t id);

#endif
