/* Configuration trees: NeMo-style YAML with OmegaConf semantics and Hydra
 * command-line overrides.
 *
 * A config is a tree of nodes: maps (ordered keys), sequences and scalars.
 * Scalars keep their YAML text and whether they were quoted; their type is a
 * view computed the way OmegaConf's YAML loader does (PyYAML SafeLoader
 * resolvers plus OmegaConf's float rule, so `1e-5` is a float and `yes` a bool;
 * a quoted scalar is always a string).
 *
 * Values of the form `${a.b}` are OmegaConf interpolations, resolved when read:
 * absolute paths, relative `${.x}` / `${..x}`, list indices `${a.0}` /
 * `${a[0]}`, interpolations inside strings (`run_${name}`), nested keys
 * (`${a.${b}}`) and the `${oc.env:VAR,default}` resolver. The string `???` is
 * OmegaConf's mandatory-missing value: reading it is an error naming the key.
 *
 * Every node pointer is borrowed from its tree. A `const char *` returned by a
 * getter stays valid until the tree is modified or freed. Reading a tree from
 * several threads at once is safe only after nc_cfg_resolve() (reading an
 * unresolved string interpolation caches its result in the node).
 *
 * Errors name the full key path ("model.encoder.d_model"), the expected type
 * and the value found; a missing key suggests the closest existing sibling. */
#ifndef NEMOC_CONFIG_H
#define NEMOC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_cfg nc_cfg;

typedef enum nc_cfg_kind {
    NC_CFG_MAP = 0,
    NC_CFG_SEQ,
    NC_CFG_SCALAR,
} nc_cfg_kind;

/* The type a value reads as (after resolving interpolations where noted). */
typedef enum nc_cfg_type {
    NC_CFG_T_NULL = 0,
    NC_CFG_T_BOOL,
    NC_CFG_T_INT,
    NC_CFG_T_FLOAT,
    NC_CFG_T_STR,
    NC_CFG_T_MISSING, /* the literal ??? */
    NC_CFG_T_MAP,
    NC_CFG_T_SEQ,
} nc_cfg_type;

/* "int", "float", "string", "map", "list", ... */
const char *nc_cfg_type_name(nc_cfg_type t);

/* Type of scalar text as OmegaConf's YAML loader reads it (no interpolation). */
nc_cfg_type nc_cfg_scalar_type(const char *text, bool quoted);

/* ---- loading ------------------------------------------------------------ */

/* Parses a YAML document (a mapping or sequence; an empty document is an
 * empty map). `name` labels errors ("conf.yaml:12:5: ..."). */
nc_status nc_cfg_parse(const char *text, size_t len, const char *name, nc_cfg **out);
nc_status nc_cfg_load(const char *path, nc_cfg **out);
/* Hydra's --config-path DIR --config-name NAME (NAME with or without .yaml). */
nc_status nc_cfg_load_hydra(const char *config_path, const char *config_name, nc_cfg **out);
/* Loads the config named by `--config-path/-cp DIR`, `--config-name/-cn NAME`
 * (also `--flag=value`) in argv, falling back to the given defaults, then
 * applies every other argument as a Hydra override. */
nc_status nc_cfg_load_args(int argc, const char *const *argv, const char *default_path,
                           const char *default_name, nc_cfg **out);

/* Frees a tree. Called on a node inside a tree, it removes that node first. */
void nc_cfg_free(nc_cfg *node);

/* ---- Hydra overrides ------------------------------------------------------
 * `a.b=v` sets an existing key, `+a.b=v` adds a new one, `++a.b=v` adds or
 * sets, `~a.b` (or `~a.b=v`, deleting only when the value is v) deletes.
 * Values are YAML flow nodes: `[1,2]`, `{x: 1}`, `null`, `'quoted'`, `"x y"`;
 * `a.b=` sets the empty string. A map value merges into an existing map, as
 * Hydra does. Errors quote the override. */
nc_status nc_cfg_apply_override(nc_cfg *root, const char *override);
nc_status nc_cfg_apply_overrides(nc_cfg *root, int n, const char *const *overrides);

