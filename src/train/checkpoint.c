/* Training checkpoint save/load over safetensors. */
#include "train/checkpoint.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "io/crc32c.h"
#include "nemoc/alloc.h"
#include "nemoc/safetensors.h"
#include "nemoc/trainer.h"

#define OPT_PREFIX "optimizer."
/* The model's artifacts (tokenizer files) as u8 tensors "artifact.<name>",
 * so a checkpoint restores anywhere, as a .nemo does (model_nemo.c). */
#define ART_PREFIX "artifact."
/* Metadata key of the per-tensor checksums: "name=crc32c-hex\n" for every
 * tensor, so a flipped bit in the data (which safetensors cannot notice) is
 * refused by the name of the tensor it hit. Checkpoints without it load. */
#define CRC_KEY "tensor_crc32c"

static uint32_t tensor_crc(const nc_tensor *t) { return nc_crc32c(0, t->data, nc_nbytes(t)); }

/* "name=xxxxxxxx\n" lines for the n entries, nc_malloc'd. */
static char *crc_lines(const nc_st_entry *ent, int64_t n) {
    size_t len = 1;
    for (int64_t i = 0; i < n; i++) len += strlen(ent[i].name) + 10;
    char *out = nc_malloc(len), *o = out;
    if (!out) return NULL;
    for (int64_t i = 0; i < n; i++)
        o += sprintf(o, "%s=%08x\n", ent[i].name, (unsigned)tensor_crc(ent[i].tensor));
    *o = 0;
    return out;
}

/* Checks the stored tensor `name` (viewed as *t) against its recorded checksum. */
static nc_status check_crc(const char *path, const char *lines, const char *name, const nc_tensor *t) {
    if (!lines) return NC_OK;
    size_t nl = strlen(name);
    for (const char *l = lines; *l;) {
        const char *eol = strchr(l, '\n');
        if (!eol) break;
        if ((size_t)(eol - l) == nl + 9 && !strncmp(l, name, nl) && l[nl] == '=') {
            char hex[9];
            memcpy(hex, l + nl + 1, 8);
            hex[8] = 0;
            char *end;
            unsigned long want = strtoul(hex, &end, 16);
            if (*end || (uint32_t)want != tensor_crc(t))
                return nc_error(NC_ERR_FORMAT, "%s: tensor '%s' is corrupt (checksum mismatch)", path, name);
            return NC_OK;
        }
        l = eol + 1;
    }
    return nc_error(NC_ERR_FORMAT, "%s: tensor '%s' has no checksum (damaged metadata?)", path, name);
}

static char *hex_encode(const void *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char *s = nc_malloc(2 * n + 1);
    if (!s) return NULL;
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = 0;
    return s;
}

static bool hex_decode(const char *s, void *p, size_t n) {
    if (!s || strlen(s) != 2 * n) return false;
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return false;
            v = v * 16 + d;
        }
        b[i] = (unsigned char)v;
    }
    return true;
}

