/* Config tree nodes: allocation, containers, key paths, suggestions, and the
 * raw (uninterpreted) accessors of the public API. */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/vec.h"
#include "nemoc/alloc.h"

/* ---- nodes ----------------------------------------------------------------- */

nc_cfg *cfg_node_new(nc_cfg_kind kind) {
    nc_cfg *n = nc_calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

nc_cfg *cfg_scalar_new(const char *text, size_t len, bool quoted) {
    nc_cfg *n = cfg_node_new(NC_CFG_SCALAR);
    if (!n) return NULL;
    n->text = nc_malloc(len + 1);
    if (!n->text) {
        nc_free(n);
        return NULL;
    }
    if (len) memcpy(n->text, text, len);
    n->text[len] = 0;
    n->quoted = quoted;
    return n;
}

void cfg_node_free(nc_cfg *n) {
    if (!n) return;
    for (int64_t i = 0; i < n->n; i++) cfg_node_free(n->items[i]);
    nc_free(n->items);
    nc_free(n->key);
    nc_free(n->text);
    nc_free(n->cache);
    nc_free(n->file);
    nc_free(n->key_base);
    nc_free(n);
}

static nc_cfg *copy_rec(const nc_cfg *src, int depth) {
    if (depth > CFG_MAX_NEST_DEPTH) return NULL;
    nc_cfg *n;
    if (src->kind == NC_CFG_SCALAR) return cfg_scalar_new(src->text, strlen(src->text), src->quoted);
    n = cfg_node_new(src->kind);
    if (!n) return NULL;
    for (int64_t i = 0; i < src->n; i++) {
        const nc_cfg *c = src->items[i];
        nc_cfg *cc = copy_rec(c, depth + 1);
        if (!cc || cfg_add(n, c->key, c->key ? strlen(c->key) : 0, cc) != NC_OK) {
            cfg_node_free(n);
            return NULL;
        }
    }
    return n;
}

nc_cfg *cfg_copy_raw(const nc_cfg *src) { return copy_rec(src, 0); }

int64_t cfg_map_find(const nc_cfg *map, const char *key, size_t len) {
    if (map->kind != NC_CFG_MAP) return -1;
    for (int64_t i = 0; i < map->n; i++) {
        const char *k = map->items[i]->key;
        if (strncmp(k, key, len) == 0 && k[len] == 0) return i;
    }
    return -1;
}

nc_status cfg_add(nc_cfg *parent, const char *key, size_t key_len, nc_cfg *child) {
    if (nc_vec_reserve(&parent->items, &parent->cap, parent->n + 1, sizeof *parent->items)) {
        cfg_node_free(child);
        return nc_error(NC_ERR_OOM, "config: cannot grow a container");
    }
    nc_free(child->key);
    child->key = NULL;
    if (parent->kind == NC_CFG_MAP) {
        child->key = nc_malloc(key_len + 1);
        if (!child->key) {
            cfg_node_free(child);
            return nc_error(NC_ERR_OOM, "config: key");
        }
        memcpy(child->key, key, key_len);
        child->key[key_len] = 0;
    }
    child->parent = parent;
    parent->items[parent->n++] = child;
    return NC_OK;
}

void cfg_remove_at(nc_cfg *parent, int64_t i) {
    cfg_node_free(parent->items[i]);
    memmove(parent->items + i, parent->items + i + 1, (size_t)(parent->n - i - 1) * sizeof(nc_cfg *));
    parent->n--;
}

int64_t cfg_index_in_parent(const nc_cfg *n) {
    if (!n->parent) return -1;
    for (int64_t i = 0; i < n->parent->n; i++)
        if (n->parent->items[i] == n) return i;
    return -1;
}

void cfg_take_content(nc_cfg *dst, nc_cfg *src) {
    for (int64_t i = 0; i < dst->n; i++) cfg_node_free(dst->items[i]);
    nc_free(dst->items);
    nc_free(dst->text);
    nc_free(dst->cache);
    dst->kind = src->kind;
    dst->quoted = src->quoted;
    dst->text = src->text;
    dst->items = src->items;
    dst->n = src->n;
    dst->cap = src->cap;
    dst->cache = NULL;
    if (src->line) dst->line = src->line;
    for (int64_t i = 0; i < dst->n; i++) dst->items[i]->parent = dst;
    src->text = NULL;
    src->items = NULL;
    src->n = src->cap = 0;
    cfg_node_free(src);
}

nc_cfg *cfg_root(const nc_cfg *n) {
    while (n->parent) n = n->parent;
    return (nc_cfg *)n;
}

static void invalidate_rec(nc_cfg *n) {
    nc_free(n->cache);
    n->cache = NULL;
    for (int64_t i = 0; i < n->n; i++) invalidate_rec(n->items[i]);
}

void cfg_invalidate(nc_cfg *n) {
    nc_cfg *root = cfg_root(n);
    invalidate_rec(root);
    root->cache_bytes = 0;
}

void cfg_key_append(nc_strbuf *b, const char *seg, size_t len, bool index) {
    if (index) {
        nc_sb_putc(b, '[');
        nc_sb_append(b, seg, len);
        nc_sb_putc(b, ']');
        return;
    }
    if (b->n) nc_sb_putc(b, '.');
    nc_sb_append(b, seg, len);
}

void cfg_full_key_buf(const nc_cfg *n, nc_strbuf *b) {
    if (!n->parent) {
        if (n->key_base) nc_sb_puts(b, n->key_base);
        return;
    }
    cfg_full_key_buf(n->parent, b);
    if (n->parent->kind == NC_CFG_MAP) {
        cfg_key_append(b, n->key, strlen(n->key), false);
    } else {
        char idx[32];
        int k = snprintf(idx, sizeof idx, "%lld", (long long)cfg_index_in_parent(n));
        cfg_key_append(b, idx, (size_t)k, true);
    }
}

void cfg_describe(const nc_cfg *n, const char *text, bool quoted, nc_strbuf *b) {
    if (n && n->kind == NC_CFG_MAP) {
        nc_sb_appendf(b, "map with %lld keys", (long long)n->n);
        return;
    }
    if (n && n->kind == NC_CFG_SEQ) {
        nc_sb_appendf(b, "list of %lld items", (long long)n->n);
        return;
    }
    nc_cfg_type t = nc_cfg_scalar_type(text, quoted);
    if (t == NC_CFG_T_NULL) {
        nc_sb_puts(b, "null");
        return;
    }
    if (t == NC_CFG_T_MISSING) {
        nc_sb_puts(b, "missing value ?\?\?");
        return;
    }
    nc_sb_appendf(b, "%s '", nc_cfg_type_name(t));
    size_t len = strlen(text);
    nc_sb_append(b, text, len > 60 ? 60 : len);
    nc_sb_puts(b, len > 60 ? "...'" : "'");
}

/* ---- key paths ----------------------------------------------------------- */

int cfg_next_seg(const char **p, const char **seg, size_t *len, bool *bracket) {
    const char *s = *p;
    if (!*s) return 0;
    if (*s == '[') {
        const char *e = strchr(s + 1, ']');
        if (!e || e == s + 1) return -1;
        *seg = s + 1;
        *len = (size_t)(e - s - 1);
        *bracket = true;
        s = e + 1;
    } else {
        const char *e = s;
        while (*e && *e != '.' && *e != '[' && *e != ']') e++;
        if (e == s || *e == ']') return -1;
        *seg = s;
        *len = (size_t)(e - s);
        *bracket = false;
        s = e;
    }
    if (*s == '.') {
        s++;
        if (!*s || *s == '.' || *s == '[') return -1; /* "a." "a..b" "a.[0]" */
    } else if (*s && *s != '[') {
        return -1;
    }
    *p = s;
    return 1;
}

bool cfg_parse_index(const char *seg, size_t len, int64_t *out) {
    if (len == 0 || len > 18) return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9') return false;
        v = v * 10 + (seg[i] - '0');
    }
    *out = v;
    return true;
}