/* ---- typed getters --------------------------------------------------------
 * `path` is dotted and relative to `node` ("encoder.d_model", "layers[0].x",
 * "layers.0.x"); "" is the node itself. Interpolations are resolved. A
 * missing key returns NC_ERR_NOT_FOUND, a wrong type or ??? NC_ERR_CONFIG.
 * Float getters accept ints; string getters accept any non-null scalar (its
 * text). The *_or variants return `dflt` when the key is absent or null. */
nc_status nc_cfg_get_int(const nc_cfg *node, const char *path, int64_t *out);
nc_status nc_cfg_get_float(const nc_cfg *node, const char *path, double *out);
nc_status nc_cfg_get_bool(const nc_cfg *node, const char *path, bool *out);
nc_status nc_cfg_get_str(const nc_cfg *node, const char *path, const char **out);
nc_status nc_cfg_get_int_or(const nc_cfg *node, const char *path, int64_t dflt, int64_t *out);
nc_status nc_cfg_get_float_or(const nc_cfg *node, const char *path, double dflt, double *out);
nc_status nc_cfg_get_bool_or(const nc_cfg *node, const char *path, bool dflt, bool *out);
nc_status nc_cfg_get_str_or(const nc_cfg *node, const char *path, const char *dflt,
                            const char **out);
/* Lists of scalars into nc_malloc'd arrays (free with nc_free); a list of
 * strings points into the tree. */
nc_status nc_cfg_get_int_list(const nc_cfg *node, const char *path, int64_t **out, int64_t *n);
nc_status nc_cfg_get_float_list(const nc_cfg *node, const char *path, double **out, int64_t *n);
nc_status nc_cfg_get_str_list(const nc_cfg *node, const char *path, const char ***out,
                              int64_t *n);
/* The node at `path` with interpolations followed (a `${x}` value yields x's
 * node; a string with embedded interpolations yields its own node). */
nc_status nc_cfg_get_node(const nc_cfg *node, const char *path, nc_cfg **out);
/* The type `path` reads as, after resolution. */
nc_status nc_cfg_get_type(const nc_cfg *node, const char *path, nc_cfg_type *out);
/* True when `path` exists (interpolations on the way are followed). */
bool nc_cfg_has(const nc_cfg *node, const char *path);

/* Checks that every key of the map at `path` is in the NULL-terminated list
 * `known`; an unknown key is an NC_ERR_CONFIG naming it with a suggestion. */
nc_status nc_cfg_check_keys(const nc_cfg *node, const char *path, const char *const *known);

/* ---- value checks ---------------------------------------------------------
 * Read and range-check in one step, so a value is refused where it is read,
 * naming the key and its YAML file:line: "model.encoder.dropout (conf.yaml:9):
 * must be in [0, 1) (a probability), found 2". Bounds are inclusive; float
 * checks refuse NaN and infinities whatever the bounds. The *_or variants
 * check only a value the config holds: `dflt` (absent or null) is returned
 * as is, so it may be a sentinel such as -1 for "unset". Bool getters follow
 * OmegaConf's BooleanNode: true/false, yes/no, y/n, on/off in any case, or an
 * integer (0 false, else true); anything else is an error. */
nc_status nc_cfg_get_int_in(const nc_cfg *node, const char *path, int64_t lo, int64_t hi, int64_t *out);
nc_status nc_cfg_get_int_in_or(const nc_cfg *node, const char *path, int64_t dflt, int64_t lo, int64_t hi,
                               int64_t *out);
nc_status nc_cfg_get_float_in(const nc_cfg *node, const char *path, double lo, double hi, double *out);
nc_status nc_cfg_get_float_in_or(const nc_cfg *node, const char *path, double dflt, double lo, double hi,
                                 double *out);
/* A probability (dropout): [0, 1). */
nc_status nc_cfg_get_prob_or(const nc_cfg *node, const char *path, double dflt, double *out);
/* Checks a value already read (as the float getters would report it). */
nc_status nc_cfg_check_float(const nc_cfg *node, const char *path, double v, double lo, double hi);
/* `value` must be one of the NULL-terminated `allowed` words (case-sensitive);
 * the error lists them and suggests the closest. *index (may be NULL) is its
 * position. */
nc_status nc_cfg_check_enum(const nc_cfg *node, const char *path, const char *value, const char *const *allowed,
                            int *index);
/* Reads a string at path and checks it as above; dflt when absent or null. */
nc_status nc_cfg_get_enum_or(const nc_cfg *node, const char *path, const char *const *allowed, int dflt,
                             int *out);
