/* Loading a config by --config-path / --config-name, with the common part of
 * Hydra's defaults list (hydra/_internal/defaults_list.py):
 *
 *   defaults:
 *     - _self_                  # where this file's own keys go (default: last)
 *     - base_config             # another file of this folder, same package
 *     - model/encoder: conformer  # model/encoder/conformer.yaml under model.encoder
 *     - optional aug: spec      # skipped when aug/spec.yaml does not exist
 *     - tok@model.tokenizer: bpe  # tok/bpe.yaml under model.tokenizer
 *     - db@_global_: mysql      # db/mysql.yaml at the top level
 *     - group: null             # nothing
 *
 * Entries in a group file are relative to that file's folder and package; a
 * `# @package X` header line sets a file's own package (_global_ = top).
 * `override` entries and lists of options are refused with a clear error. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/config_edit.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

#define MAX_COMPOSE_DEPTH 32
/* Files one composition may load. The depth cap alone does not bound the
 * work: a file that lists the same base ten times, nested seven deep, loads
 * ten million files. Real Hydra trees load tens. */
#define MAX_COMPOSE_FILES 1000

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* dir + "/" + name (+ ".yaml") into b. */
static void config_file(const char *dir, const char *name, nc_strbuf *b) {
    if (dir && *dir && name[0] != '/') {
        nc_sb_puts(b, dir);
        if (!ends_with(dir, "/")) nc_sb_putc(b, '/');
    }
    nc_sb_puts(b, name);
    if (!ends_with(name, ".yaml") && !ends_with(name, ".yml")) nc_sb_puts(b, ".yaml");
}

static void dir_of(const char *path, nc_strbuf *b) {
    const char *slash = strrchr(path, '/');
    if (slash) nc_sb_append(b, path, (size_t)(slash - path));
    else nc_sb_puts(b, ".");
}

static void join_pkg(const char *a, const char *b, size_t blen, nc_strbuf *out) {
    nc_sb_puts(out, a);
    if (*a && blen) nc_sb_putc(out, '.');
    for (size_t i = 0; i < blen; i++) nc_sb_putc(out, b[i] == '/' ? '.' : b[i]);
}

/* The `# @package X` header of a file, if any, among its leading comments. */
static bool package_header(const char *text, size_t len, nc_strbuf *pkg) {
    const char *p = text, *end = text + len;
    while (p < end && *p == '#') {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q = p + 1;
        while (q < le && *q == ' ') q++;
        if ((size_t)(le - q) > 9 && !strncmp(q, "@package ", 9)) {
            q += 9;
            const char *e = le;
            while (e > q && (e[-1] == ' ' || e[-1] == '\r')) e--;
            nc_sb_append(pkg, q, (size_t)(e - q));
            return true;
        }
        p = nl ? nl + 1 : end;
    }
    return false;
}

static void clear_lines(nc_cfg *n) {
    n->line = 0;
    for (int64_t i = 0; i < n->n; i++) clear_lines(n->items[i]);
}

/* Merges src (owned) into dst at the dotted package path (created as maps). */
static nc_status merge_at(nc_cfg *dst, const char *pkg, nc_cfg *src) {
    cfg_seg *segs;
    int n;
    nc_status s = cfg_split_path(pkg, &segs, &n);
    nc_cfg *at = dst;
    if (!s) s = cfg_walk(dst, segs, n, true, &at);
    nc_free(segs);
    if (s) {
        cfg_node_free(src);
        return s;
    }
    return cfg_merge_owned(at, src);
}

static nc_status compose(const char *path, const char *pkg, bool primary, int depth, int64_t *files, nc_cfg *dst);

/* One entry of a defaults list, found in the file `from`. */
static nc_status compose_entry(const nc_cfg *e, const char *from, const char *dir, const char *pkg, int depth,
                               int64_t *files, nc_cfg *dst, nc_cfg **self, int64_t idx) {
    nc_status s = NC_OK;
    nc_strbuf file = {0}, child_pkg = {0};
    if (e->kind == NC_CFG_SCALAR) {
        if (!strcmp(e->text, "_self_")) {
            nc_cfg *me = *self;
            *self = NULL;
            return me ? merge_at(dst, pkg, me) : NC_OK;
        }
        config_file(dir, e->text, &file);
        s = compose(nc_sb_str(&file), pkg, false, depth + 1, files, dst);
    } else if (e->kind == NC_CFG_MAP && e->n == 1) {
        const char *key = e->items[0]->key;
        const nc_cfg *opt = e->items[0];
        bool optional = !strncmp(key, "optional ", 9);
        if (optional) key += 9;
        if (!strncmp(key, "override ", 9)) {
            s = nc_error(NC_ERR_UNSUPPORTED, "%s: defaults entry %lld: 'override' entries are not supported", from,
                         (long long)idx);
        } else if (opt->kind != NC_CFG_SCALAR) {
            s = nc_error(NC_ERR_UNSUPPORTED, "%s: defaults entry %lld ('%s'): only one option per group is supported",
                         from, (long long)idx, key);
        } else if (nc_cfg_scalar_type(opt->text, opt->quoted) != NC_CFG_T_NULL) {
            const char *at = strchr(key, '@');
            size_t glen = at ? (size_t)(at - key) : strlen(key);
            nc_strbuf gdir = {0};
            nc_sb_puts(&gdir, dir);
            nc_sb_putc(&gdir, '/');
            nc_sb_append(&gdir, key, glen);
            config_file(nc_sb_str(&gdir), opt->text, &file);
            nc_sb_free(&gdir);
            if (at && !strcmp(at + 1, "_global_")) join_pkg("", "", 0, &child_pkg);
            else if (at) join_pkg(pkg, at + 1, strlen(at + 1), &child_pkg);
            else join_pkg(pkg, key, glen, &child_pkg);
            if (optional && access(nc_sb_str(&file), F_OK) != 0) {
                s = NC_OK;
            } else {
                s = compose(nc_sb_str(&file), nc_sb_str(&child_pkg), false, depth + 1, files, dst);
            }
        }
    } else {
        s = nc_error(NC_ERR_CONFIG, "%s: defaults entry %lld is neither a name nor a single 'group: option'", from,
                     (long long)idx);
    }
    if (!s && (file.oom || child_pkg.oom)) s = nc_error(NC_ERR_OOM, "%s: defaults", from);
    nc_sb_free(&file);
    nc_sb_free(&child_pkg);
    return s;
}

