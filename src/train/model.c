/* The model registry and the collection-agnostic parts of a model: creation
 * by NeMo class name, metrics, artifacts, checked downcasts. */
#include "nemoc/model.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"

/* ---- registry ---- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const nc_model_class **reg;
static int64_t reg_n, reg_cap;

/* "nemo.collections.asr.models.ctc_models.EncDecCTCModel" -> "EncDecCTCModel". */
static const char *short_name(const char *target) {
    const char *dot = strrchr(target, '.');
    return dot ? dot + 1 : target;
}

static const nc_model_class *find_locked(const char *target) {
    const char *cls = short_name(target);
    for (int64_t i = 0; i < reg_n; i++)
        if (!strcmp(cls, short_name(reg[i]->target))) return reg[i];
    return NULL;
}

nc_status nc_model_register(const nc_model_class *const *classes, int64_t n) {
    nc_status s = NC_OK;
    pthread_mutex_lock(&reg_lock);
    for (int64_t i = 0; i < n && !s; i++) {
        const nc_model_class *c = classes[i];
        if (!c || !c->target || !c->build || !c->training_step || !c->validation_step) {
            s = nc_error(NC_ERR_INVALID_ARG, "model class %lld: target, build, training_step and "
                         "validation_step are required", (long long)i);
            break;
        }
        const nc_model_class *old = find_locked(c->target);
        if (old == c) continue;
        if (old) {
            s = nc_error(NC_ERR_INVALID_ARG, "model class '%s' is already registered (as %s)", c->target,
                         old->target);
            break;
        }
        if ((s = nc_vec_reserve(&reg, &reg_cap, reg_n + 1, sizeof *reg))) {
            s = nc_error(NC_ERR_OOM, "model registry");
            break;
        }
        reg[reg_n++] = c;
    }
    pthread_mutex_unlock(&reg_lock);
    return s;
}

const nc_model_class *nc_model_class_find(const char *target) {
    if (!target) return NULL;
    pthread_mutex_lock(&reg_lock);
    const nc_model_class *c = find_locked(target);
    pthread_mutex_unlock(&reg_lock);
    return c;
}

const nc_model_class *const *nc_model_classes(int64_t *n) {
    pthread_mutex_lock(&reg_lock);
    *n = reg_n;
    const nc_model_class *const *r = reg;
    pthread_mutex_unlock(&reg_lock);
    return r;
}

static nc_status unknown_target(const char *target) {
    int64_t n;
    const nc_model_class *const *all = nc_model_classes(&n);
    nc_strbuf known = {0};
    for (int64_t i = 0; i < n; i++) nc_sb_appendf(&known, "%s%s", i ? ", " : "", all[i]->target);
    nc_status s = nc_error(NC_ERR_UNSUPPORTED, "model target '%s' is not known to nemoc (known: %s)", target,
                           n ? nc_sb_str(&known) : "none registered; call nc_register_collections() first");
    nc_sb_free(&known);
    return s;
}

nc_status nc_model_create(const nc_cfg *model_cfg, const char *target, const nc_model_build_args *a,
                          nc_model **out) {
    *out = NULL;
    nc_status s;
    if (!target && (s = nc_cfg_get_str_or(model_cfg, "target", NULL, &target))) return s;
    if (!target)
        return nc_error(NC_ERR_CONFIG, "model.target: missing (the NeMo class to build, e.g. "
                        "nemo.collections.asr.models.ctc_models.EncDecCTCModel)");
    const nc_model_class *c = nc_model_class_find(target);
    if (!c) return unknown_target(target);
    nc_model *m = nc_calloc(1, sizeof *m);
    if (!m) return nc_error(NC_ERR_OOM, "model");
    m->cls = c;
    nc_model_build_args none = {0};
    s = nc_cfg_copy(model_cfg, true, &m->cfg);
    if (!s) s = nc_cfg_keep_origin(m->cfg, model_cfg); /* errors name "model.encoder.x (file:line)" */
    if (!s) s = c->build(m, a ? a : &none);
    if (s) {
        nc_model_free(m);
        return s;
    }
    *out = m;
    return NC_OK;
}