/* ---- suggestions ---------------------------------------------------------- */

/* Optimal-string-alignment distance (Levenshtein plus adjacent transposition,
 * so "d_modle" is one edit from "d_model"). Returns > cap early when it must. */
static int64_t osa_distance(const char *a, size_t la, const char *b, size_t lb) {
    if (la > 256 || lb > 256) return (int64_t)(la > lb ? la : lb);
    int64_t rows[3][257];
    int64_t *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= lb; j++) p[j] = (int64_t)j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = (int64_t)i;
        for (size_t j = 1; j <= lb; j++) {
            int64_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int64_t v = p[j] + 1;
            if (c[j - 1] + 1 < v) v = c[j - 1] + 1;
            if (p[j - 1] + cost < v) v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        int64_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

static bool close_enough(int64_t d, size_t len) {
    /* Two edits, or a third of the word for long keys; beyond that a
     * suggestion is more confusing than none. */
    return d <= (len >= 4 ? 2 : 1) || d * 3 <= (int64_t)len;
}

const char *cfg_suggest_list(const char *const *cands, int64_t n, const char *key, size_t len) {
    const char *best = NULL;
    int64_t bd = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t d = osa_distance(key, len, cands[i], strlen(cands[i]));
        if (d > 0 && close_enough(d, len) && (!best || d < bd)) {
            best = cands[i];
            bd = d;
        }
    }
    return best;
}

