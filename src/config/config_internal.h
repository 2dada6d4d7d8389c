/* Private structures shared by the config_*.c files. */
#ifndef NC_IO_CONFIG_INTERNAL_H
#define NC_IO_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "nemoc/config.h"

struct nc_cfg {
    nc_cfg_kind kind;
    bool quoted;            /* scalar was quoted or a block scalar: always a string */
    int32_t line;           /* 1-based source line, 0 = unknown */
    struct nc_cfg *parent;
    char *key;              /* key in the parent map; NULL in a sequence or at the root */
    char *text;             /* scalar text as written */
    struct nc_cfg **items;  /* map values in key order, or sequence items */
    int64_t n, cap;
    char *cache;            /* resolved text of a string interpolation; dropped on any edit */
    bool cache_plain;       /* the cached text is an unquoted (YAML-typed) value */
    char *file;             /* root only: the file the tree was read from */
    int64_t cache_bytes;    /* root only: bytes of cached interpolation results in the tree */
    char *key_base;         /* root only: the key of the node this tree was copied from, e.g. "model" */
};

/* Interpolations nested deeper than this are refused (a safety net against
 * runaway recursion; real configs stay below ~10). */
#define CFG_MAX_RESOLVE_DEPTH 512
/* Interpolations can multiply their input: `b: ${a}${a}`, `c: ${b}${b}`, ...
 * doubles per key, so 32 short lines would expand to gigabytes (YAML
 * aliases are capped in the parser for the same reason). One resolution may
 * produce at most this many bytes (strings built plus nodes copied), and a
 * tree may hold at most this many bytes of cached results. Real configs
 * resolve to well under 1 MiB; NeMo's largest are about 20 KiB. */
#define CFG_MAX_INTERP_BYTES (INT64_C(16) << 20)
/* YAML nesting deeper than this is refused (the tree code recurses). */
#define CFG_MAX_NEST_DEPTH 1000

/* ---- nodes (config_node.c) ---------------------------------------------- */
nc_cfg *cfg_node_new(nc_cfg_kind kind);
nc_cfg *cfg_scalar_new(const char *text, size_t len, bool quoted);
/* Frees a node and its subtree without touching its parent. */
void cfg_node_free(nc_cfg *n);
/* Raw recursive copy (no caches, no source lines); NULL on OOM or too deep. */
nc_cfg *cfg_copy_raw(const nc_cfg *src);
int64_t cfg_map_find(const nc_cfg *map, const char *key, size_t len);
/* Appends child under key (map) or at the end (seq, key NULL). On failure the
 * child is freed. */
nc_status cfg_add(nc_cfg *parent, const char *key, size_t key_len, nc_cfg *child);
/* Removes item i from its container and frees it. */
void cfg_remove_at(nc_cfg *parent, int64_t i);
int64_t cfg_index_in_parent(const nc_cfg *n);
/* Moves the content (kind, text, children) of src into dst, keeping dst's
 * place in its tree; frees the src shell. */
void cfg_take_content(nc_cfg *dst, nc_cfg *src);
nc_cfg *cfg_root(const nc_cfg *n);
/* Drops every cached interpolation result in n's tree (after any edit). */
void cfg_invalidate(nc_cfg *n);
void cfg_full_key_buf(const nc_cfg *n, nc_strbuf *b);
/* Appends ".seg" / "seg" / "[seg]" to a key path under construction. */
void cfg_key_append(nc_strbuf *b, const char *seg, size_t len, bool index);
/* "map", "list", "int 5", "string 'abc'" (value quoted, truncated). */
void cfg_describe(const nc_cfg *n, const char *text, bool quoted, nc_strbuf *b);

/* Path segments: "a.b[0].c" and "a.b.0.c". Returns 1 with a segment, 0 at the
 * end, -1 on a syntax error. *index is set for [..] segments. */
int cfg_next_seg(const char **p, const char **seg, size_t *len, bool *bracket);
/* Parses a non-negative decimal index; false when seg is not one. */
bool cfg_parse_index(const char *seg, size_t len, int64_t *out);

/* Full key of n and its source position when known: "a.b (conf.yaml:12)". */
void cfg_where(const nc_cfg *n, nc_strbuf *b);

/* Closest key of `map` to key[0..len) by edit distance, or NULL. */
const char *cfg_suggest(const nc_cfg *map, const char *key, size_t len);
const char *cfg_suggest_list(const char *const *cands, int64_t n, const char *key, size_t len);

/* ---- scalars (config_scalar.c) -------------------------------------------- */
bool cfg_is_interp(const char *text);
bool cfg_parse_int(const char *text, int64_t *out);   /* YAML 1.1 int text -> value */
bool cfg_parse_float(const char *text, double *out);  /* YAML 1.1 float or int text */
bool cfg_parse_bool(const char *text, bool *out);
/* Python repr(float) ("1e-05", "0.001", "inf"). */
void cfg_py_float_repr(double v, nc_strbuf *b);
/* YAML text for a float that reads back as a float ("1.0e-05", ".inf"). */
void cfg_yaml_float(double v, nc_strbuf *b);
/* Python str() of a scalar as OmegaConf embeds it in a string. */
void cfg_py_str(const char *text, bool quoted, nc_strbuf *b);
/* True when a string would need quotes in YAML output to stay a string. */
bool cfg_str_needs_quotes(const char *text);

/* ---- resolution (config_interp.c) ----------------------------------------- */
typedef struct cfg_rctx {
    const nc_cfg **stack; /* nodes being resolved, outermost first */
    int n;
    int64_t cap;
    int64_t work; /* bytes produced so far (CFG_MAX_INTERP_BYTES) */
} cfg_rctx;

typedef struct cfg_val {
    nc_cfg *node;     /* container, or the scalar node the text belongs to */
    const char *text; /* scalar text (NULL for containers) */
    bool quoted;
} cfg_val;

void cfg_rctx_free(cfg_rctx *c);
/* Follows interpolations until a container or a plain scalar. */
nc_status cfg_resolve(cfg_rctx *c, nc_cfg *n, cfg_val *out);
/* Walks `path` from `start`, following interpolations on intermediate nodes;
 * *out is the raw final node. A missing key is NC_ERR_NOT_FOUND with the full
 * key path and a suggestion. */
nc_status cfg_lookup(cfg_rctx *c, const nc_cfg *start, const char *path, nc_cfg **out);
nc_cfg_type cfg_val_type(const cfg_val *v);
/* Deep copy with every interpolation replaced by its value. */
nc_status cfg_copy_resolved(cfg_rctx *c, const nc_cfg *src, nc_cfg **out);

/* ---- YAML (config_yaml.c) -------------------------------------------------- */
/* Parses one document; any node kind at the top when allow_scalar_root. */
nc_status cfg_parse_yaml(const char *text, size_t len, const char *name, bool allow_scalar_root,
                         nc_cfg **out);

#endif
