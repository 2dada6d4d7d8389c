/* A byte trie mapping strings to int32 values, for vocabulary lookups:
 * exact match, longest prefix, and walking all prefixes of a text (the
 * unigram lattice). Edges live in one open-addressing hash table keyed by
 * (node, byte), so a step is O(1) and memory is a few words per byte of
 * vocabulary. Read-only after building, so shared freely across threads.
 * Not public. */
#ifndef NC_TEXT_PIECE_TRIE_H
#define NC_TEXT_PIECE_TRIE_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"

typedef struct nc_trie_edge {
    int32_t parent; /* -1: empty slot */
    int32_t child;
    uint8_t byte;
} nc_trie_edge;

typedef struct nc_trie {
    int32_t *value;      /* per node; -1 when no key ends there. node 0 is the root */
    int64_t n_nodes, cap_nodes;
    nc_trie_edge *edges; /* hash table, capacity a power of two */
    int64_t n_edges, cap_edges;
    int64_t n_keys;
} nc_trie;

/* Adds key -> value (value >= 0). *existed (may be NULL) is set when the key
 * was already present; then the old value is kept, as std::map::insert. */
nc_status nc_trie_insert(nc_trie *t, const char *key, int64_t len, int32_t value, bool *existed);
/* Adds or replaces key -> value (Python dict assignment semantics). */
nc_status nc_trie_put(nc_trie *t, const char *key, int64_t len, int32_t value);
void nc_trie_free(nc_trie *t);

/* Child of `node` along `byte`, or -1. */
int32_t nc_trie_step(const nc_trie *t, int32_t node, uint8_t byte);
static inline int32_t nc_trie_value(const nc_trie *t, int32_t node) { return t->value[node]; }

/* Value of exactly `key`, or -1. */
int32_t nc_trie_get(const nc_trie *t, const char *key, int64_t len);
/* Length of the longest key that is a prefix of s[0..len) (0 if none);
 * its value goes to *value when non-NULL. */
int64_t nc_trie_longest_prefix(const nc_trie *t, const char *s, int64_t len, int32_t *value);

#endif
