/* Typed getters over resolved config values, and key validation. */
#include <ctype.h>
#include <string.h>

#include "config/config_internal.h"
#include "nemoc/alloc.h"

/* Full key of n with its source position when known: "a.b (conf.yaml:12)". */
void cfg_where(const nc_cfg *n, nc_strbuf *b) {
    size_t before = b->n;
    cfg_full_key_buf(n, b);
    if (b->n == before) nc_sb_puts(b, "<root>");
    const nc_cfg *root = cfg_root(n);
    if (n->line > 0 && root->file) nc_sb_appendf(b, " (%s:%d)", root->file, n->line);
}

static nc_status type_error(const nc_cfg *raw, const cfg_val *v, const char *expected) {
    nc_strbuf b = {0}, d = {0};
    cfg_where(raw, &b);
    nc_status s;
    if (cfg_val_type(v) == NC_CFG_T_MISSING) {
        /* The override hint is the bare key path, without the position. */
        nc_strbuf k = {0};
        cfg_full_key_buf(raw, &k);
        s = nc_error(NC_ERR_CONFIG, "%s: missing mandatory value (?\?\?); set it in the config or with %s=...",
                     nc_sb_str(&b), k.n ? nc_sb_str(&k) : "key");
        nc_sb_free(&k);
    } else {
        cfg_describe(v->node && v->node->kind != NC_CFG_SCALAR ? v->node : NULL, v->text, v->quoted, &d);
        s = nc_error(NC_ERR_CONFIG, "%s: expected %s, found %s", nc_sb_str(&b), expected, nc_sb_str(&d));
    }
    nc_sb_free(&b);
    nc_sb_free(&d);
    return s;
}

/* Looks up and resolves; *raw is the node at the path. */
static nc_status get_val(const nc_cfg *node, const char *path, nc_cfg **raw, cfg_val *v) {
    cfg_rctx c = {0};
    nc_status s = cfg_lookup(&c, node, path ? path : "", raw);
    if (!s) s = cfg_resolve(&c, *raw, v);
    cfg_rctx_free(&c);
    return s;
}

static nc_status conv_int(const nc_cfg *raw, const cfg_val *v, int64_t *out) {
    if (cfg_val_type(v) != NC_CFG_T_INT) return type_error(raw, v, "int");
    if (cfg_parse_int(v->text, out)) return NC_OK;
    nc_strbuf b = {0};
    cfg_where(raw, &b);
    nc_status s = nc_error(NC_ERR_CONFIG, "%s: int '%s' is out of the 64-bit range", nc_sb_str(&b), v->text);
    nc_sb_free(&b);
    return s;
}

static nc_status conv_float(const nc_cfg *raw, const cfg_val *v, double *out) {
    nc_cfg_type t = cfg_val_type(v);
    if (t != NC_CFG_T_INT && t != NC_CFG_T_FLOAT) return type_error(raw, v, "float");
    if (cfg_parse_float(v->text, out)) return NC_OK;
    nc_strbuf b = {0};
    cfg_where(raw, &b);
    nc_status s = nc_error(NC_ERR_CONFIG, "%s: cannot read '%s' as a float", nc_sb_str(&b), v->text);
    nc_sb_free(&b);
    return s;
}

/* Python's int(text) for decimal text: surrounding whitespace, a sign, digits
 * with single underscores between them. *nonzero is the value != 0. */
static bool py_int_text(const char *t, bool *nonzero) {
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    if (*t == '+' || *t == '-') t++;
    if (*t < '0' || *t > '9') return false;
    bool nz = false;
    for (; (*t >= '0' && *t <= '9') || *t == '_'; t++) {
        if (*t == '_' && !(t[1] >= '0' && t[1] <= '9')) return false;
        nz |= *t >= '1' && *t <= '9';
    }
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    if (*t) return false;
    *nonzero = nz;
    return true;
}

