/* Editing config trees: set/append/delete by path and OmegaConf-style merge.
 * Edits work on the raw tree (interpolations are values like any other) and
 * drop the cached interpolation results of the whole tree. */
#include <stdio.h>
#include <string.h>

#include "config/config_edit.h"
#include "core/vec.h"
#include "nemoc/alloc.h"

nc_status cfg_split_path(const char *path, cfg_seg **segs, int *n) {
    *segs = NULL;
    *n = 0;
    int cap = 1;
    for (const char *p = path; *p; p++) cap += (*p == '.' || *p == '[');
    cfg_seg *s = nc_calloc((size_t)cap, sizeof *s);
    if (!s) return nc_error(NC_ERR_OOM, "config: key path");
    const char *p = path;
    int k = 0, r;
    while ((r = cfg_next_seg(&p, &s[k].s, &s[k].len, &s[k].br)) == 1) k++;
    if (r < 0) {
        nc_free(s);
        return nc_error(NC_ERR_INVALID_ARG, "malformed key path '%s'", path);
    }
    *segs = s;
    *n = k;
    return NC_OK;
}

static void seg_key(const nc_cfg *cont, const cfg_seg *sg, nc_strbuf *b) {
    cfg_full_key_buf(cont, b);
    cfg_key_append(b, sg->s, sg->len, sg->br || cont->kind == NC_CFG_SEQ);
}

int64_t cfg_find_seg(const nc_cfg *cont, const cfg_seg *sg) {
    if (cont->kind == NC_CFG_MAP) return cfg_map_find(cont, sg->s, sg->len);
    int64_t idx;
    if (cont->kind == NC_CFG_SEQ && cfg_parse_index(sg->s, sg->len, &idx) && idx < cont->n) return idx;
    return -1;
}

nc_status cfg_missing_error(const nc_cfg *cont, const cfg_seg *sg) {
    nc_strbuf b = {0};
    seg_key(cont, sg, &b);
    const char *sug = cfg_suggest(cont, sg->s, sg->len);
    nc_status s;
    if (cont->kind == NC_CFG_SEQ)
        s = nc_error(NC_ERR_NOT_FOUND, "%s: no such item (the list has %lld items)", nc_sb_str(&b), (long long)cont->n);
    else if (sug)
        s = nc_error(NC_ERR_NOT_FOUND, "%s: no such key (did you mean '%s'?)", nc_sb_str(&b), sug);
    else
        s = nc_error(NC_ERR_NOT_FOUND, "%s: no such key", nc_sb_str(&b));
    nc_sb_free(&b);
    return s;
}

nc_status cfg_walk(nc_cfg *node, const cfg_seg *segs, int n, bool create, nc_cfg **out) {
    nc_cfg *cur = node;
    for (int i = 0; i < n; i++) {
        if (cur->kind == NC_CFG_SCALAR) {
            nc_strbuf b = {0}, d = {0};
            cfg_full_key_buf(cur, &b);
            cfg_describe(NULL, cur->text, cur->quoted, &d);
            nc_status s = nc_error(NC_ERR_CONFIG, "%s: is %s, not a map (cannot hold '%.*s')",
                                   b.n ? nc_sb_str(&b) : "<root>", nc_sb_str(&d), (int)segs[i].len, segs[i].s);
            nc_sb_free(&b);
            nc_sb_free(&d);
            return s;
        }
        int64_t k = cfg_find_seg(cur, &segs[i]);
        if (k < 0) {
            if (!create || cur->kind != NC_CFG_MAP) return cfg_missing_error(cur, &segs[i]);
            nc_cfg *m = cfg_node_new(NC_CFG_MAP);
            if (!m) return nc_error(NC_ERR_OOM, "config: set");
            nc_status s = cfg_add(cur, segs[i].s, segs[i].len, m);
            if (s) return s;
            k = cur->n - 1;
        }
        cur = cur->items[k];
    }
    *out = cur;
    return NC_OK;
}