void nc_model_free(nc_model *m) {
    if (!m) return;
    if (m->cls && m->cls->destroy) m->cls->destroy(m);
    nc_params_free(m->params);
    nc_cfg_free(m->cfg);
    for (int64_t i = 0; i < m->n_artifacts; i++) {
        nc_free(m->artifacts[i].key);
        nc_free(m->artifacts[i].name);
        nc_free(m->artifacts[i].data);
    }
    nc_free(m->artifacts);
    nc_free(m);
}

nc_status nc_model_expect(const nc_model *m, const char *collection, bool need_predict, const char *what,
                          const char *path) {
    if (!strcmp(m->cls->collection ? m->cls->collection : "", collection) && (!need_predict || m->cls->predict))
        return NC_OK;
    return nc_error(NC_ERR_UNSUPPORTED, "this command needs %s; %s is a%s %s (%s)", what, path ? path : "the model",
                    strchr("AEIOU", short_name(m->cls->target)[0]) ? "n" : "", short_name(m->cls->target),
                    m->cls->description ? m->cls->description : m->cls->target);
}

/* ---- metrics ---- */

double nc_metric_value(const nc_metric_def *d, const double *sums) {
    double v = d->den < 0 ? sums[d->num] : sums[d->den] != 0 ? sums[d->num] / sums[d->den] : NAN;
    return d->exp ? exp(v) : v;
}

int nc_model_metric_index(const nc_model *m, const char *name) {
    if (!strncmp(name, "val_", 4)) name += 4;
    for (int i = 0; i < m->cls->n_metrics; i++)
        if (!strcmp(m->cls->metrics[i].name, name)) return i;
    return -1;
}

/* ---- data sources ---- */

void nc_data_source_free(nc_data_source *src) {
    if (!src) return;
    if (src->destroy) src->destroy(src->self);
    nc_free(src);
}

/* ---- artifacts ---- */

nc_status nc_model_add_artifact(nc_model *m, const char *key, const char *name, const void *data,
                                size_t len) {
    nc_model_artifact *a = NULL;
    for (int64_t i = 0; i < m->n_artifacts; i++)
        if (!strcmp(m->artifacts[i].key, key)) a = &m->artifacts[i];
    if (!a) {
        if (nc_vec_reserve(&m->artifacts, &m->cap_artifacts, m->n_artifacts + 1, sizeof *m->artifacts))
            return nc_error(NC_ERR_OOM, "artifact %s", key);
        a = &m->artifacts[m->n_artifacts++];
        memset(a, 0, sizeof *a);
    }
    nc_free(a->key);
    nc_free(a->name);
    nc_free(a->data);
    a->key = nc_strdup(key);
    a->name = nc_strdup(name);
    a->data = nc_malloc(len ? len : 1);
    a->len = len;
    if (!a->key || !a->name || !a->data) return nc_error(NC_ERR_OOM, "artifact %s (%zu bytes)", key, len);
    memcpy(a->data, data, len);
    return NC_OK;
}

nc_status nc_artifact_read(const nc_artifact_reader *r, const char *base_dir, const char *ref, void **data,
                           size_t *len) {
    if (r && r->read && !strncmp(ref, "nemo:", 5)) return r->read(r->self, ref, data, len);
    if (!strncmp(ref, "nemo:", 5))
        return nc_error(NC_ERR_NOT_FOUND, "'%s' names a member of a .nemo archive, but the model is not "
                        "being restored from one", ref);
    if (ref[0] == '/' || !base_dir || !base_dir[0]) return nc_read_file(ref, data, len);
    char *p = nc_strdupf("%s/%s", base_dir, ref);
    if (!p) return nc_error(NC_ERR_OOM, "path of %s", ref);
    nc_status s = nc_read_file(p, data, len);
    nc_free(p);
    return s;
}
