/* Range-checked getters: sizes and counts that come from a config are refused
 * by name when they are outside what nemoc can hold, before any arithmetic or
 * allocation uses them ("model.encoder.d_model (conf.yaml:94): 1000000000000
 * is out of range [1, 65536]"). */
#include <math.h>

#include "config/config_internal.h"

/* "a.b (conf.yaml:12)" for the node at path. */
static void where(const nc_cfg *node, const char *path, nc_strbuf *b) {
    nc_cfg *raw = NULL;
    cfg_rctx c = {0};
    if (cfg_lookup(&c, node, path ? path : "", &raw) != NC_OK) raw = NULL;
    cfg_rctx_free(&c);
    nc_clear_error();
    if (!raw) {
        nc_sb_puts(b, path ? path : "<root>");
        return;
    }
    size_t before = b->n;
    cfg_full_key_buf(raw, b);
    if (b->n == before) nc_sb_puts(b, "<root>");
    const nc_cfg *root = cfg_root(raw);
    if (raw->line > 0 && root->file) nc_sb_appendf(b, " (%s:%d)", root->file, raw->line);
}

static nc_status int_range_error(const nc_cfg *node, const char *path, int64_t v, int64_t lo, int64_t hi) {
    nc_strbuf b = {0};
    where(node, path, &b);
    /* lo = INT64_MIN: the caller checks the lower end itself, with its own words. */
    nc_status s = lo == INT64_MIN ? nc_error(NC_ERR_CONFIG, "%s: %lld is more than the limit of %lld", nc_sb_str(&b),
                                             (long long)v, (long long)hi)
                                  : nc_error(NC_ERR_CONFIG, "%s: %lld is out of range [%lld, %lld]", nc_sb_str(&b),
                                             (long long)v, (long long)lo, (long long)hi);
    nc_sb_free(&b);
    return s;
}

nc_status nc_cfg_get_int_in(const nc_cfg *node, const char *path, int64_t lo, int64_t hi, int64_t *out) {
    nc_status s = nc_cfg_get_int(node, path, out);
    if (s) return s;
    return *out < lo || *out > hi ? int_range_error(node, path, *out, lo, hi) : NC_OK;
}

nc_status nc_cfg_get_int_in_or(const nc_cfg *node, const char *path, int64_t dflt, int64_t lo, int64_t hi,
                               int64_t *out) {
    /* A sentinel of the old getter (absent, null) keeps the default as is. */
    bool given = nc_cfg_has(node, path);
    nc_status s = nc_cfg_get_int_or(node, path, dflt, out);
    if (s || !given || *out == dflt) return s;
    return *out < lo || *out > hi ? int_range_error(node, path, *out, lo, hi) : NC_OK;
}

static nc_status float_range_check(const nc_cfg *node, const char *path, double lo, double hi, double *out) {
    if (*out >= lo && *out <= hi) return NC_OK; /* false for NaN */
    nc_strbuf b = {0};
    where(node, path, &b);
    nc_status s = lo == -INFINITY && !isnan(*out)
                      ? nc_error(NC_ERR_CONFIG, "%s: %g is more than the limit of %g", nc_sb_str(&b), *out, hi)
                      : nc_error(NC_ERR_CONFIG, "%s: %g is out of range [%g, %g]", nc_sb_str(&b), *out, lo, hi);
    nc_sb_free(&b);
    return s;
}

nc_status nc_cfg_get_float_in(const nc_cfg *node, const char *path, double lo, double hi, double *out) {
    nc_status s = nc_cfg_get_float(node, path, out);
    return s ? s : float_range_check(node, path, lo, hi, out);
}

nc_status nc_cfg_get_float_in_or(const nc_cfg *node, const char *path, double dflt, double lo, double hi,
                                 double *out) {
    bool given = nc_cfg_has(node, path);
    nc_status s = nc_cfg_get_float_or(node, path, dflt, out);
    if (s || !given) return s;
    if (*out == dflt || (isnan(dflt) && isnan(*out))) return NC_OK;
    return float_range_check(node, path, lo, hi, out);
}