nc_status nc_ckpt_save(const char *path, const nc_model *m, const nc_optim *opt,
                       const nc_train_state *st, const char *config_yaml) {
    nc_params *p = m->params;
    int64_t np = nc_params_count(p), no = opt ? nc_optim_state_count(opt) : 0;
    /* Nothing non-finite goes into a checkpoint. */
    for (int64_t i = 0; i < np; i++) {
        nc_tensor *t = nc_params_at(p, i);
        if (t->dtype == NC_F32 && !nc_all_finite(nc_f32(t), nc_numel(t)))
            return nc_error(NC_ERR_NUMERIC, "checkpoint '%s' not written: parameter '%s' is not finite",
                            path, t->name);
    }
    for (int64_t i = 0; i < no; i++) {
        nc_tensor v;
        const char *n = nc_optim_state_at(opt, i, &v);
        if (v.dtype == NC_F32 && !nc_all_finite(nc_f32(&v), nc_numel(&v)))
            return nc_error(NC_ERR_NUMERIC, "checkpoint '%s' not written: optimizer state '%s' is not finite",
                            path, n);
    }
    const int64_t na = m->n_artifacts;
    nc_st_entry *ent = nc_calloc((size_t)(np + no + na), sizeof *ent);
    nc_tensor *views = nc_calloc((size_t)(no + na ? no + na : 1), sizeof *views);
    char **names = nc_calloc((size_t)(no + na ? no + na : 1), sizeof *names);
    nc_strbuf arts = {0};
    char *rng_hex = st ? hex_encode(&st->rng, sizeof st->rng) : NULL;
    char *crcs = NULL;
    nc_status s = NC_OK;
    if (!ent || !views || !names || (st && !rng_hex)) {
        s = nc_error(NC_ERR_OOM, "checkpoint '%s'", path);
        goto done;
    }
    for (int64_t i = 0; i < np; i++) ent[i] = (nc_st_entry){.name = nc_params_at(p, i)->name, .tensor = nc_params_at(p, i)};
    for (int64_t i = 0; i < no; i++) {
        const char *n = nc_optim_state_at(opt, i, &views[i]);
        size_t len = strlen(OPT_PREFIX) + strlen(n) + 1;
        names[i] = nc_malloc(len);
        if (!names[i]) {
            s = nc_error(NC_ERR_OOM, "checkpoint '%s'", path);
            goto done;
        }
        snprintf(names[i], len, OPT_PREFIX "%s", n);
        ent[np + i] = (nc_st_entry){.name = names[i], .tensor = &views[i]};
    }
    for (int64_t i = 0; i < na; i++) {
        const nc_model_artifact *a = &m->artifacts[i];
        names[no + i] = nc_strdupf(ART_PREFIX "%s", a->name);
        nc_sb_appendf(&arts, "%s\t%s\n", a->key, a->name);
        if (!names[no + i] || arts.oom ||
            (s = nc_tensor_init(&views[no + i], NC_U8, NC_DIMS((int64_t)a->len), a->data))) {
            s = s ? s : nc_error(NC_ERR_OOM, "checkpoint '%s'", path);
            goto done;
        }
        ent[np + no + i] = (nc_st_entry){.name = names[no + i], .tensor = &views[no + i]};
    }
    if (!(crcs = crc_lines(ent, np + no + na))) {
        s = nc_error(NC_ERR_OOM, "checkpoint '%s'", path);
        goto done;
    }
    char step[32], epoch[32], batch[32], bad[32], best[64], esb[64], esw[32], lastm[64];
    const char *meta[40];
    int k = 0;
    meta[k++] = CRC_KEY;
    meta[k++] = crcs;
    meta[k++] = "format";
    meta[k++] = NC_CKPT_FORMAT;
    meta[k++] = "version";
    meta[k++] = NC_CKPT_VERSION;
    meta[k++] = "target";
    meta[k++] = m->cls->target;
    if (opt) {
        meta[k++] = "optimizer";
        meta[k++] = nc_optim_kind_name(nc_optim_get_params(opt)->kind);
    }
    if (st) {
        snprintf(step, sizeof step, "%" PRId64, st->global_step);
        snprintf(epoch, sizeof epoch, "%" PRId64, st->epoch);
        snprintf(batch, sizeof batch, "%" PRId64, st->batch_in_epoch);
        snprintf(bad, sizeof bad, "%" PRId64, st->bad_steps_total);
        snprintf(best, sizeof best, "%.17g", st->best_metric);
        snprintf(esb, sizeof esb, "%.17g", st->es_best);
        snprintf(esw, sizeof esw, "%" PRId64, st->es_wait);
        snprintf(lastm, sizeof lastm, "%.17g", st->last_monitor);
        const char *kv[] = {"global_step", step, "epoch", epoch, "batch_in_epoch", batch,
                            "bad_steps_total", bad, "best_metric", best, "es_best", esb,
                            "es_wait", esw, "last_monitor", lastm, "rng", rng_hex};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) meta[k++] = kv[i];
    }
    if (config_yaml) {
        meta[k++] = "config";
        meta[k++] = config_yaml;
    }
    if (na) {
        /* "<config key>\t<name>" per line */
        meta[k++] = "artifacts";
        meta[k++] = nc_sb_str(&arts);
    }
    meta[k] = NULL;
    s = nc_st_save(path, ent, np + no + na, meta);
done:
    nc_sb_free(&arts);
    if (names)
        for (int64_t i = 0; i < no + na; i++) nc_free(names[i]);
    nc_free(names);
    nc_free(views);
    nc_free(ent);
    nc_free(rng_hex);
    nc_free(crcs);
    return s;
}

static nc_status meta_i64(const nc_st_file *f, const char *path, const char *key, int64_t *out) {
    const char *v = nc_st_metadata_get(f, key);
    char *end;
    if (!v) return nc_error(NC_ERR_FORMAT, "%s: metadata '%s' missing", path, key);
    *out = strtoll(v, &end, 10);
    if (*end) return nc_error(NC_ERR_FORMAT, "%s: metadata '%s' is not an integer", path, key);
    return NC_OK;
}

static double meta_f64(const nc_st_file *f, const char *key) {
    const char *v = nc_st_metadata_get(f, key);
    return v ? strtod(v, NULL) : NAN;
}