const char *cfg_suggest(const nc_cfg *map, const char *key, size_t len) {
    if (!map || map->kind != NC_CFG_MAP) return NULL;
    const char *best = NULL;
    int64_t bd = 0;
    for (int64_t i = 0; i < map->n; i++) {
        const char *k = map->items[i]->key;
        int64_t d = osa_distance(key, len, k, strlen(k));
        if (d > 0 && close_enough(d, len) && (!best || d < bd)) {
            best = k;
            bd = d;
        }
    }
    return best;
}

/* ---- public raw accessors ------------------------------------------------ */

nc_cfg_kind nc_cfg_kind_of(const nc_cfg *node) { return node->kind; }
int64_t nc_cfg_size(const nc_cfg *node) { return node->kind == NC_CFG_SCALAR ? 0 : node->n; }

nc_cfg *nc_cfg_item(const nc_cfg *node, int64_t i) {
    return (i >= 0 && i < node->n) ? node->items[i] : NULL;
}

const char *nc_cfg_item_key(const nc_cfg *node, int64_t i) {
    return (node->kind == NC_CFG_MAP && i >= 0 && i < node->n) ? node->items[i]->key : NULL;
}

nc_cfg *nc_cfg_child(const nc_cfg *node, const char *key) {
    int64_t i = cfg_map_find(node, key, strlen(key));
    return i < 0 ? NULL : node->items[i];
}

nc_cfg *nc_cfg_parent(const nc_cfg *node) { return node->parent; }
const char *nc_cfg_key(const nc_cfg *node) { return node->key; }
const char *nc_cfg_text(const nc_cfg *node) { return node->kind == NC_CFG_SCALAR ? node->text : NULL; }
bool nc_cfg_quoted(const nc_cfg *node) { return node->quoted; }
int nc_cfg_line(const nc_cfg *node) { return node->line; }

char *nc_cfg_full_key(const nc_cfg *node, char *buf, size_t len) {
    nc_strbuf b = {0};
    cfg_full_key_buf(node, &b);
    if (len) snprintf(buf, len, "%s", nc_sb_str(&b));
    nc_sb_free(&b);
    return buf;
}

/* Source lines of src's nodes onto the same keys of dst. The copy keeps the
 * order of src's keys, so the same index is tried before a search. */
static void origin_rec(nc_cfg *dst, const nc_cfg *src, int depth) {
    dst->line = src->line;
    if (depth > CFG_MAX_NEST_DEPTH || dst->kind != src->kind || dst->kind == NC_CFG_SCALAR) return;
    for (int64_t i = 0; i < dst->n; i++) {
        const nc_cfg *from = NULL;
        if (dst->kind == NC_CFG_SEQ) {
            from = i < src->n ? src->items[i] : NULL;
        } else if (i < src->n && !strcmp(src->items[i]->key, dst->items[i]->key)) {
            from = src->items[i];
        } else {
            int64_t j = cfg_map_find(src, dst->items[i]->key, strlen(dst->items[i]->key));
            from = j >= 0 ? src->items[j] : NULL;
        }
        if (from) origin_rec(dst->items[i], from, depth + 1);
    }
}

nc_status nc_cfg_keep_origin(nc_cfg *copy, const nc_cfg *src) {
    if (copy->parent) return nc_error(NC_ERR_INVALID_ARG, "nc_cfg_keep_origin: the copy must be a root");
    const nc_cfg *root = cfg_root(src);
    nc_strbuf k = {0};
    cfg_full_key_buf(src, &k);
    const bool want_base = k.n > 0 || k.oom;
    char *file = root->file ? nc_strdup(root->file) : NULL;
    char *base = want_base ? nc_sb_take(&k) : NULL; /* NULL after an allocation failure */
    bool oom = (root->file && !file) || (want_base && !base);
    nc_sb_free(&k);
    if (oom) {
        nc_free(file);
        nc_free(base);
        return nc_error(NC_ERR_OOM, "config: origin");
    }
    nc_free(copy->file);
    nc_free(copy->key_base);
    copy->file = file;
    copy->key_base = base;
    origin_rec(copy, src, 0);
    return NC_OK;
}

nc_status nc_cfg_new(nc_cfg_kind kind, nc_cfg **out) {
    *out = kind == NC_CFG_SCALAR ? cfg_scalar_new("null", 4, false) : cfg_node_new(kind);
    return *out ? NC_OK : nc_error(NC_ERR_OOM, "config: new node");
}

void nc_cfg_free(nc_cfg *node) {
    if (!node) return;
    if (node->parent) {
        nc_cfg *p = node->parent;
        int64_t i = cfg_index_in_parent(node);
        cfg_invalidate(p);
        if (i >= 0) {
            cfg_remove_at(p, i);
            return;
        }
    }
    cfg_node_free(node);
}
