/* Hydra command-line overrides and config loading by --config-path /
 * --config-name (hydra/core/override_parser, hydra/_internal/config_loader_impl.py
 * _apply_overrides_to_config: `key=v` changes an existing key, `+key=v` adds,
 * `++key=v` adds or changes, `~key[=v]` deletes; values go through
 * OmegaConf.update(merge=True), so a map merges into a map). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_edit.h"
#include "nemoc/alloc.h"

typedef enum { OV_SET, OV_ADD, OV_FORCE, OV_DEL } ov_op;

/* ---- value typing --------------------------------------------------------
 * Hydra's grammar types unquoted values itself: true/false and null in any
 * case, decimal ints and floats (with inf/nan), everything else a string. So
 * `x=yes` is the string "yes" and `x=0x10` the string "0x10", unlike YAML. */

static bool ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return !*a && !*b;
}

/* DIGIT (('_')? DIGIT)* */
static const char *int_part(const char *p) {
    if (!isdigit((unsigned char)*p)) return NULL;
    p++;
    for (;;) {
        if (isdigit((unsigned char)*p)) p++;
        else if (*p == '_' && isdigit((unsigned char)p[1])) p += 2;
        else return p;
    }
}

static nc_cfg_type hydra_type(const char *t) {
    if (ieq(t, "null")) return NC_CFG_T_NULL;
    if (ieq(t, "true") || ieq(t, "false")) return NC_CFG_T_BOOL;
    const char *p = t;
    if (*p == '+' || *p == '-') p++;
    if (ieq(p, "inf") || ieq(p, "nan")) return NC_CFG_T_FLOAT;
    if (*p == '0' && !p[1]) return NC_CFG_T_INT;
    const char *q = (*p >= '1' && *p <= '9') ? int_part(p) : NULL;
    if (q && !*q) return NC_CFG_T_INT;
    /* POINT_FLOAT: INT_PART? '.' INT_PART | INT_PART '.'; then EXPONENT? */
    bool mant = false;
    q = int_part(p);
    if (q) mant = true;
    else q = p;
    if (*q == '.') {
        const char *f = int_part(q + 1);
        if (f) q = f, mant = true;
        else if (mant) q++;
        else return NC_CFG_T_STR;
    } else if (!mant || (*q != 'e' && *q != 'E')) {
        return NC_CFG_T_STR;
    }
    if (!mant) return NC_CFG_T_STR;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        q = int_part(q);
        if (!q) return NC_CFG_T_STR;
    }
    return *q ? NC_CFG_T_STR : NC_CFG_T_FLOAT;
}

/* A plain override value as a scalar with Hydra's type. */
static nc_cfg *plain_value(const char *t, size_t len) {
    char *txt = nc_malloc(len + 1);
    if (!txt) return NULL;
    memcpy(txt, t, len);
    txt[len] = 0;
    nc_cfg_type ht = hydra_type(txt), yt = nc_cfg_scalar_type(txt, false);
    nc_cfg *n = NULL;
    if (ht == yt || ht == NC_CFG_T_STR) {
        n = cfg_scalar_new(txt, len, ht != yt); /* a Hydra string YAML would type: quote it */
    } else {
        /* Spell Hydra's non-string values the YAML way ("TRUE" -> true,
         * "inf" -> .inf, "-.5" -> -0.5). */
        nc_strbuf b = {0};
        if (ht == NC_CFG_T_NULL) nc_sb_puts(&b, "null");
        else if (ht == NC_CFG_T_BOOL) nc_sb_puts(&b, ieq(txt, "true") ? "true" : "false");
        else {
            char *clean = nc_strdup(txt), *w = clean;
            if (clean) {
                for (const char *r = txt; *r; r++)
                    if (*r != '_') *w++ = *r;
                *w = 0;
                cfg_yaml_float(strtod(clean, NULL), &b);
                nc_free(clean);
            } else {
                b.oom = true;
            }
        }
        if (!b.oom) n = cfg_scalar_new(nc_sb_str(&b), b.n, false);
        nc_sb_free(&b);
    }
    nc_free(txt);
    return n;
}

/* A value from the command line has no line in the config file: its parse
 * numbered it line 1 of itself, which messages would pin on the YAML file. */
static void clear_lines(nc_cfg *n, int depth) {
    n->line = 0;
    for (int64_t i = 0; depth < CFG_MAX_NEST_DEPTH && i < n->n; i++) clear_lines(n->items[i], depth + 1);
}