static bool text_is_one_of(const char *t, const char *const *words) {
    for (; *words; words++) {
        size_t i = 0;
        while (t[i] && tolower((unsigned char)t[i]) == (*words)[i]) i++;
        if (!t[i] && !(*words)[i]) return true;
    }
    return false;
}

/* OmegaConf's BooleanNode.validate_and_convert, the rule a NeMo config's typed
 * bool fields follow: a YAML bool; an int (0 is false, any other true); a
 * string that Python's int() reads (same rule) or one of yes/y/on/true,
 * no/n/off/false in any case. Anything else ("nope", 1.5) is refused: reading
 * it as false would silently turn an option off. */
static nc_status conv_bool(const nc_cfg *raw, const cfg_val *v, bool *out) {
    static const char *const yes[] = {"yes", "y", "on", "true", NULL};
    static const char *const no[] = {"no", "n", "off", "false", NULL};
    nc_cfg_type t = cfg_val_type(v);
    int64_t iv;
    bool nz;
    if (t == NC_CFG_T_BOOL && cfg_parse_bool(v->text, out)) return NC_OK;
    if (t == NC_CFG_T_INT && cfg_parse_int(v->text, &iv)) {
        *out = iv != 0;
        return NC_OK;
    }
    if (t == NC_CFG_T_STR) {
        if (py_int_text(v->text, &nz)) {
            *out = nz;
            return NC_OK;
        }
        if (text_is_one_of(v->text, yes) || text_is_one_of(v->text, no)) {
            *out = text_is_one_of(v->text, yes);
            return NC_OK;
        }
    }
    return type_error(raw, v, "bool (true/false, yes/no, y/n, on/off in any case, or an integer: 0 is false)");
}

static nc_status conv_str(const nc_cfg *raw, const cfg_val *v, const char **out) {
    nc_cfg_type t = cfg_val_type(v);
    if (t == NC_CFG_T_NULL || t == NC_CFG_T_MISSING || t == NC_CFG_T_MAP || t == NC_CFG_T_SEQ)
        return type_error(raw, v, "string");
    *out = v->text;
    return NC_OK;
}

/* For the *_or getters: true when the default applies (absent or null). */
static bool use_default(nc_status s, const cfg_val *v, nc_status *err) {
    if (s == NC_ERR_NOT_FOUND) {
        nc_clear_error();
        *err = NC_OK;
        return true;
    }
    *err = s;
    if (s) return true;
    return cfg_val_type(v) == NC_CFG_T_NULL;
}

#define DEFINE_GETTERS(NAME, T, CONV)                                                          \
    nc_status nc_cfg_get_##NAME(const nc_cfg *node, const char *path, T *out) {               \
        nc_cfg *raw;                                                                           \
        cfg_val v;                                                                             \
        nc_status s = get_val(node, path, &raw, &v);                                           \
        return s ? s : CONV(raw, &v, out);                                                     \
    }                                                                                          \
    nc_status nc_cfg_get_##NAME##_or(const nc_cfg *node, const char *path, T dflt, T *out) {  \
        nc_cfg *raw;                                                                           \
        cfg_val v = {0};                                                                       \
        nc_status err, s = get_val(node, path, &raw, &v);                                      \
        if (use_default(s, &v, &err)) {                                                        \
            *out = dflt;                                                                       \
            return err;                                                                        \
        }                                                                                      \
        return CONV(raw, &v, out);                                                             \
    }

DEFINE_GETTERS(int, int64_t, conv_int)
DEFINE_GETTERS(float, double, conv_float)
DEFINE_GETTERS(bool, bool, conv_bool)
DEFINE_GETTERS(str, const char *, conv_str)

nc_status nc_cfg_get_node(const nc_cfg *node, const char *path, nc_cfg **out) {
    nc_cfg *raw;
    cfg_val v;
    nc_status s = get_val(node, path, &raw, &v);
    *out = s ? NULL : v.node;
    return s;
}