/* Checks that a stored tensor can fill `dst` exactly. */
static nc_status check_tensor(const char *path, const nc_st_file *f, const char *name,
                              const nc_tensor *dst) {
    const nc_st_info *in = nc_st_find(f, name);
    if (!in) return nc_error(NC_ERR_NOT_FOUND, "%s: tensor '%s' is missing", path, name);
    nc_dtype dt;
    int64_t n = 1;
    for (int d = 0; d < in->ndim; d++) n *= in->shape[d];
    bool same = in->ndim == dst->ndim;
    for (int d = 0; same && d < in->ndim; d++) same = in->shape[d] == dst->shape[d];
    if (!same) {
        char a[128], b[128];
        return nc_error(NC_ERR_SHAPE, "%s: tensor '%s' has shape %s, the model expects %s", path,
                        name, nc_dims_str(in->ndim, in->shape, a, sizeof a),
                        nc_shape_str(dst, b, sizeof b));
    }
    if (!nc_st_dtype_to_nc(in->dtype, &dt))
        return nc_error(NC_ERR_DTYPE, "%s: tensor '%s' has unsupported dtype %s", path, name,
                        nc_st_dtype_name(in->dtype));
    (void)n;
    return NC_OK;
}

nc_status nc_ckpt_load(const char *path, nc_model *m, nc_optim *opt, nc_train_state *st) {
    nc_st_file *f;
    nc_status s = nc_st_open(path, &f);
    if (s) return s;
    const char *fmt = nc_st_metadata_get(f, "format");
    const char *target = nc_st_metadata_get(f, "target");
    nc_params *p = m->params;
    int64_t np = nc_params_count(p);
    if (!fmt || strcmp(fmt, NC_CKPT_FORMAT) != 0) {
        s = nc_error(NC_ERR_FORMAT, "%s: not a nemoc training checkpoint", path);
        goto done;
    }
    if (target && strcmp(target, m->cls->target) != 0) {
        s = nc_error(NC_ERR_CONFIG, "%s: checkpoint of a %s, but the model is a %s", path, target,
                     m->cls->target);
        goto done;
    }
    /* Validate everything before touching the model. */
    for (int64_t i = 0; i < np && !s; i++) {
        nc_tensor *t = nc_params_at(p, i);
        s = check_tensor(path, f, t->name, t);
    }
    for (int64_t i = 0; i < nc_st_count(f) && !s; i++) {
        const char *n = nc_st_at(f, i)->name;
        if (!strncmp(n, OPT_PREFIX, strlen(OPT_PREFIX)) || !strncmp(n, ART_PREFIX, strlen(ART_PREFIX))) continue;
        if (!nc_params_find(p, n))
            s = nc_error(NC_ERR_CONFIG, "%s: tensor '%s' is not part of this model (another architecture?)",
                         path, n);
    }
    const char *crcs = nc_st_metadata_get(f, CRC_KEY);
    nc_tensor tmp;
    for (int64_t i = 0; i < np && !s; i++) {
        nc_tensor *t = nc_params_at(p, i);
        if ((s = nc_st_get(f, t->name, &tmp))) break;
        if ((s = check_crc(path, crcs, t->name, &tmp))) break;
        if (tmp.dtype == NC_F32 && !nc_all_finite(nc_f32(&tmp), nc_numel(&tmp)))
            s = nc_error(NC_ERR_NUMERIC, "%s: tensor '%s' holds non-finite values", path, t->name);
    }
    nc_train_state loaded = {0};
    if (!s && st) {
        if ((s = meta_i64(f, path, "global_step", &loaded.global_step)) ||
            (s = meta_i64(f, path, "epoch", &loaded.epoch)) ||
            (s = meta_i64(f, path, "batch_in_epoch", &loaded.batch_in_epoch)))
            goto done;
        meta_i64(f, path, "bad_steps_total", &loaded.bad_steps_total);
        meta_i64(f, path, "es_wait", &loaded.es_wait);
        loaded.best_metric = meta_f64(f, "best_metric");
        loaded.es_best = meta_f64(f, "es_best");
        loaded.last_monitor = meta_f64(f, "last_monitor");
        if (!hex_decode(nc_st_metadata_get(f, "rng"), &loaded.rng, sizeof loaded.rng)) {
            s = nc_error(NC_ERR_FORMAT, "%s: metadata 'rng' is missing or malformed", path);
            goto done;
        }
    }
    if (!s && opt) {
        /* Optimizer state names must all be present before anything loads. */
        nc_tensor view;
        for (int64_t i = 0; i < nc_optim_state_count(opt) && !s; i++) {
            char name[512];
            snprintf(name, sizeof name, OPT_PREFIX "%s", nc_optim_state_at(opt, i, &view));
            s = check_tensor(path, f, name, &view);
            if (!s) s = nc_st_get(f, name, &tmp);
            if (!s && tmp.dtype != view.dtype)
                s = nc_error(NC_ERR_DTYPE, "%s: tensor '%s' is %s, the optimizer keeps %s", path, name,
                             nc_dtype_name(tmp.dtype), nc_dtype_name(view.dtype));
            if (!s) s = check_crc(path, crcs, name, &tmp);
            if (!s && tmp.dtype == NC_F32 && !nc_all_finite(nc_f32(&tmp), nc_numel(&tmp)))
                s = nc_error(NC_ERR_NUMERIC, "%s: tensor '%s' holds non-finite values", path, name);
        }
    }
    if (s) goto done;
    /* Load. */
    for (int64_t i = 0; i < np && !s; i++) {
        nc_tensor *t = nc_params_at(p, i);
        if (!(s = nc_st_get(f, t->name, &tmp))) s = nc_tensor_convert(&tmp, t);
    }
    if (!s && opt) {
        nc_tensor view;
        for (int64_t i = 0; i < nc_optim_state_count(opt) && !s; i++) {
            const char *n = nc_optim_state_at(opt, i, &view);
            char name[512];
            snprintf(name, sizeof name, OPT_PREFIX "%s", n);
            if (!(s = nc_st_get(f, name, &tmp))) s = nc_optim_state_load(opt, n, &tmp);
        }
    }
    if (!s && st) *st = loaded;
done:
    nc_st_close(f);
    return s;
}