/* An NC_ERR_CONFIG "<full key of path> (<file>:<line>): <message>", for checks
 * that the helpers above do not cover. */
nc_status nc_cfg_error_at(const nc_cfg *node, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- raw structure and iteration ----------------------------------------- */
nc_cfg_kind nc_cfg_kind_of(const nc_cfg *node);
/* Number of keys of a map or items of a sequence; 0 for scalars. */
int64_t nc_cfg_size(const nc_cfg *node);
/* The i-th value of a map (in key order) or item of a sequence, raw. */
nc_cfg *nc_cfg_item(const nc_cfg *node, int64_t i);
/* The i-th key of a map; NULL for sequences. */
const char *nc_cfg_item_key(const nc_cfg *node, int64_t i);
/* Raw child of a map by key (no path parsing, no interpolation); NULL if absent. */
nc_cfg *nc_cfg_child(const nc_cfg *node, const char *key);
nc_cfg *nc_cfg_parent(const nc_cfg *node);
/* Key of this node in its parent map (NULL at the root or in a sequence). */
const char *nc_cfg_key(const nc_cfg *node);
/* Scalar text as written (interpolations unresolved) and its quoting. */
const char *nc_cfg_text(const nc_cfg *node);
bool nc_cfg_quoted(const nc_cfg *node);
/* Full key path, e.g. "model.layers[2].name" ("" at the root); returns buf. */
char *nc_cfg_full_key(const nc_cfg *node, char *buf, size_t len);
/* 1-based source line of the node in its YAML file (0 when not from a file). */
int nc_cfg_line(const nc_cfg *node);

/* ---- building and editing ------------------------------------------------
 * Setters take a dotted path relative to `node`, create missing maps on the
 * way and replace whatever was at the path. */
nc_status nc_cfg_new(nc_cfg_kind kind, nc_cfg **out); /* empty map/seq or null scalar */
nc_status nc_cfg_set_scalar(nc_cfg *node, const char *path, const char *text, bool quoted);
nc_status nc_cfg_set_str(nc_cfg *node, const char *path, const char *s);
nc_status nc_cfg_set_int(nc_cfg *node, const char *path, int64_t v);
nc_status nc_cfg_set_float(nc_cfg *node, const char *path, double v);
nc_status nc_cfg_set_bool(nc_cfg *node, const char *path, bool v);
nc_status nc_cfg_set_null(nc_cfg *node, const char *path);
/* Deep copy of `value` at path. */
nc_status nc_cfg_set_node(nc_cfg *node, const char *path, const nc_cfg *value);
/* Appends a deep copy of `value` (NULL: a null scalar) to the sequence at path. */
nc_status nc_cfg_append(nc_cfg *node, const char *path, const nc_cfg *value);
nc_status nc_cfg_delete(nc_cfg *node, const char *path);
/* OmegaConf.merge of `src` onto `dst`: maps merge key by key (new keys are
 * appended), anything else replaces; a ??? in src does not replace a value. */
nc_status nc_cfg_merge(nc_cfg *dst, const nc_cfg *src);
/* Deep copy into a new tree; with `resolve`, interpolations are replaced by
 * their values (evaluated in the source tree). */
nc_status nc_cfg_copy(const nc_cfg *src, bool resolve, nc_cfg **out);
/* Gives `copy` (a root made by nc_cfg_copy of `src`) src's place: messages
 * about its keys then name them as in the original file, with its lines
 * ("model.encoder.dropout (conf.yaml:12)" rather than "encoder.dropout"). */
nc_status nc_cfg_keep_origin(nc_cfg *copy, const nc_cfg *src);
/* OmegaConf.resolve: replaces every interpolation in the tree by its value. */
nc_status nc_cfg_resolve(nc_cfg *root);

/* ---- writing ------------------------------------------------------------- */
enum { NC_CFG_EMIT_RESOLVE = 1u << 0 };
/* Block-style YAML, keys in order, strings that would read back as another
 * type quoted; parsing the output gives the same tree. *out is NUL-terminated
 * and nc_malloc'd. */
nc_status nc_cfg_emit(const nc_cfg *node, unsigned flags, char **out, size_t *len);
/* Writes the YAML atomically (temp file + fsync + rename). */
nc_status nc_cfg_save(const nc_cfg *node, const char *path, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
