/* OmegaConf interpolation: `${path}`, `${.rel}`, `${..rel}`, `${a[0]}`,
 * strings with embedded interpolations, nested `${a.${b}}`, and the
 * `oc.env` / `oc.select` resolvers (omegaconf/grammar/OmegaConfGrammarParser.g4,
 * omegaconf/resolvers/oc/__init__.py).
 *
 * A value that is exactly one interpolation takes the type of what it points
 * to (a node, possibly a whole map); anything else is a string built from the
 * Python str() of each part, as OmegaConf does. Resolution keeps a stack of
 * the nodes being resolved: meeting one again is a cycle, reported with the
 * key path of every node in it. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/vec.h"
#include "nemoc/alloc.h"

void cfg_rctx_free(cfg_rctx *c) {
    nc_free(c->stack);
    c->stack = NULL;
    c->n = c->cap = 0;
}

static void key_of(const nc_cfg *n, nc_strbuf *b) {
    nc_strbuf k = {0};
    cfg_full_key_buf(n, &k);
    nc_sb_puts(b, k.n ? nc_sb_str(&k) : "<root>");
    if (k.oom) b->oom = true;
    nc_sb_free(&k);
}

static nc_status push(cfg_rctx *c, const nc_cfg *n) {
    for (int i = 0; i < c->n; i++) {
        if (c->stack[i] != n) continue;
        nc_strbuf b = {0};
        for (int j = i; j < c->n; j++) {
            key_of(c->stack[j], &b);
            nc_sb_puts(&b, " -> ");
        }
        key_of(n, &b);
        nc_status s = nc_error(NC_ERR_CONFIG, "interpolation cycle: %s", nc_sb_str(&b));
        nc_sb_free(&b);
        return s;
    }
    if (c->n >= CFG_MAX_RESOLVE_DEPTH) {
        nc_strbuf b = {0};
        key_of(n, &b);
        nc_status s = nc_error(NC_ERR_CONFIG, "%s: interpolations nested deeper than %d levels",
                               nc_sb_str(&b), CFG_MAX_RESOLVE_DEPTH);
        nc_sb_free(&b);
        return s;
    }
    if (nc_vec_reserve(&c->stack, &c->cap, c->n + 1, sizeof *c->stack))
        return nc_error(NC_ERR_OOM, "config: resolving interpolations");
    c->stack[c->n++] = n;
    return NC_OK;
}

static void pop(cfg_rctx *c) { c->n--; }

/* Counts n bytes of output against CFG_MAX_INTERP_BYTES; the error names the
 * key whose resolution started the expansion. */
static nc_status charge(cfg_rctx *c, const nc_cfg *holder, int64_t n) {
    c->work += n;
    if (c->work <= CFG_MAX_INTERP_BYTES) return NC_OK;
    /* The outermost value being resolved (a copy of a whole section pushes
     * the section first): the key a person wrote the expanding value at. */
    const nc_cfg *name = holder;
    for (int i = 0; i < c->n; i++)
        if (c->stack[i]->kind == NC_CFG_SCALAR) {
            name = c->stack[i];
            break;
        }
    nc_strbuf b = {0};
    key_of(name, &b);
    nc_status s = nc_error(NC_ERR_CONFIG,
                           "%s: interpolations expand to more than %lld bytes (do interpolated values repeat "
                           "each other, doubling at every step?)",
                           nc_sb_str(&b), (long long)CFG_MAX_INTERP_BYTES);
    nc_sb_free(&b);
    return s;
}

nc_cfg_type cfg_val_type(const cfg_val *v) {
    if (v->node && v->node->kind == NC_CFG_MAP) return NC_CFG_T_MAP;
    if (v->node && v->node->kind == NC_CFG_SEQ) return NC_CFG_T_SEQ;
    return nc_cfg_scalar_type(v->text, v->quoted);
}

/* ---- scanning --------------------------------------------------------------- */

/* p points just after "${"; returns the matching '}' or NULL. Quotes and
 * braces of resolver arguments are skipped as the grammar does. */
static const char *find_close(const char *p) {
    int depth = 1;
    while (*p) {
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q) p += (*p == '\\' && p[1]) ? 2 : 1;
            if (!*p) return NULL;
            p++;
            continue;
        }
        if (*p == '$' && p[1] == '{') {
            depth++;
            p += 2;
            continue;
        }
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) return p;
        p++;
    }
    return NULL;
}

