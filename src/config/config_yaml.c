/* YAML text <-> config tree, through libyaml's event API.
 *
 * Loading follows OmegaConf's loader (PyYAML SafeLoader + duplicate-key
 * check): one document, scalar keys, anchors/aliases and `<<` merge keys as
 * PyYAML flattens them. Emitting follows OmegaConf.to_yaml: block style, keys
 * in order, strings that would read back as another type single-quoted. */
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "core/vec.h"
#include "config/config_internal.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

/* Aliases are expanded by copying; a document whose aliases would create
 * more nodes than this is refused ("billion laughs"). */
#define MAX_ALIAS_NODES (1 << 22)

typedef struct anchor {
    char *name;
    nc_cfg *node;
    bool complete;
} anchor;

typedef struct frame {
    nc_cfg *node;
    char *key;          /* pending key of a map, waiting for its value */
    bool have_key, key_is_merge;
    size_t key_line, key_col;
    nc_cfg **merges;    /* values of `<<` keys, in order */
    int n_merges;
    int64_t cap_merges;
    int anchor_idx;     /* index into anchors, -1 if none */
} frame;

typedef struct pctx {
    const char *name;
    frame *st;
    int depth;
    int64_t cap;
    anchor *anchors;
    int n_anchors;
    int64_t cap_anchors;
    nc_cfg **graveyard; /* merge sources, freed at the end (anchors may point in) */
    int n_grave;
    int64_t cap_grave;
    int64_t alias_nodes;
    nc_cfg *root;
    bool allow_scalar_root;
} pctx;

static nc_status perr(pctx *c, yaml_mark_t m, const char *fmt, const char *arg) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    return nc_error(NC_ERR_FORMAT, "%s:%zu:%zu: %s", c->name, m.line + 1, m.column + 1, msg);
}

static int64_t count_nodes(const nc_cfg *n) {
    int64_t k = 1;
    for (int64_t i = 0; i < n->n; i++) k += count_nodes(n->items[i]);
    return k;
}

static nc_status add_anchor(pctx *c, const yaml_char_t *name, nc_cfg *node, bool complete,
                            int *idx) {
    if (nc_vec_reserve(&c->anchors, &c->cap_anchors, c->n_anchors + 1, sizeof(anchor)))
        return nc_error(NC_ERR_OOM, "%s: anchors", c->name);
    char *nm = nc_strdup((const char *)name);
    if (!nm) return nc_error(NC_ERR_OOM, "%s: anchors", c->name);
    c->anchors[c->n_anchors] = (anchor){.name = nm, .node = node, .complete = complete};
    if (idx) *idx = c->n_anchors;
    c->n_anchors++;
    return NC_OK;
}

/* Upserts key -> v into map m, replacing in place (PyYAML dict semantics). */
static nc_status upsert(nc_cfg *m, const char *key, nc_cfg *v) {
    int64_t i = cfg_map_find(m, key, strlen(key));
    if (i < 0) return cfg_add(m, key, strlen(key), v);
    v->key = m->items[i]->key;
    m->items[i]->key = NULL;
    v->parent = m;
    cfg_node_free(m->items[i]);
    m->items[i] = v;
    return NC_OK;
}

/* PyYAML SafeConstructor.flatten_mapping: merged pairs come first (a list of
 * maps contributes in reverse so earlier maps win), explicit keys after. */