static nc_status parse_value(const char *v, nc_cfg **out) {
    *out = NULL;
    size_t len = strlen(v);
    while (len && isspace((unsigned char)*v)) v++, len--;
    while (len && isspace((unsigned char)v[len - 1])) len--;
    if (!len) { /* `key=` is the empty string in Hydra */
        *out = cfg_scalar_new("", 0, true);
        return *out ? NC_OK : nc_error(NC_ERR_OOM, "override value");
    }
    if (*v != '[' && *v != '{' && *v != '\'' && *v != '"') {
        *out = plain_value(v, len);
        return *out ? NC_OK : nc_error(NC_ERR_OOM, "override value");
    }
    nc_cfg *n;
    nc_status s = cfg_parse_yaml(v, len, "value", true, &n);
    if (s) return s;
    nc_cfg_kind want = *v == '[' ? NC_CFG_SEQ : *v == '{' ? NC_CFG_MAP : NC_CFG_SCALAR;
    if (n->kind != want) {
        cfg_node_free(n);
        return nc_error(NC_ERR_CONFIG, "value: text after the closing %s", want == NC_CFG_SCALAR ? "quote" : "bracket");
    }
    clear_lines(n, 0);
    *out = n;
    return NC_OK;
}

/* Deep equality by value, for `~key=value`. */
static bool same_value(const nc_cfg *a, const nc_cfg *b) {
    if (a->kind != b->kind || a->n != b->n) return false;
    if (a->kind == NC_CFG_SCALAR) {
        nc_strbuf x = {0}, y = {0};
        cfg_py_str(a->text, a->quoted, &x);
        cfg_py_str(b->text, b->quoted, &y);
        bool eq = nc_cfg_scalar_type(a->text, a->quoted) == nc_cfg_scalar_type(b->text, b->quoted) &&
                  !strcmp(nc_sb_str(&x), nc_sb_str(&y));
        nc_sb_free(&x);
        nc_sb_free(&y);
        return eq;
    }
    for (int64_t i = 0; i < a->n; i++) {
        if (a->kind == NC_CFG_MAP && strcmp(a->items[i]->key, b->items[i]->key)) return false;
        if (!same_value(a->items[i], b->items[i])) return false;
    }
    return true;
}

