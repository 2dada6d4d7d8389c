/* Byte trie over a hash table of edges. */
#include "text/piece_trie.h"

#include <string.h>

#include "core/vec.h"
#include "nemoc/alloc.h"

static uint64_t edge_hash(int32_t parent, uint8_t byte) {
    uint64_t h = ((uint64_t)(uint32_t)parent << 8 | byte) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

int32_t nc_trie_step(const nc_trie *t, int32_t node, uint8_t byte) {
    if (!t->cap_edges) return -1;
    uint64_t mask = (uint64_t)t->cap_edges - 1;
    for (uint64_t i = edge_hash(node, byte) & mask;; i = (i + 1) & mask) {
        const nc_trie_edge *e = &t->edges[i];
        if (e->parent < 0) return -1;
        if (e->parent == node && e->byte == byte) return e->child;
    }
}

static nc_status grow_edges(nc_trie *t) {
    int64_t cap = t->cap_edges ? t->cap_edges * 2 : 1024;
    nc_trie_edge *e = nc_malloc((size_t)cap * sizeof *e);
    if (!e) return nc_error(NC_ERR_OOM, "trie: cannot allocate %lld edges", (long long)cap);
    for (int64_t i = 0; i < cap; i++) e[i].parent = -1;
    uint64_t mask = (uint64_t)cap - 1;
    for (int64_t j = 0; j < t->cap_edges; j++) {
        const nc_trie_edge *o = &t->edges[j];
        if (o->parent < 0) continue;
        uint64_t i = edge_hash(o->parent, o->byte) & mask;
        while (e[i].parent >= 0) i = (i + 1) & mask;
        e[i] = *o;
    }
    nc_free(t->edges);
    t->edges = e;
    t->cap_edges = cap;
    return NC_OK;
}

static nc_status new_node(nc_trie *t, int32_t *id) {
    if (t->n_nodes == INT32_MAX) return nc_error(NC_ERR_INVALID_ARG, "trie: too many nodes");
    if (nc_vec_reserve(&t->value, &t->cap_nodes, t->n_nodes + 1, sizeof *t->value))
        return nc_error(NC_ERR_OOM, "trie: cannot allocate %lld nodes", (long long)(t->n_nodes + 1));
    t->value[t->n_nodes] = -1;
    *id = (int32_t)t->n_nodes++;
    return NC_OK;
}

static nc_status insert(nc_trie *t, const char *key, int64_t len, int32_t value, bool *existed, bool replace) {
    nc_status st;
    if (existed) *existed = false;
    if (value < 0) return nc_error(NC_ERR_INVALID_ARG, "trie: negative value %d", value);
    int32_t node = 0;
    if (t->n_nodes == 0 && (st = new_node(t, &node)) != NC_OK) return st;
    node = 0;
    for (int64_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)key[i];
        int32_t next = nc_trie_step(t, node, b);
        if (next < 0) {
            /* keep the load factor under 1/2 so probes stay short */
            if ((t->n_edges + 1) * 2 > t->cap_edges && (st = grow_edges(t)) != NC_OK) return st;
            if ((st = new_node(t, &next)) != NC_OK) return st;
            uint64_t mask = (uint64_t)t->cap_edges - 1;
            uint64_t j = edge_hash(node, b) & mask;
            while (t->edges[j].parent >= 0) j = (j + 1) & mask;
            t->edges[j] = (nc_trie_edge){.parent = node, .child = next, .byte = b};
            t->n_edges++;
        }
        node = next;
    }
    if (t->value[node] >= 0) {
        if (existed) *existed = true;
        if (replace) t->value[node] = value;
        return NC_OK;
    }
    t->value[node] = value;
    t->n_keys++;
    return NC_OK;
}

nc_status nc_trie_insert(nc_trie *t, const char *key, int64_t len, int32_t value, bool *existed) {
    return insert(t, key, len, value, existed, false);
}

nc_status nc_trie_put(nc_trie *t, const char *key, int64_t len, int32_t value) {
    return insert(t, key, len, value, NULL, true);
}

void nc_trie_free(nc_trie *t) {
    nc_free(t->value);
    nc_free(t->edges);
    memset(t, 0, sizeof *t);
}

int32_t nc_trie_get(const nc_trie *t, const char *key, int64_t len) {
    if (!t->n_nodes) return -1;
    int32_t node = 0;
    for (int64_t i = 0; i < len && node >= 0; i++) node = nc_trie_step(t, node, (uint8_t)key[i]);
    return node >= 0 ? t->value[node] : -1;
}

int64_t nc_trie_longest_prefix(const nc_trie *t, const char *s, int64_t len, int32_t *value) {
    if (!t->n_nodes) return 0;
    int64_t best = 0;
    int32_t node = 0;
    for (int64_t i = 0; i < len; i++) {
        node = nc_trie_step(t, node, (uint8_t)s[i]);
        if (node < 0) break;
        if (t->value[node] >= 0) {
            best = i + 1;
            if (value) *value = t->value[node];
        }
    }
    return best;
}