nc_status nc_checkpoint_load_weights(nc_model *m, const char *path) { return nc_ckpt_load(path, m, NULL, NULL); }

/* ---- restoring a model from its checkpoint alone ---- */

static nc_status read_artifact(void *self, const char *ref, void **data, size_t *len) {
    const nc_st_file *f = self;
    char *name = nc_strdupf(ART_PREFIX "%s", ref + 5); /* "nemo:<name>" */
    if (!name) return nc_error(NC_ERR_OOM, "artifact %s", ref);
    nc_tensor t;
    nc_status s = nc_st_get(f, name, &t);
    nc_free(name);
    if (s) return nc_error_prefix(s, "artifact %s", ref);
    size_t n = nc_nbytes(&t);
    unsigned char *b = nc_malloc(n + 1); /* NUL after the data, as nc_read_file */
    if (!b) return nc_error(NC_ERR_OOM, "artifact %s (%zu bytes)", ref, n);
    memcpy(b, t.data, n);
    b[n] = 0;
    *data = b;
    *len = n;
    return NC_OK;
}

nc_status nc_ckpt_model_create(const char *path, nc_model **out) {
    *out = NULL;
    nc_st_file *f;
    nc_status s = nc_st_open(path, &f);
    if (s) return s;
    const char *yaml = nc_st_metadata_get(f, "config");
    const char *target = nc_st_metadata_get(f, "target");
    const char *arts = nc_st_metadata_get(f, "artifacts");
    nc_cfg *root = NULL, *model_cfg = NULL;
    if (!yaml) {
        s = nc_error(NC_ERR_FORMAT, "%s: no config in the checkpoint metadata", path);
    } else if (!(s = nc_cfg_parse(yaml, strlen(yaml), path, &root))) {
        s = nc_cfg_get_node(root, "model", &model_cfg);
    }
    /* Point each artifact's config key at the copy inside the checkpoint. */
    for (const char *l = arts; !s && l && *l;) {
        const char *tab = strchr(l, '\t'), *nl = strchr(l, '\n');
        if (!tab || !nl || tab > nl) {
            s = nc_error(NC_ERR_FORMAT, "%s: metadata 'artifacts' is malformed", path);
            break;
        }
        char *key = nc_strdupf("%.*s", (int)(tab - l), l), *ref = nc_strdupf("nemo:%.*s", (int)(nl - tab - 1), tab + 1);
        s = key && ref ? nc_cfg_set_str(model_cfg, key, ref) : nc_error(NC_ERR_OOM, "artifacts");
        nc_free(key);
        nc_free(ref);
        l = nl + 1;
    }
    nc_artifact_reader rd = {.read = read_artifact, .self = f};
    nc_model_build_args ba = {.artifacts = &rd};
    if (!s) s = nc_model_create(model_cfg, target, &ba, out);
    nc_st_close(f);
    nc_cfg_free(root);
    if (!s) {
        s = nc_ckpt_load(path, *out, NULL, NULL);
        if (s) {
            nc_model_free(*out);
            *out = NULL;
        }
    }
    return s;
}