nc_status cfg_put(nc_cfg *cont, const cfg_seg *sg, nc_cfg *v) {
    int64_t k = cfg_find_seg(cont, sg);
    if (k >= 0) {
        cfg_take_content(cont->items[k], v);
        return NC_OK;
    }
    if (cont->kind != NC_CFG_MAP) {
        cfg_node_free(v);
        return cfg_missing_error(cont, sg);
    }
    return cfg_add(cont, sg->s, sg->len, v);
}

/* Places v (owned) at path under node, creating maps on the way. */
static nc_status set_at(nc_cfg *node, const char *path, nc_cfg *v) {
    if (!v) return nc_error(NC_ERR_OOM, "config: set");
    cfg_invalidate(node);
    cfg_seg *segs;
    int n;
    nc_status s = cfg_split_path(path ? path : "", &segs, &n);
    if (s) {
        cfg_node_free(v);
        return s;
    }
    if (n == 0) {
        cfg_take_content(node, v);
        nc_free(segs);
        return NC_OK;
    }
    nc_cfg *cont;
    s = cfg_walk(node, segs, n - 1, true, &cont);
    if (!s && cont->kind == NC_CFG_SCALAR) s = cfg_walk(cont, segs + n - 1, 1, true, &cont);
    if (s) cfg_node_free(v);
    else s = cfg_put(cont, &segs[n - 1], v);
    nc_free(segs);
    return s;
}

nc_status nc_cfg_set_scalar(nc_cfg *node, const char *path, const char *text, bool quoted) {
    return set_at(node, path, cfg_scalar_new(text, strlen(text), quoted));
}

nc_status nc_cfg_set_str(nc_cfg *node, const char *path, const char *s) {
    return nc_cfg_set_scalar(node, path, s, true);
}

nc_status nc_cfg_set_int(nc_cfg *node, const char *path, int64_t v) {
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    return nc_cfg_set_scalar(node, path, t, false);
}

nc_status nc_cfg_set_float(nc_cfg *node, const char *path, double v) {
    nc_strbuf b = {0};
    cfg_yaml_float(v, &b);
    nc_status s = b.oom ? nc_error(NC_ERR_OOM, "config: set") : nc_cfg_set_scalar(node, path, nc_sb_str(&b), false);
    nc_sb_free(&b);
    return s;
}

nc_status nc_cfg_set_bool(nc_cfg *node, const char *path, bool v) {
    return nc_cfg_set_scalar(node, path, v ? "true" : "false", false);
}

nc_status nc_cfg_set_null(nc_cfg *node, const char *path) { return nc_cfg_set_scalar(node, path, "null", false); }

nc_status nc_cfg_set_node(nc_cfg *node, const char *path, const nc_cfg *value) {
    return set_at(node, path, cfg_copy_raw(value));
}

nc_status nc_cfg_append(nc_cfg *node, const char *path, const nc_cfg *value) {
    nc_cfg *v = value ? cfg_copy_raw(value) : cfg_scalar_new("null", 4, false);
    if (!v) return nc_error(NC_ERR_OOM, "config: append");
    cfg_invalidate(node);
    cfg_seg *segs;
    int n;
    nc_status s = cfg_split_path(path ? path : "", &segs, &n);
    nc_cfg *seq = NULL;
    if (!s) {
        s = cfg_walk(node, segs, n, false, &seq);
        if (s == NC_ERR_NOT_FOUND) { /* a missing list is created */
            nc_clear_error();
            nc_cfg *fresh = cfg_node_new(NC_CFG_SEQ);
            s = fresh ? set_at(node, path, fresh) : nc_error(NC_ERR_OOM, "config: append");
            if (!s) s = cfg_walk(node, segs, n, false, &seq);
        }
    }
    nc_free(segs);
    if (!s && seq->kind != NC_CFG_SEQ) {
        nc_strbuf b = {0};
        cfg_full_key_buf(seq, &b);
        s = nc_error(NC_ERR_CONFIG, "%s: cannot append to a %s", b.n ? nc_sb_str(&b) : "<root>",
                     seq->kind == NC_CFG_MAP ? "map" : "scalar");
        nc_sb_free(&b);
    }
    if (s) {
        cfg_node_free(v);
        return s;
    }
    return cfg_add(seq, NULL, 0, v);
}