static nc_status apply(nc_cfg *root, ov_op op, const char *key, nc_cfg *val, const char *value_text) {
    cfg_seg *segs;
    int n;
    nc_status s = cfg_split_path(key, &segs, &n);
    if (s) {
        cfg_node_free(val);
        return s;
    }
    if (n == 0) {
        nc_free(segs);
        cfg_node_free(val);
        return nc_error(NC_ERR_CONFIG, "empty key");
    }
    nc_cfg *cont;
    bool create = op == OV_ADD || op == OV_FORCE;
    s = cfg_walk(root, segs, n - 1, create, &cont);
    if (!s && cont->kind == NC_CFG_SCALAR) s = cfg_walk(cont, segs + n - 1, 1, false, &cont);
    if (s) goto done;
    const cfg_seg *last = &segs[n - 1];
    int64_t k = cfg_find_seg(cont, last);
    if (op == OV_DEL) {
        if (k < 0) {
            s = cfg_missing_error(cont, last);
        } else if (val && !same_value(cont->items[k], val)) {
            nc_strbuf d = {0};
            const nc_cfg *cur = cont->items[k];
            cfg_describe(cur, cur->text, cur->quoted, &d);
            s = nc_error(NC_ERR_CONFIG, "the value is %s, not '%s'", nc_sb_str(&d), value_text);
            nc_sb_free(&d);
        } else {
            cfg_invalidate(root);
            cfg_remove_at(cont, k);
        }
    } else if (op == OV_ADD && k >= 0) {
        s = nc_error(NC_ERR_CONFIG, "key '%s' already exists; use %s=%s to change it or ++%s=%s to add or change it",
                     key, key, value_text, key, value_text);
    } else if (op == OV_SET && k < 0) {
        cfg_missing_error(cont, last);
        /* Keep the "no such key (did you mean ...)" text and add the hint. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s; to add a new key use +%s=%s", nc_last_error(), key, value_text);
        s = nc_error(NC_ERR_CONFIG, "%s", msg);
    } else {
        cfg_invalidate(root);
        if (k >= 0 && cont->items[k]->kind == NC_CFG_MAP && val->kind == NC_CFG_MAP) s = cfg_merge_owned(cont->items[k], val);
        else s = cfg_put(cont, last, val);
        val = NULL;
    }
done:
    nc_free(segs);
    cfg_node_free(val);
    return s;
}

nc_status nc_cfg_apply_override(nc_cfg *root, const char *ov) {
    const char *p = ov;
    ov_op op = OV_SET;
    if (p[0] == '~') op = OV_DEL, p++;
    else if (p[0] == '+' && p[1] == '+') op = OV_FORCE, p += 2;
    else if (p[0] == '+') op = OV_ADD, p++;
    const char *eq = strchr(p, '=');
    size_t klen = eq ? (size_t)(eq - p) : strlen(p);
    while (klen && isspace((unsigned char)*p)) p++, klen--;
    while (klen && isspace((unsigned char)p[klen - 1])) klen--;
    if (!eq && op != OV_DEL)
        return nc_error(NC_ERR_CONFIG, "override '%s': expected key=value (or ~key to delete a key)", ov);
    if (!klen) return nc_error(NC_ERR_CONFIG, "override '%s': missing key before '='", ov);
    for (size_t i = 0; i < klen; i++) {
        char c = p[i];
        if (c == '/' || c == '@')
            return nc_error(NC_ERR_UNSUPPORTED, "override '%s': config group and package overrides ('%c') are not supported",
                            ov, c);
        if (isspace((unsigned char)c) || c == '\'' || c == '"' || c == '~' || c == '+' || c == '$' || c == '{' ||
            c == '}')
            return nc_error(NC_ERR_CONFIG, "override '%s': invalid character '%c' in key '%.*s'", ov, c, (int)klen, p);
    }
    char *key = nc_malloc(klen + 1);
    if (!key) return nc_error(NC_ERR_OOM, "override '%s'", ov);
    memcpy(key, p, klen);
    key[klen] = 0;
    nc_cfg *val = NULL;
    nc_status s = NC_OK;
    if (eq) s = parse_value(eq + 1, &val);
    if (!s) s = apply(root, op, key, val, eq ? eq + 1 : "");
    nc_free(key);
    if (s && s != NC_ERR_OOM) {
        /* Bad key paths, missing keys and malformed values are all
         * configuration errors of this override. */
        if (s == NC_ERR_INVALID_ARG || s == NC_ERR_NOT_FOUND || s == NC_ERR_FORMAT) s = NC_ERR_CONFIG;
        return nc_error_prefix(s, "override '%s'", ov);
    }
    return s;
}

nc_status nc_cfg_apply_overrides(nc_cfg *root, int n, const char *const *ovs) {
    for (int i = 0; i < n; i++) {
        nc_status s = nc_cfg_apply_override(root, ovs[i]);
        if (s) return s;
    }
    return NC_OK;
}

static bool flag(const char *arg, const char *long_name, const char *short_name, int *i, int argc,
                 const char *const *argv, const char **value, nc_status *err) {
    size_t ll = strlen(long_name);
    if (!strncmp(arg, long_name, ll) && arg[ll] == '=') {
        *value = arg + ll + 1;
        return true;
    }
    if (strcmp(arg, long_name) && strcmp(arg, short_name)) return false;
    if (*i + 1 >= argc) {
        *err = nc_error(NC_ERR_INVALID_ARG, "%s needs a value", arg);
        return true;
    }
    *value = argv[++*i];
    return true;
}

nc_status nc_cfg_load_args(int argc, const char *const *argv, const char *default_path,
                           const char *default_name, nc_cfg **out) {
    *out = NULL;
    const char *path = default_path, *name = default_name;
    const char **ovs = nc_calloc((size_t)(argc > 0 ? argc : 1), sizeof *ovs);
    if (!ovs) return nc_error(NC_ERR_OOM, "arguments");
    int n = 0;
    nc_status s = NC_OK;
    for (int i = 0; i < argc && !s; i++) {
        const char *a = argv[i];
        if (flag(a, "--config-path", "-cp", &i, argc, argv, &path, &s)) continue;
        if (flag(a, "--config-name", "-cn", &i, argc, argv, &name, &s)) continue;
        if (a[0] == '-') {
            s = nc_error(NC_ERR_INVALID_ARG, "unknown option '%s' (expected --config-path, --config-name or key=value)", a);
            break;
        }
        ovs[n++] = a;
    }
    if (!s) s = nc_cfg_load_hydra(path, name, out);
    if (!s) s = nc_cfg_apply_overrides(*out, n, ovs);
    if (s) {
        nc_cfg_free(*out);
        *out = NULL;
    }
    nc_free(ovs);
    return s;
}