static nc_status apply_merges(pctx *c, frame *f, yaml_mark_t m) {
    nc_cfg *map = f->node;
    nc_cfg **explicit_items = map->items;
    int64_t n_explicit = map->n;
    map->items = NULL;
    map->n = map->cap = 0;
    nc_status s = NC_OK;
    for (int k = 0; k < f->n_merges && !s; k++) {
        const nc_cfg *src = f->merges[k];
        int64_t nsub = src->kind == NC_CFG_SEQ ? src->n : 1;
        for (int64_t j = nsub - 1; j >= 0 && !s; j--) {
            const nc_cfg *sub = src->kind == NC_CFG_SEQ ? src->items[j] : src;
            if (sub->kind != NC_CFG_MAP) {
                s = perr(c, m, "%s", "a merge key '<<' needs a mapping or a list of mappings");
                break;
            }
            for (int64_t i = 0; i < sub->n && !s; i++) {
                nc_cfg *cp = cfg_copy_raw(sub->items[i]);
                if (!cp) s = nc_error(NC_ERR_OOM, "%s: merge key", c->name);
                else s = upsert(map, sub->items[i]->key, cp);
            }
        }
    }
    for (int64_t i = 0; i < n_explicit; i++) {
        nc_cfg *it = explicit_items[i];
        if (s) {
            cfg_node_free(it);
            continue;
        }
        char *key = it->key;
        it->key = NULL;
        s = upsert(map, key, it);
        nc_free(key);
    }
    nc_free(explicit_items);
    return s;
}

/* Hands a finished node to the enclosing container (or makes it the root). */
static nc_status deliver(pctx *c, nc_cfg *v, yaml_mark_t m) {
    if (c->depth == 0) {
        c->root = v;
        return NC_OK;
    }
    frame *f = &c->st[c->depth - 1];
    if (f->node->kind == NC_CFG_SEQ) return cfg_add(f->node, NULL, 0, v);
    if (!f->have_key) {
        if (v->kind != NC_CFG_SCALAR) {
            cfg_node_free(v);
            return perr(c, m, "%s", "only scalar mapping keys are supported");
        }
        f->key = nc_strdup(v->text);
        if (!f->key) {
            cfg_node_free(v);
            return nc_error(NC_ERR_OOM, "%s: key", c->name);
        }
        f->key_is_merge = !v->quoted && !strcmp(f->key, "<<");
        f->have_key = true;
        f->key_line = m.line;
        f->key_col = m.column;
        /* An anchor may point at the key node: keep it alive until the end. */
        if (nc_vec_reserve(&c->graveyard, &c->cap_grave, c->n_grave + 1, sizeof(nc_cfg *))) {
            cfg_node_free(v);
            return nc_error(NC_ERR_OOM, "%s: key", c->name);
        }
        c->graveyard[c->n_grave++] = v;
        return NC_OK;
    }
    f->have_key = false;
    char *key = f->key;
    f->key = NULL;
    if (f->key_is_merge) {
        nc_free(key);
        if (nc_vec_reserve(&f->merges, &f->cap_merges, f->n_merges + 1, sizeof(nc_cfg *)) ||
            nc_vec_reserve(&c->graveyard, &c->cap_grave, c->n_grave + 1, sizeof(nc_cfg *))) {
            cfg_node_free(v);
            return nc_error(NC_ERR_OOM, "%s: merge key", c->name);
        }
        f->merges[f->n_merges++] = v;
        c->graveyard[c->n_grave++] = v;
        return NC_OK;
    }
    if (cfg_map_find(f->node, key, strlen(key)) >= 0) {
        yaml_mark_t km = {.line = f->key_line, .column = f->key_col};
        nc_status s = perr(c, km, "found duplicate key '%s'", key);
        nc_free(key);
        cfg_node_free(v);
        return s;
    }
    nc_status s = cfg_add(f->node, key, strlen(key), v);
    nc_free(key);
    return s;
}

static bool std_tag(const yaml_char_t *tag, const char *name) {
    size_t lp = strlen(TAG_PREFIX);
    return tag && !strncmp((const char *)tag, TAG_PREFIX, lp) && !strcmp((const char *)tag + lp, name);
}