/* Result of one ${...}: a node, a string from a resolver, or null. */
typedef struct ires {
    cfg_val v;
    bool from_node, is_null;
    bool str_plain; /* the string is an unquoted value, typed as YAML types it */
    nc_strbuf str;
} ires;

static nc_status eval_interp(cfg_rctx *c, nc_cfg *holder, const char *body, size_t len, ires *r);

static nc_status interp_error(nc_status code, const nc_cfg *holder, const char *body, size_t len) {
    nc_strbuf b = {0};
    key_of(holder, &b);
    nc_status s = nc_error_prefix(code, "%s: interpolation '${%.*s}'", nc_sb_str(&b), (int)len, body);
    nc_sb_free(&b);
    return s;
}

/* Appends the Python str() of an interpolation result (for embedding). */
static nc_status append_str(const nc_cfg *holder, const char *body, size_t len, ires *r, nc_strbuf *out) {
    if (!r->from_node) {
        if (r->is_null) nc_sb_puts(out, "None");
        else if (r->str_plain) cfg_py_str(nc_sb_str(&r->str), false, out);
        else nc_sb_append(out, nc_sb_str(&r->str), r->str.n);
        return NC_OK;
    }
    nc_cfg_type t = cfg_val_type(&r->v);
    if (t == NC_CFG_T_MAP || t == NC_CFG_T_SEQ) {
        nc_error(NC_ERR_CONFIG, "cannot embed a %s in a string", nc_cfg_type_name(t));
        return interp_error(NC_ERR_CONFIG, holder, body, len);
    }
    cfg_py_str(r->v.text, r->v.quoted, out);
    return NC_OK;
}

/* Evaluates text that may mix literal characters and ${...} (a key path, a
 * resolver argument or a whole value) into a string. With `top`, OmegaConf's
 * escapes apply: a run of n backslashes before "${" gives n/2 backslashes,
 * and an odd run makes the "${" literal. */
