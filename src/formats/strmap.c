/* Open-addressing string map with linear probing; load factor <= 1/2. */
#include "formats/strmap.h"

#include <string.h>

#include "nemoc/alloc.h"

typedef struct slot {
    char *key; /* NULL = empty */
    size_t len;
    uint64_t hash;
    int64_t val;
} slot;

struct nc_strmap {
    slot *slots;
    size_t cap; /* power of two */
    size_t n;
};

static uint64_t fnv1a(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

nc_status nc_strmap_new(nc_strmap **out) {
    *out = NULL;
    nc_strmap *m = nc_calloc(1, sizeof *m);
    if (!m) return nc_error(NC_ERR_OOM, "string map");
    m->cap = 64;
    m->slots = nc_calloc(m->cap, sizeof(slot));
    if (!m->slots) {
        nc_free(m);
        return nc_error(NC_ERR_OOM, "string map");
    }
    *out = m;
    return NC_OK;
}

void nc_strmap_free(nc_strmap *m) {
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) nc_free(m->slots[i].key);
    nc_free(m->slots);
    nc_free(m);
}

static slot *find(const nc_strmap *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        slot *s = &m->slots[i];
        if (!s->key) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

static nc_status grow(nc_strmap *m) {
    size_t ncap = m->cap * 2;
    slot *ns = nc_calloc(ncap, sizeof(slot));
    if (!ns) return nc_error(NC_ERR_OOM, "string map of %zu slots", ncap);
    for (size_t i = 0; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (!s->key) continue;
        size_t j = (size_t)s->hash & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    nc_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return NC_OK;
}

nc_status nc_strmap_put(nc_strmap *m, const char *key, size_t len, int64_t val) {
    if (2 * (m->n + 1) > m->cap) {
        nc_status s = grow(m);
        if (s) return s;
    }
    uint64_t h = fnv1a(key, len);
    slot *s = find(m, key, len, h);
    if (s->key) {
        s->val = val;
        return NC_OK;
    }
    s->key = nc_malloc(len + 1);
    if (!s->key) return nc_error(NC_ERR_OOM, "string map key of %zu bytes", len);
    memcpy(s->key, key, len);
    s->key[len] = 0;
    s->len = len;
    s->hash = h;
    s->val = val;
    m->n++;
    return NC_OK;
}

int64_t nc_strmap_get(const nc_strmap *m, const char *key, size_t len) {
    const slot *s = find(m, key, len, fnv1a(key, len));
    return s->key ? s->val : -1;
}