/* Loads `path` and merges it, with its defaults, into dst at `pkg`. */
static nc_status compose(const char *path, const char *pkg, bool primary, int depth, int64_t *files, nc_cfg *dst) {
    if (depth > MAX_COMPOSE_DEPTH)
        return nc_error(NC_ERR_CONFIG, "%s: defaults lists nest deeper than %d files (a loop?)", path, MAX_COMPOSE_DEPTH);
    if (++*files > MAX_COMPOSE_FILES)
        return nc_error(NC_ERR_CONFIG,
                        "%s: defaults lists load more than %d config files (does a file list the same defaults "
                        "many times?)",
                        path, MAX_COMPOSE_FILES);
    void *text;
    size_t len;
    nc_status s = nc_read_file(path, &text, &len);
    if (s) return s;
    nc_cfg *self = NULL;
    nc_strbuf own_pkg = {0}, dir = {0};
    s = nc_cfg_parse(text, len, path, &self);
    if (!s && !primary && package_header(text, len, &own_pkg)) {
        const char *p = nc_sb_str(&own_pkg);
        /* The header names the package outright (relative to the top). */
        pkg = !strcmp(p, "_global_") ? "" : !strcmp(p, "_group_") ? pkg : p;
    }
    nc_free(text);
    if (s) {
        nc_sb_free(&own_pkg);
        return s;
    }
    if (!primary) clear_lines(self); /* line numbers would name the wrong file */
    nc_cfg *defaults = NULL;
    int64_t di = cfg_map_find(self, "defaults", 8);
    if (self->kind == NC_CFG_MAP && di >= 0) {
        defaults = self->items[di];
        memmove(self->items + di, self->items + di + 1, (size_t)(self->n - di - 1) * sizeof(nc_cfg *));
        self->n--;
        defaults->parent = NULL;
        if (defaults->kind != NC_CFG_SEQ)
            s = nc_error(NC_ERR_CONFIG, "%s: 'defaults' must be a list", path);
    }
    dir_of(path, &dir);
    char *pkg_copy = nc_strdup(pkg);
    if (!pkg_copy) s = nc_error(NC_ERR_OOM, "%s", path);
    for (int64_t i = 0; !s && defaults && i < defaults->n; i++)
        s = compose_entry(defaults->items[i], path, nc_sb_str(&dir), pkg_copy, depth, files, dst, &self, i);
    /* Without _self_, the file's own keys come last (Hydra >= 1.1). */
    if (!s && self) {
        s = merge_at(dst, pkg_copy, self);
        self = NULL;
    }
    nc_free(pkg_copy);
    cfg_node_free(self);
    cfg_node_free(defaults);
    nc_sb_free(&own_pkg);
    nc_sb_free(&dir);
    return s;
}

nc_status nc_cfg_load_hydra(const char *config_path, const char *config_name, nc_cfg **out) {
    *out = NULL;
    if (!config_name || !*config_name)
        return nc_error(NC_ERR_INVALID_ARG, "no config name given (use --config-name NAME)");
    nc_strbuf b = {0};
    config_file(config_path, config_name, &b);
    if (b.oom) return nc_error(NC_ERR_OOM, "config path");
    nc_cfg *primary = NULL;
    nc_status s = nc_cfg_load(nc_sb_str(&b), &primary);
    if (s == NC_ERR_NOT_FOUND)
        s = nc_error(NC_ERR_NOT_FOUND, "config '%s' not found (looked for '%s'; set --config-path and --config-name)",
                     config_name, nc_sb_str(&b));
    if (!s && primary->kind == NC_CFG_MAP && nc_cfg_child(primary, "defaults")) {
        /* Compose from the files; the result keeps the primary's name and
         * its nodes keep their lines. */
        cfg_node_free(primary);
        primary = cfg_node_new(NC_CFG_MAP);
        if (!primary || !(primary->file = nc_strdup(nc_sb_str(&b)))) s = nc_error(NC_ERR_OOM, "config");
        else {
            int64_t files = 0;
            s = compose(nc_sb_str(&b), "", true, 0, &files, primary);
        }
    }
    nc_sb_free(&b);
    if (s) {
        cfg_node_free(primary);
        return s;
    }
    *out = primary;
    return NC_OK;
}