static nc_status eval_mixed(cfg_rctx *c, nc_cfg *holder, const char *s, size_t len, bool top, nc_strbuf *out) {
    const char *p = s, *end = s + len;
    while (p < end) {
        if (top && *p == '\\') {
            const char *q = p;
            while (q < end && *q == '\\') q++;
            if (q + 1 < end && q[0] == '$' && q[1] == '{') {
                size_t nb = (size_t)(q - p);
                for (size_t i = 0; i < nb / 2; i++) nc_sb_putc(out, '\\');
                p = q;
                if (nb % 2) { /* escaped: "${" is literal text */
                    nc_sb_append(out, "${", 2);
                    p += 2;
                }
                continue;
            }
            nc_sb_append(out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (*p == '$' && p + 1 < end && p[1] == '{') {
            const char *close = find_close(p + 2);
            if (!close || close >= end) {
                nc_error(NC_ERR_CONFIG, "unterminated interpolation in '%.*s'", (int)len, s);
                nc_strbuf b = {0};
                key_of(holder, &b);
                nc_status e = nc_error_prefix(NC_ERR_CONFIG, "%s", nc_sb_str(&b));
                nc_sb_free(&b);
                return e;
            }
            ires r = {0};
            size_t before = out->n;
            nc_status st = eval_interp(c, holder, p + 2, (size_t)(close - p - 2), &r);
            if (!st) st = append_str(holder, p + 2, (size_t)(close - p - 2), &r, out);
            nc_sb_free(&r.str);
            if (!st) st = charge(c, holder, (int64_t)(out->n - before));
            if (st) return st;
            p = close + 1;
            continue;
        }
        nc_sb_putc(out, *p++);
    }
    return out->oom ? nc_error(NC_ERR_OOM, "config: interpolation") : NC_OK;
}

static void trim(const char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

/* Looks up an interpolation key path relative to the holder: leading dots
 * climb from the holder's container. Result resolved (followed). */
static nc_status select_path(cfg_rctx *c, nc_cfg *holder, const char *path, nc_cfg **target) {
    const nc_cfg *base;
    if (*path == '.') {
        base = holder->parent;
        path++;
        while (*path == '.') {
            if (base) base = base->parent;
            path++;
        }
        if (!base) return nc_error(NC_ERR_CONFIG, "relative key goes above the root");
    } else {
        base = cfg_root(holder);
    }
    return cfg_lookup(c, base, path, target);
}

static nc_status follow(cfg_rctx *c, nc_cfg *target, ires *r) {
    nc_status s = cfg_resolve(c, target, &r->v);
    if (s) return s;
    if (cfg_val_type(&r->v) == NC_CFG_T_MISSING) {
        nc_strbuf b = {0};
        key_of(target, &b);
        s = nc_error(NC_ERR_CONFIG, "'%s' is a missing mandatory value (?\?\?)", nc_sb_str(&b));
        nc_sb_free(&b);
        return s;
    }
    r->from_node = true;
    return NC_OK;
}

typedef struct rarg {
    nc_strbuf s;
    bool is_null, quoted;
} rarg;

#define MAX_RESOLVER_ARGS 8

/* Splits resolver arguments at top-level commas and evaluates each. */
static nc_status eval_args(cfg_rctx *c, nc_cfg *holder, const char *s, size_t len, rarg *args, int *nargs) {
    *nargs = 0;
    if (!len) return NC_OK;
    const char *p = s, *end = s + len;
    while (p <= end) {
        const char *q = p;
        int depth = 0;
        while (q < end) {
            if (*q == '\'' || *q == '"') {
                char qc = *q++;
                while (q < end && *q != qc) q += (*q == '\\' && q + 1 < end) ? 2 : 1;
                if (q < end) q++;
                continue;
            }
            if (*q == '$' && q + 1 < end && q[1] == '{') {
                depth++;
                q += 2;
                continue;
            }
            if (*q == '{' || *q == '[') depth++;
            else if ((*q == '}' || *q == ']') && depth > 0) depth--;
            else if (*q == ',' && depth == 0) break;
            q++;
        }
        if (*nargs == MAX_RESOLVER_ARGS) return nc_error(NC_ERR_CONFIG, "too many resolver arguments");
        rarg *a = &args[(*nargs)++];
        const char *as = p;
        size_t al = (size_t)(q - p);
        trim(&as, &al);
        nc_status st = NC_OK;
        if (al >= 2 && (as[0] == '\'' || as[0] == '"') && as[al - 1] == as[0]) {
            /* Quoted argument: drop the quotes and their escapes, then expand
             * interpolations inside, as the grammar's quoted strings do. */
            nc_strbuf raw = {0};
            for (size_t i = 1; i + 1 < al; i++) {
                if (as[i] == '\\' && i + 2 < al && (as[i + 1] == as[0] || as[i + 1] == '\\')) i++;
                nc_sb_putc(&raw, as[i]);
            }
            st = eval_mixed(c, holder, nc_sb_str(&raw), raw.n, false, &a->s);
            nc_sb_free(&raw);
            a->quoted = true;
        } else if (al == 4 && !strncmp(as, "null", 4)) {
            a->is_null = true;
        } else {
            st = eval_mixed(c, holder, as, al, false, &a->s);
        }
        if (st) return st;
        if (q >= end) break;
        p = q + 1;
    }
    return NC_OK;
}

static nc_status eval_resolver(cfg_rctx *c, nc_cfg *holder, const char *name, size_t nlen, const char *argtxt,
                               size_t alen, ires *r) {
    rarg args[MAX_RESOLVER_ARGS];
    memset(args, 0, sizeof args);
    int nargs = 0;
    nc_status s = eval_args(c, holder, argtxt, alen, args, &nargs);
    if (s) goto done;
    if ((nlen == 6 && !strncmp(name, "oc.env", 6)) || (nlen == 3 && !strncmp(name, "env", 3))) {
        /* oc.env: the variable's text as a string; the default when unset
         * (a null default gives null). */
        if (nargs < 1 || nargs > 2 || args[0].is_null) {
            s = nc_error(NC_ERR_CONFIG, "oc.env takes a variable name and an optional default");
            goto done;
        }
        const char *v = getenv(nc_sb_str(&args[0].s));
        if (v) {
            nc_sb_puts(&r->str, v);
        } else if (nargs == 2) {
            if (args[1].is_null) r->is_null = true;
            else nc_sb_append(&r->str, nc_sb_str(&args[1].s), args[1].s.n);
        } else {
            s = nc_error(NC_ERR_CONFIG, "environment variable '%s' is not set", nc_sb_str(&args[0].s));
            goto done;
        }
        if (!r->is_null) nc_sb_append(&r->str, "", 0);
    } else if (nlen == 9 && !strncmp(name, "oc.select", 9)) {
        /* oc.select: the value at a key, or the default when it is absent. */
        if (nargs < 1 || nargs > 2 || args[0].is_null) {
            s = nc_error(NC_ERR_CONFIG, "oc.select takes a key and an optional default");
            goto done;
        }
        nc_cfg *t;
        s = select_path(c, holder, nc_sb_str(&args[0].s), &t);
        if (!s) {
            s = follow(c, t, r);
        } else if (s == NC_ERR_NOT_FOUND && nargs == 2) {
            s = NC_OK;
            if (args[1].is_null) {
                r->is_null = true;
            } else {
                /* OmegaConf types an unquoted default (`7` is an int). */
                nc_sb_append(&r->str, nc_sb_str(&args[1].s), args[1].s.n);
                r->str_plain = !args[1].quoted;
            }
        }
    } else {
        s = nc_error(NC_ERR_CONFIG, "unknown resolver '%.*s' (nemoc supports oc.env and oc.select)", (int)nlen,
                     name);
    }
done:
    for (int i = 0; i < MAX_RESOLVER_ARGS; i++) nc_sb_free(&args[i].s);
    if (!s && r->str.oom) s = nc_error(NC_ERR_OOM, "config: resolver");
    return s;
}

static bool is_resolver(const char *s, size_t len, size_t *name_len) {
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t start = i;
    if (i >= len || !(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) return false;
    while (i < len && (s[i] == '_' || s[i] == '.' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                       (s[i] >= '0' && s[i] <= '9')))
        i++;
    size_t end = i;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i >= len || s[i] != ':') return false;
    *name_len = end - start;
    return true;
}

static nc_status eval_interp(cfg_rctx *c, nc_cfg *holder, const char *body, size_t len, ires *r) {
    size_t nlen;
    nc_status s;
    if (is_resolver(body, len, &nlen)) {
        const char *name = body;
        while (*name == ' ' || *name == '\t') name++;
        const char *colon = memchr(body, ':', len);
        s = eval_resolver(c, holder, name, nlen, colon + 1, len - (size_t)(colon + 1 - body), r);
    } else {
        nc_strbuf path = {0};
        s = eval_mixed(c, holder, body, len, false, &path);
        if (!s) {
            const char *ps = nc_sb_str(&path);
            size_t pl = path.n;
            trim(&ps, &pl);
            char *key = nc_malloc(pl + 1);
            if (!key) {
                s = nc_error(NC_ERR_OOM, "config: interpolation");
            } else {
                memcpy(key, ps, pl);
                key[pl] = 0;
                nc_cfg *t = NULL;
                if (!pl) s = nc_error(NC_ERR_CONFIG, "empty key");
                else s = select_path(c, holder, key, &t);
                if (!s) s = follow(c, t, r);
                nc_free(key);
            }
        }
        nc_sb_free(&path);
    }
    if (s && s != NC_ERR_OOM) {
        /* Errors from deeper interpolations already carry their own context. */
        if (strstr(nc_last_error(), ": interpolation '${") || strstr(nc_last_error(), "interpolation cycle"))
            return s == NC_ERR_NOT_FOUND ? NC_ERR_CONFIG : s;
        return interp_error(NC_ERR_CONFIG, holder, body, len);
    }
    return s;
}

/* ---- public-facing internal entry points --------------------------------- */

/* Keeps `text` (nc_malloc'd, taken) as n's cached result, within the tree's
 * budget of cached bytes: results repeated across many keys cannot add up to
 * more than CFG_MAX_INTERP_BYTES between them. */
static nc_status keep_cache(const cfg_rctx *c, nc_cfg *n, char *text, bool plain) {
    nc_cfg *root = cfg_root(n);
    int64_t len = text ? (int64_t)strlen(text) + 1 : 0;
    if (root->cache_bytes + len > CFG_MAX_INTERP_BYTES) {
        nc_free(text);
        nc_strbuf b = {0};
        const nc_cfg *name = n;
        for (int i = 0; i < c->n; i++)
            if (c->stack[i]->kind == NC_CFG_SCALAR) {
                name = c->stack[i];
                break;
            }
        key_of(name, &b);
        nc_status s = nc_error(NC_ERR_CONFIG,
                               "%s: interpolations expand to more than %lld bytes (the config's interpolated "
                               "values add up to that; do they repeat each other, doubling at every step?)",
                               nc_sb_str(&b), (long long)CFG_MAX_INTERP_BYTES);
        nc_sb_free(&b);
        return s;
    }
    root->cache_bytes += len;
    n->cache = text;
    n->cache_plain = plain;
    return NC_OK;
}

nc_status cfg_resolve(cfg_rctx *c, nc_cfg *n, cfg_val *out) {
    if (n->kind != NC_CFG_SCALAR) {
        *out = (cfg_val){.node = n};
        return NC_OK;
    }
    if (!cfg_is_interp(n->text)) {
        *out = (cfg_val){.node = n, .text = n->text, .quoted = n->quoted};
        return NC_OK;
    }
    if (n->cache) {
        *out = (cfg_val){.node = n, .text = n->cache, .quoted = !n->cache_plain};
        return NC_OK;
    }
    nc_status s = push(c, n);
    if (s) return s;
    const char *t = n->text;
    size_t len = strlen(t);
    const char *close = (t[0] == '$' && t[1] == '{') ? find_close(t + 2) : NULL;
    if (close && close == t + len - 1) {
        /* The whole value is one interpolation: it takes the target's type. */
        ires r = {0};
        s = eval_interp(c, n, t + 2, len - 3, &r);
        if (!s) {
            if (r.from_node) {
                *out = r.v;
            } else if (r.is_null) {
                *out = (cfg_val){.node = n, .text = "null", .quoted = false};
            } else {
                s = keep_cache(c, n, r.str.p, r.str_plain);
                r.str.p = NULL;
                if (!s) *out = (cfg_val){.node = n, .text = n->cache ? n->cache : "", .quoted = !r.str_plain};
            }
        }
        nc_sb_free(&r.str);
    } else {
        nc_strbuf b = {0};
        s = eval_mixed(c, n, t, len, true, &b);
        if (!s) {
            nc_sb_append(&b, "", 0);
            if (b.oom) {
                s = nc_error(NC_ERR_OOM, "config: interpolation");
            } else {
                s = keep_cache(c, n, b.p, false);
                b.p = NULL;
                if (!s) *out = (cfg_val){.node = n, .text = n->cache, .quoted = true};
            }
        }
        nc_sb_free(&b);
    }
    pop(c);
    return s;
}

static nc_status not_container(const nc_cfg *cur, const cfg_val *v, const char *seg, size_t len) {
    nc_strbuf b = {0}, d = {0};
    key_of(cur, &b);
    cfg_describe(v->node && v->node->kind != NC_CFG_SCALAR ? v->node : NULL, v->text, v->quoted, &d);
    nc_status s;
    if (cfg_val_type(v) == NC_CFG_T_MISSING)
        s = nc_error(NC_ERR_CONFIG, "%s: missing mandatory value (?\?\?)", nc_sb_str(&b));
    else
        s = nc_error(NC_ERR_CONFIG, "%s: cannot look up '%.*s' in %s", nc_sb_str(&b), (int)len, seg,
                     nc_sb_str(&d));
    nc_sb_free(&b);
    nc_sb_free(&d);
    return s;
}

nc_status cfg_lookup(cfg_rctx *c, const nc_cfg *start, const char *path, nc_cfg **out) {
    nc_cfg *cur = (nc_cfg *)start;
    const char *p = path;
    for (;;) {
        const char *seg;
        size_t len;
        bool br;
        int r = cfg_next_seg(&p, &seg, &len, &br);
        if (r == 0) break;
        if (r < 0) return nc_error(NC_ERR_INVALID_ARG, "malformed key path '%s'", path);
        if (cur->kind == NC_CFG_SCALAR) {
            cfg_val v;
            nc_status s = cfg_resolve(c, cur, &v);
            if (s) return s;
            if (v.node->kind == NC_CFG_SCALAR) return not_container(cur, &v, seg, len);
            cur = v.node;
        }
        nc_strbuf b = {0};
        int64_t i = -1, idx;
        if (cur->kind == NC_CFG_MAP) {
            i = cfg_map_find(cur, seg, len);
            if (i < 0) {
                cfg_full_key_buf(cur, &b);
                cfg_key_append(&b, seg, len, br);
                const char *sug = cfg_suggest(cur, seg, len);
                nc_status s = sug ? nc_error(NC_ERR_NOT_FOUND, "%s: no such key (did you mean '%s'?)", nc_sb_str(&b), sug)
                                  : nc_error(NC_ERR_NOT_FOUND, "%s: no such key", nc_sb_str(&b));
                nc_sb_free(&b);
                return s;
            }
        } else {
            if (!cfg_parse_index(seg, len, &idx)) {
                key_of(cur, &b);
                nc_status s = nc_error(NC_ERR_CONFIG, "%s: is a list; '%.*s' is not an index", nc_sb_str(&b),
                                       (int)len, seg);
                nc_sb_free(&b);
                return s;
            }
            if (idx >= cur->n) {
                cfg_full_key_buf(cur, &b);
                cfg_key_append(&b, seg, len, true);
                nc_status s = nc_error(NC_ERR_NOT_FOUND, "%s: index out of range (the list has %lld items)",
                                       nc_sb_str(&b), (long long)cur->n);
                nc_sb_free(&b);
                return s;
            }
            i = idx;
        }
        nc_sb_free(&b);
        cur = cur->items[i];
    }
    *out = cur;
    return NC_OK;
}

/* Re-escapes "${" in a resolved string so that it reads back literally. */
static nc_cfg *literal_scalar(const char *text, bool quoted) {
    if (!quoted || !strstr(text, "${")) return cfg_scalar_new(text, strlen(text), quoted);
    nc_strbuf b = {0};
    for (const char *p = text; *p;) {
        const char *q = p;
        while (*q == '\\') q++;
        if (q[0] == '$' && q[1] == '{') {
            size_t nb = (size_t)(q - p);
            for (size_t i = 0; i < 2 * nb + 1; i++) nc_sb_putc(&b, '\\');
            nc_sb_append(&b, "${", 2);
            p = q + 2;
        } else if (q != p) {
            nc_sb_append(&b, p, (size_t)(q - p));
            p = q;
        } else {
            nc_sb_putc(&b, *p++);
        }
    }
    nc_cfg *n = b.oom ? NULL : cfg_scalar_new(nc_sb_str(&b), b.n, true);
    nc_sb_free(&b);
    return n;
}

nc_status cfg_copy_resolved(cfg_rctx *c, const nc_cfg *src, nc_cfg **out) {
    *out = NULL;
    /* A map reached through several interpolations is copied once for each:
     * nested maps that each refer twice to the next multiply like strings. */
    nc_status cs = charge(c, src, (int64_t)sizeof *src + (src->text ? (int64_t)strlen(src->text) : 0));
    if (cs) return cs;
    if (src->kind == NC_CFG_SCALAR) {
        if (!cfg_is_interp(src->text)) {
            *out = cfg_scalar_new(src->text, strlen(src->text), src->quoted);
            return *out ? NC_OK : nc_error(NC_ERR_OOM, "config: copy");
        }
        cfg_val v;
        nc_status s = cfg_resolve(c, (nc_cfg *)src, &v);
        if (s) return s;
        if (v.node->kind != NC_CFG_SCALAR) {
            s = push(c, src);
            if (s) return s;
            s = cfg_copy_resolved(c, v.node, out);
            pop(c);
            return s;
        }
        *out = literal_scalar(v.text, v.quoted);
        return *out ? NC_OK : nc_error(NC_ERR_OOM, "config: copy");
    }
    nc_status s = push(c, src);
    if (s) return s;
    nc_cfg *n = cfg_node_new(src->kind);
    if (!n) s = nc_error(NC_ERR_OOM, "config: copy");
    for (int64_t i = 0; !s && i < src->n; i++) {
        nc_cfg *child;
        s = cfg_copy_resolved(c, src->items[i], &child);
        if (!s) {
            const char *k = src->items[i]->key;
            s = cfg_add(n, k, k ? strlen(k) : 0, child);
        }
    }
    pop(c);
    if (s) {
        cfg_node_free(n);
        return s;
    }
    *out = n;
    return NC_OK;
}

nc_status nc_cfg_copy(const nc_cfg *src, bool resolve, nc_cfg **out) {
    *out = NULL;
    if (!resolve) {
        *out = cfg_copy_raw(src);
        return *out ? NC_OK : nc_error(NC_ERR_OOM, "config: copy");
    }
    cfg_rctx c = {0};
    nc_status s = cfg_copy_resolved(&c, src, out);
    cfg_rctx_free(&c);
    return s;
}

static nc_status resolve_inplace(cfg_rctx *c, nc_cfg *n) {
    if (n->kind != NC_CFG_SCALAR) {
        for (int64_t i = 0; i < n->n; i++) {
            nc_status s = resolve_inplace(c, n->items[i]);
            if (s) return s;
        }
        return NC_OK;
    }
    if (!cfg_is_interp(n->text)) return NC_OK;
    nc_cfg *val;
    nc_status s = cfg_copy_resolved(c, n, &val);
    if (s) return s;
    cfg_take_content(n, val);
    return NC_OK;
}

nc_status nc_cfg_resolve(nc_cfg *root) {
    cfg_rctx c = {0};
    nc_status s = resolve_inplace(&c, root);
    cfg_rctx_free(&c);
    cfg_invalidate(root);
    return s;
}