nc_status nc_cfg_delete(nc_cfg *node, const char *path) {
    cfg_seg *segs;
    int n;
    nc_status s = cfg_split_path(path ? path : "", &segs, &n);
    if (s) return s;
    if (n == 0) {
        nc_free(segs);
        return nc_error(NC_ERR_INVALID_ARG, "config: delete needs a key path");
    }
    nc_cfg *cont;
    s = cfg_walk(node, segs, n - 1, false, &cont);
    if (!s && cont->kind == NC_CFG_SCALAR) s = cfg_walk(cont, segs + n - 1, 1, false, &cont);
    int64_t k = -1;
    if (!s) {
        k = cfg_find_seg(cont, &segs[n - 1]);
        if (k < 0) s = cfg_missing_error(cont, &segs[n - 1]);
    }
    if (!s) {
        cfg_invalidate(node);
        cfg_remove_at(cont, k);
    }
    nc_free(segs);
    return s;
}

/* Merges src (owned, consumed) into dst. */
static void merge_move(nc_cfg *dst, nc_cfg *src) {
    if (dst->kind != NC_CFG_MAP || src->kind != NC_CFG_MAP) {
        cfg_take_content(dst, src);
        return;
    }
    for (int64_t i = 0; i < src->n; i++) {
        nc_cfg *sv = src->items[i];
        int64_t k = cfg_map_find(dst, sv->key, strlen(sv->key));
        if (k < 0) {
            /* Move the node over: it keeps its key. */
            if (nc_vec_reserve(&dst->items, &dst->cap, dst->n + 1, sizeof *dst->items))
                continue; /* unreachable: reserve() made room */
            sv->parent = dst;
            dst->items[dst->n++] = sv;
            src->items[i] = NULL;
            continue;
        }
        nc_cfg *dv = dst->items[k];
        /* OmegaConf keeps the destination when the source value is ???. */
        if (sv->kind == NC_CFG_SCALAR && !strcmp(sv->text, "?\?\?")) continue;
        src->items[i] = NULL;
        merge_move(dv, sv);
    }
    for (int64_t i = 0; i < src->n; i++) cfg_node_free(src->items[i]);
    src->n = 0;
    cfg_node_free(src);
}

/* Makes sure merge_move never has to grow a map and fail: reserve room in
 * every destination map for the keys src would add. */
static bool reserve(nc_cfg *dst, const nc_cfg *src) {
    if (dst->kind != NC_CFG_MAP || src->kind != NC_CFG_MAP) return true;
    int64_t add = 0;
    for (int64_t i = 0; i < src->n; i++) {
        const nc_cfg *sv = src->items[i];
        int64_t k = cfg_map_find(dst, sv->key, strlen(sv->key));
        if (k < 0) add++;
        else if (!reserve(dst->items[k], sv)) return false;
    }
    if (dst->n + add <= dst->cap) return true;
    int64_t cap = dst->n + add;
    nc_cfg **items = nc_malloc((size_t)cap * sizeof *items);
    if (!items) return false;
    if (dst->n) memcpy(items, dst->items, (size_t)dst->n * sizeof *items);
    nc_free(dst->items);
    dst->items = items;
    dst->cap = cap;
    return true;
}

nc_status cfg_merge_owned(nc_cfg *dst, nc_cfg *src) {
    if (!reserve(dst, src)) {
        cfg_node_free(src);
        return nc_error(NC_ERR_OOM, "config: merge");
    }
    cfg_invalidate(dst);
    merge_move(dst, src);
    return NC_OK;
}

nc_status nc_cfg_merge(nc_cfg *dst, const nc_cfg *src) {
    /* Copy first: src may live inside dst's tree. */
    nc_cfg *cp = cfg_copy_raw(src);
    if (!cp) return nc_error(NC_ERR_OOM, "config: merge");
    return cfg_merge_owned(dst, cp);
}
