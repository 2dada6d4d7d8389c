/* Value checks where a config is read: ranges of numbers and sets of allowed
 * words. A value that type-checks but makes no sense (batch_size=0, a dropout
 * of 2, lr=nan, strategy=greedyy) is refused here, naming the key and where it
 * came from, instead of surfacing later inside an op or as a silent default. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

/* "key (file:line)" of path under node; the bare dotted key when path is absent. */
static void where_path(const nc_cfg *node, const char *path, nc_strbuf *b) {
    cfg_rctx c = {0};
    nc_cfg *raw = NULL;
    nc_status s = cfg_lookup(&c, node, path ? path : "", &raw);
    cfg_rctx_free(&c);
    if (!s) {
        cfg_where(raw, b);
        return;
    }
    nc_clear_error();
    cfg_full_key_buf(node, b);
    if (path && *path) {
        if (b->n) nc_sb_putc(b, '.');
        nc_sb_puts(b, path);
    }
    if (!b->n) nc_sb_puts(b, "<root>");
}

nc_status nc_cfg_error_at(const nc_cfg *node, const char *path, const char *fmt, ...) {
    nc_strbuf b = {0}, m = {0};
    where_path(node, path, &b);
    va_list ap;
    va_start(ap, fmt);
    nc_sb_vappendf(&m, fmt, ap);
    va_end(ap);
    nc_status s = nc_error(NC_ERR_CONFIG, "%s: %s", nc_sb_str(&b), nc_sb_str(&m));
    nc_sb_free(&b);
    nc_sb_free(&m);
    return s;
}

/* True when path holds a value (present and not null): the *_or getters check
 * only what the config says, so a default may be a sentinel outside the range
 * (-1 for "unset"). */
static bool is_set(const nc_cfg *node, const char *path) {
    nc_cfg_type t;
    nc_status s = nc_cfg_get_type(node, path, &t);
    if (s == NC_ERR_NOT_FOUND) nc_clear_error();
    return !s && t != NC_CFG_T_NULL;
}

static nc_status int_range(const nc_cfg *node, const char *path, int64_t v, int64_t lo, int64_t hi) {
    if (v >= lo && v <= hi) return NC_OK;
    /* lo = INT64_MIN: a cap only (the caller words the lower end itself). */
    if (lo == INT64_MIN) return nc_cfg_error_at(node, path, "must be <= %lld, found %lld", (long long)hi, (long long)v);
    if (hi == INT64_MAX)
        return nc_cfg_error_at(node, path, "must be >= %lld, found %lld", (long long)lo, (long long)v);
    return nc_cfg_error_at(node, path, "must be in [%lld, %lld], found %lld", (long long)lo, (long long)hi,
                           (long long)v);
}

nc_status nc_cfg_get_int_in(const nc_cfg *node, const char *path, int64_t lo, int64_t hi, int64_t *out) {
    nc_status s = nc_cfg_get_int(node, path, out);
    return s ? s : int_range(node, path, *out, lo, hi);
}

nc_status nc_cfg_get_int_in_or(const nc_cfg *node, const char *path, int64_t dflt, int64_t lo, int64_t hi,
                               int64_t *out) {
    nc_status s = nc_cfg_get_int_or(node, path, dflt, out);
    return s || !is_set(node, path) ? s : int_range(node, path, *out, lo, hi);
}

static nc_status float_range(const nc_cfg *node, const char *path, double v, double lo, double hi, bool hi_open,
                             const char *what) {
    if (isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi)) return NC_OK;
    char range[96];
    if (isinf(hi) && isinf(lo)) snprintf(range, sizeof range, "a finite number");
    else if (isinf(hi)) snprintf(range, sizeof range, "a finite number >= %g", lo);
    else if (isinf(lo)) snprintf(range, sizeof range, "a finite number %s %g", hi_open ? "<" : "<=", hi);
    else snprintf(range, sizeof range, "in [%g, %g%c", lo, hi, hi_open ? ')' : ']');
    return nc_cfg_error_at(node, path, "must be %s%s%s%s, found %g", range, what ? " (" : "", what ? what : "",
                           what ? ")" : "", v);
}

nc_status nc_cfg_get_float_in(const nc_cfg *node, const char *path, double lo, double hi, double *out) {
    nc_status s = nc_cfg_get_float(node, path, out);
    return s ? s : float_range(node, path, *out, lo, hi, false, NULL);
}

nc_status nc_cfg_get_float_in_or(const nc_cfg *node, const char *path, double dflt, double lo, double hi,
                                 double *out) {
    nc_status s = nc_cfg_get_float_or(node, path, dflt, out);
    return s || !is_set(node, path) ? s : float_range(node, path, *out, lo, hi, false, NULL);
}

nc_status nc_cfg_get_prob_or(const nc_cfg *node, const char *path, double dflt, double *out) {
    nc_status s = nc_cfg_get_float_or(node, path, dflt, out);
    return s || !is_set(node, path) ? s : float_range(node, path, *out, 0.0, 1.0, true, "a probability");
}

nc_status nc_cfg_check_float(const nc_cfg *node, const char *path, double v, double lo, double hi) {
    return float_range(node, path, v, lo, hi, false, NULL);
}

nc_status nc_cfg_check_enum(const nc_cfg *node, const char *path, const char *value, const char *const *allowed,
                            int *index) {
    int64_t n = 0;
    while (allowed[n]) n++;
    for (int64_t i = 0; i < n; i++)
        if (!strcmp(value, allowed[i])) {
            if (index) *index = (int)i;
            return NC_OK;
        }
    nc_strbuf list = {0};
    for (int64_t i = 0; i < n; i++) nc_sb_appendf(&list, "%s%s", i ? ", " : "", allowed[i]);
    const char *sug = cfg_suggest_list(allowed, n, value, strlen(value));
    nc_status s;
    if (sug)
        s = nc_cfg_error_at(node, path, "'%s' is not one of: %s (did you mean '%s'?)", value, nc_sb_str(&list), sug);
    else
        s = nc_cfg_error_at(node, path, "'%s' is not one of: %s", value, nc_sb_str(&list));
    nc_sb_free(&list);
    return s;
}

nc_status nc_cfg_get_enum_or(const nc_cfg *node, const char *path, const char *const *allowed, int dflt,
                             int *out) {
    const char *v = NULL;
    nc_status s = nc_cfg_get_str_or(node, path, NULL, &v);
    if (s) return s;
    if (!v) {
        *out = dflt;
        return NC_OK;
    }
    return nc_cfg_check_enum(node, path, v, allowed, out);
}