static nc_status on_scalar(pctx *c, yaml_event_t *ev) {
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const yaml_char_t *tag = ev->data.scalar.tag;
    bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (tag) {
        if (!strcmp((const char *)tag, "!") || std_tag(tag, "str")) {
            quoted = true;
        } else {
            static const struct { const char *name; nc_cfg_type t; } typed[] = {
                {"null", NC_CFG_T_NULL}, {"bool", NC_CFG_T_BOOL}, {"int", NC_CFG_T_INT},
                {"float", NC_CFG_T_FLOAT}};
            int k = -1;
            for (int i = 0; i < 4; i++)
                if (std_tag(tag, typed[i].name)) k = i;
            if (k < 0) return perr(c, ev->start_mark, "unsupported YAML tag '%s'", (const char *)tag);
            if (memchr(text, 0, len) || nc_cfg_scalar_type(text, false) != typed[k].t)
                return perr(c, ev->start_mark, "value does not match its tag '%s'", (const char *)tag);
            quoted = false;
        }
    }
    if (memchr(text, 0, len))
        return perr(c, ev->start_mark, "%s", "NUL characters are not supported in config values");
    nc_cfg *n = cfg_scalar_new(text, len, quoted);
    if (!n) return nc_error(NC_ERR_OOM, "%s: scalar", c->name);
    n->line = (int32_t)(ev->start_mark.line + 1);
    if (ev->data.scalar.anchor) {
        nc_status s = add_anchor(c, ev->data.scalar.anchor, n, true, NULL);
        if (s) {
            cfg_node_free(n);
            return s;
        }
    }
    return deliver(c, n, ev->start_mark);
}

static nc_status on_alias(pctx *c, yaml_event_t *ev) {
    const char *name = (const char *)ev->data.alias.anchor;
    for (int i = c->n_anchors - 1; i >= 0; i--) {
        if (strcmp(c->anchors[i].name, name)) continue;
        if (!c->anchors[i].complete)
            return perr(c, ev->start_mark, "recursive alias '*%s' is not supported", name);
        c->alias_nodes += count_nodes(c->anchors[i].node);
        if (c->alias_nodes > MAX_ALIAS_NODES)
            return perr(c, ev->start_mark, "aliases expand to too many nodes (at '*%s')", name);
        nc_cfg *cp = cfg_copy_raw(c->anchors[i].node);
        if (!cp) return nc_error(NC_ERR_OOM, "%s: alias", c->name);
        cp->line = (int32_t)(ev->start_mark.line + 1);
        return deliver(c, cp, ev->start_mark);
    }
    return perr(c, ev->start_mark, "unknown alias '*%s'", name);
}

static nc_status on_start(pctx *c, yaml_event_t *ev, nc_cfg_kind kind) {
    const yaml_char_t *tag = kind == NC_CFG_MAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    const yaml_char_t *anch = kind == NC_CFG_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    if (tag && !std_tag(tag, kind == NC_CFG_MAP ? "map" : "seq"))
        return perr(c, ev->start_mark, "unsupported YAML tag '%s'", (const char *)tag);
    if (c->depth >= CFG_MAX_NEST_DEPTH)
        return perr(c, ev->start_mark, "%s", "nesting is too deep");
    if (nc_vec_reserve(&c->st, &c->cap, c->depth + 1, sizeof(frame)))
        return nc_error(NC_ERR_OOM, "%s: nesting", c->name);
    nc_cfg *n = cfg_node_new(kind);
    if (!n) return nc_error(NC_ERR_OOM, "%s: node", c->name);
    n->line = (int32_t)(ev->start_mark.line + 1);
    c->st[c->depth] = (frame){.node = n, .anchor_idx = -1};
    c->depth++;
    if (anch) return add_anchor(c, anch, n, false, &c->st[c->depth - 1].anchor_idx);
    return NC_OK;
}

static void frame_clear(frame *f) {
    nc_free(f->key);
    nc_free(f->merges);
    f->key = NULL;
    f->merges = NULL;
    f->n_merges = f->cap_merges = 0;
}