nc_status nc_cfg_get_type(const nc_cfg *node, const char *path, nc_cfg_type *out) {
    nc_cfg *raw;
    cfg_val v;
    nc_status s = get_val(node, path, &raw, &v);
    if (!s) *out = cfg_val_type(&v);
    return s;
}

bool nc_cfg_has(const nc_cfg *node, const char *path) {
    nc_cfg *raw;
    cfg_rctx c = {0};
    nc_status s = cfg_lookup(&c, node, path ? path : "", &raw);
    cfg_rctx_free(&c);
    return s == NC_OK;
}

/* The resolved sequence at path, with every item resolved into vals. */
static nc_status get_seq(const nc_cfg *node, const char *path, nc_cfg **seq, cfg_val **vals) {
    nc_cfg *raw;
    cfg_val v;
    *vals = NULL;
    nc_status s = get_val(node, path, &raw, &v);
    if (s) return s;
    if (v.node->kind != NC_CFG_SEQ) return type_error(raw, &v, "list");
    *seq = v.node;
    *vals = nc_calloc((size_t)(v.node->n ? v.node->n : 1), sizeof(cfg_val));
    if (!*vals) return nc_error(NC_ERR_OOM, "config: list");
    cfg_rctx c = {0};
    for (int64_t i = 0; i < v.node->n && !s; i++) s = cfg_resolve(&c, v.node->items[i], &(*vals)[i]);
    cfg_rctx_free(&c);
    if (s) {
        nc_free(*vals);
        *vals = NULL;
    }
    return s;
}

#define DEFINE_LIST_GETTER(NAME, T, CONV)                                                         \
    nc_status nc_cfg_get_##NAME##_list(const nc_cfg *node, const char *path, T **out, int64_t *n) { \
        nc_cfg *seq;                                                                              \
        cfg_val *vals;                                                                            \
        *out = NULL;                                                                              \
        *n = 0;                                                                                   \
        nc_status s = get_seq(node, path, &seq, &vals);                                           \
        if (s) return s;                                                                          \
        T *arr = nc_calloc((size_t)(seq->n ? seq->n : 1), sizeof(T));                             \
        if (!arr) s = nc_error(NC_ERR_OOM, "config: list");                                       \
        for (int64_t i = 0; !s && i < seq->n; i++) s = CONV(seq->items[i], &vals[i], &arr[i]);    \
        nc_free(vals);                                                                            \
        if (s) {                                                                                  \
            nc_free(arr);                                                                         \
            return s;                                                                             \
        }                                                                                         \
        *out = arr;                                                                               \
        *n = seq->n;                                                                              \
        return NC_OK;                                                                             \
    }

DEFINE_LIST_GETTER(int, int64_t, conv_int)
DEFINE_LIST_GETTER(float, double, conv_float)
DEFINE_LIST_GETTER(str, const char *, conv_str)

nc_status nc_cfg_check_keys(const nc_cfg *node, const char *path, const char *const *known) {
    nc_cfg *raw;
    cfg_val v;
    nc_status s = get_val(node, path, &raw, &v);
    if (s) return s;
    if (v.node->kind != NC_CFG_MAP) return type_error(raw, &v, "map");
    int64_t nk = 0;
    while (known[nk]) nk++;
    const nc_cfg *m = v.node;
    for (int64_t i = 0; i < m->n; i++) {
        const char *k = m->items[i]->key;
        bool ok = false;
        for (int64_t j = 0; j < nk && !ok; j++) ok = !strcmp(k, known[j]);
        if (ok) continue;
        nc_strbuf b = {0};
        cfg_where(m, &b);
        const char *sug = cfg_suggest_list(known, nk, k, strlen(k));
        if (sug) s = nc_error(NC_ERR_CONFIG, "%s: unknown key '%s' (did you mean '%s'?)", nc_sb_str(&b), k, sug);
        else s = nc_error(NC_ERR_CONFIG, "%s: unknown key '%s'", nc_sb_str(&b), k);
        nc_sb_free(&b);
        return s;
    }
    return NC_OK;
}