static nc_status on_end(pctx *c, yaml_event_t *ev) {
    frame *f = &c->st[c->depth - 1];
    nc_status s = NC_OK;
    if (f->n_merges) s = apply_merges(c, f, ev->start_mark);
    if (f->anchor_idx >= 0) c->anchors[f->anchor_idx].complete = true;
    nc_cfg *n = f->node;
    frame_clear(f);
    c->depth--;
    if (s) {
        cfg_node_free(n);
        return s;
    }
    return deliver(c, n, ev->start_mark);
}

static nc_status parser_error(pctx *c, yaml_parser_t *p) {
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR) return nc_error(NC_ERR_OOM, "%s: out of memory parsing YAML", c->name);
    if (p->context)
        return nc_error(NC_ERR_FORMAT, "%s:%zu:%zu: %s (%s started at line %zu)", c->name,
                        p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                        p->context_mark.line + 1);
    return nc_error(NC_ERR_FORMAT, "%s:%zu:%zu: %s", c->name, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem);
}

nc_status cfg_parse_yaml(const char *text, size_t len, const char *name, bool allow_scalar_root,
                         nc_cfg **out) {
    *out = NULL;
    pctx c = {.name = name ? name : "<string>", .allow_scalar_root = allow_scalar_root};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return nc_error(NC_ERR_OOM, "%s: YAML parser", c.name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    nc_status s = NC_OK;
    int docs = 0;
    bool done = false;
    while (!done && !s) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            s = parser_error(&c, &p);
            break;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) s = perr(&c, ev.start_mark, "%s", "expected a single YAML document, found several");
            break;
        case YAML_SCALAR_EVENT: s = on_scalar(&c, &ev); break;
        case YAML_ALIAS_EVENT: s = on_alias(&c, &ev); break;
        case YAML_MAPPING_START_EVENT: s = on_start(&c, &ev, NC_CFG_MAP); break;
        case YAML_SEQUENCE_START_EVENT: s = on_start(&c, &ev, NC_CFG_SEQ); break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT: s = on_end(&c, &ev); break;
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (c.depth > 0) {
        frame *f = &c.st[--c.depth];
        frame_clear(f);
        cfg_node_free(f->node);
    }
    nc_free(c.st);
    for (int i = 0; i < c.n_anchors; i++) nc_free(c.anchors[i].name);
    nc_free(c.anchors);
    for (int i = 0; i < c.n_grave; i++) cfg_node_free(c.graveyard[i]);
    nc_free(c.graveyard);
    if (s) {
        cfg_node_free(c.root);
        return s;
    }
    nc_cfg *root = c.root;
    if (!root || (root->kind == NC_CFG_SCALAR && !allow_scalar_root &&
                  nc_cfg_scalar_type(root->text, root->quoted) == NC_CFG_T_NULL)) {
        /* An empty document is an empty config, as OmegaConf.load gives. */
        cfg_node_free(root);
        root = cfg_node_new(NC_CFG_MAP);
        if (!root) return nc_error(NC_ERR_OOM, "%s: root", c.name);
    } else if (root->kind == NC_CFG_SCALAR && !allow_scalar_root) {
        nc_status e = nc_error(NC_ERR_FORMAT, "%s:%d: the top level is a scalar, expected a mapping or a list",
                               c.name, root->line);
        cfg_node_free(root);
        return e;
    }
    *out = root;
    return NC_OK;
}

nc_status nc_cfg_parse(const char *text, size_t len, const char *name, nc_cfg **out) {
    nc_status s = cfg_parse_yaml(text, len, name, false, out);
    if (s || !name) return s;
    (*out)->file = nc_strdup(name);
    if (!(*out)->file) {
        cfg_node_free(*out);
        *out = NULL;
        return nc_error(NC_ERR_OOM, "%s: name", name);
    }
    return NC_OK;
}

nc_status nc_cfg_load(const char *path, nc_cfg **out) {
    *out = NULL;
    void *buf;
    size_t len;
    nc_status s = nc_read_file(path, &buf, &len);
    if (s) return s;
    s = nc_cfg_parse(buf, len, path, out);
    nc_free(buf);
    return s;
}

/* ---- emitting ------------------------------------------------------------ */

static int write_handler(void *data, unsigned char *buffer, size_t size) {
    nc_strbuf *b = data;
    nc_sb_append(b, (const char *)buffer, size);
    return !b->oom;
}

/* The style depends only on the value (its type and text), never on how the
 * source spelled it, so emitting a re-read tree gives the same text. */
static int emit_scalar(yaml_emitter_t *e, const char *text, bool quoted, bool key) {
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE; /* plain when libyaml allows it */
    nc_cfg_type t = nc_cfg_scalar_type(text, quoted);
    if (key) {
        /* A plain `<<` key would read back as a merge key. */
        style = strcmp(text, "<<") ? YAML_ANY_SCALAR_STYLE : YAML_SINGLE_QUOTED_SCALAR_STYLE;
    } else if (t != NC_CFG_T_STR) {
        if (t == NC_CFG_T_NULL && !*text) text = "null"; /* an empty plain value */
        style = t == NC_CFG_T_MISSING ? YAML_ANY_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE;
    } else if (strchr(text, '\n')) {
        style = YAML_LITERAL_SCALAR_STYLE; /* libyaml falls back to quotes if it must */
    } else if (cfg_str_needs_quotes(text)) {
        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
    }
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1, style))
        return 0;
    return yaml_emitter_emit(e, &ev);
}

static int emit_node(yaml_emitter_t *e, const nc_cfg *n) {
    yaml_event_t ev;
    if (n->kind == NC_CFG_SCALAR) return emit_scalar(e, n->text, n->quoted, false);
    if (n->kind == NC_CFG_MAP) {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (int64_t i = 0; i < n->n; i++)
            if (!emit_scalar(e, n->items[i]->key, false, true) || !emit_node(e, n->items[i])) return 0;
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(e, &ev))
        return 0;
    for (int64_t i = 0; i < n->n; i++)
        if (!emit_node(e, n->items[i])) return 0;
    return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
}

static nc_status emit_tree(const nc_cfg *n, nc_strbuf *b) {
    yaml_emitter_t e;
    if (!yaml_emitter_initialize(&e)) return nc_error(NC_ERR_OOM, "config: YAML emitter");
    yaml_emitter_set_output(&e, write_handler, b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_event_t ev;
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&e, &ev) &&
             emit_node(&e, n) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
    nc_status s = NC_OK;
    if (!ok) {
        if (b->oom || e.error == YAML_MEMORY_ERROR) s = nc_error(NC_ERR_OOM, "config: emitting YAML");
        else s = nc_error(NC_ERR_FORMAT, "config: cannot emit YAML: %s", e.problem ? e.problem : "unknown error");
    }
    yaml_emitter_delete(&e);
    return s;
}

nc_status nc_cfg_emit(const nc_cfg *node, unsigned flags, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    nc_cfg *tmp = NULL;
    if (flags & NC_CFG_EMIT_RESOLVE) {
        nc_status s = nc_cfg_copy(node, true, &tmp);
        if (s) return s;
        node = tmp;
    }
    nc_strbuf b = {0};
    nc_status s = emit_tree(node, &b);
    cfg_node_free(tmp);
    if (s) {
        nc_sb_free(&b);
        return s;
    }
    if (!b.p) nc_sb_append(&b, "", 0);
    if (b.oom) {
        nc_sb_free(&b);
        return nc_error(NC_ERR_OOM, "config: emitting YAML");
    }
    *out = b.p;
    if (len) *len = b.n;
    return NC_OK;
}

nc_status nc_cfg_save(const nc_cfg *node, const char *path, unsigned flags) {
    char *text;
    size_t len;
    nc_status s = nc_cfg_emit(node, flags, &text, &len);
    if (s) return nc_error_prefix(s, "saving '%s'", path);
    s = nc_write_file_atomic(path, text, len);
    nc_free(text);
    return s;
}
