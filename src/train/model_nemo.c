/* Models <-> NeMo .nemo archives (nemo/core/connectors/save_restore_connector.py):
 * model_config.yaml (the model section with `target`), model_weights.ckpt
 * (torch.save of the state_dict) and artifacts such as the tokenizer model,
 * referenced from the config as "nemo:<uuid>_<name>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/model.h"
#include "nemoc/nemo_archive.h"
#include "nemoc/trainer.h"
#include "train/checkpoint.h"

/* ---- state_dict <-> params ---- */

/* Copies tensors by name into the model. With `partial`, absent tensors are
 * left alone and shape mismatches are allowed under `reinit_prefix` (a new
 * vocabulary re-initialises the decoder); otherwise every tensor must be
 * present with its exact shape and nothing extra may be in the file. All
 * problems are reported together and nothing is loaded unless all is well. */
static bool reinit_matches(const char *const *prefixes, const char *name) {
    for (int i = 0; prefixes && prefixes[i]; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return true;
    return false;
}

static nc_status load_state_dict(nc_model *m, const nc_tensor_list *sd, const char *what, bool partial,
                                 const char *const *reinit, int64_t *n_loaded) {
    nc_params *p = m->params;
    char msg[2048] = "";
    size_t o = 0;
    int problems = 0;
#define NOTE(...)                                                                       \
    do {                                                                                \
        problems++;                                                                     \
        if (problems <= 8 && o < sizeof msg - 256)                                      \
            o += (size_t)snprintf(msg + o, sizeof msg - o, __VA_ARGS__);                \
    } while (0)
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        nc_tensor *t = nc_params_at(p, i);
        const nc_named_tensor *nt = nc_tensor_list_find(sd, t->name);
        if (!nt) {
            if (!partial) NOTE("\n  missing: %s", t->name);
            continue;
        }
        if (nc_numel(nt->tensor) != nc_numel(t) || (nt->tensor->ndim != t->ndim && nc_numel(t) != 1)) {
            if (partial && reinit_matches(reinit, t->name)) continue;
            char a[128], b[128];
            NOTE("\n  shape mismatch: %s is %s in %s, the model has %s", t->name,
                 nc_shape_str(nt->tensor, a, sizeof a), what, nc_shape_str(t, b, sizeof b));
        }
    }
    if (!partial)
        for (int64_t i = 0; i < sd->n; i++)
            if (!nc_params_find(p, sd->items[i].name)) NOTE("\n  unexpected: %s", sd->items[i].name);
    if (problems)
        return nc_error(NC_ERR_CONFIG, "%s does not fit the %s model (%d problems):%s%s", what,
                        m->cls->target, problems, msg, problems > 8 ? "\n  ..." : "");
#undef NOTE
    int64_t n = 0;
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        nc_tensor *t = nc_params_at(p, i);
        const nc_named_tensor *nt = nc_tensor_list_find(sd, t->name);
        if (!nt || nc_numel(nt->tensor) != nc_numel(t)) continue;
        if (nt->tensor->dtype == NC_F32 && !nc_all_finite(nc_f32(nt->tensor), nc_numel(nt->tensor)))
            return nc_error(NC_ERR_NUMERIC, "%s: tensor '%s' holds non-finite values", what, t->name);
    }
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        nc_tensor *t = nc_params_at(p, i);
        const nc_named_tensor *nt = nc_tensor_list_find(sd, t->name);
        if (!nt || nc_numel(nt->tensor) != nc_numel(t)) continue;
        nc_status s = nc_tensor_convert(nt->tensor, t);
        if (s) return nc_error_prefix(s, "%s: tensor '%s'", what, t->name);
        n++;
    }
    if (n_loaded) *n_loaded = n;
    return NC_OK;
}

/* Renames (or drops) the entries of sd with the class's map_state_key. */
static nc_status map_keys(const nc_model *m, nc_tensor_list *sd) {
    if (!m->cls->map_state_key) return NC_OK;
    int64_t o = 0;
    for (int64_t i = 0; i < sd->n; i++) {
        nc_named_tensor it = sd->items[i];
        char buf[512];
        const char *k = m->cls->map_state_key(it.name, buf, sizeof buf);
        if (!k || !it.tensor) {
            nc_free(it.name);
            nc_tensor_free(it.tensor);
            continue;
        }
        if (k != it.name) {
            char *nn = nc_strdup(k);
            if (!nn) return nc_error(NC_ERR_OOM, "state_dict key");
            nc_free(it.name);
            it.name = nn;
        }
        sd->items[o++] = it;
    }
    sd->n = o;
    return NC_OK;
}

/* Artifacts of the model being restored: "nemo:" references are members of
 * the archive, read in memory (nothing is extracted). */
static nc_status read_member(void *self, const char *ref, void **data, size_t *len) {
    return nc_nemo_read(self, ref, data, len);
}

nc_status nc_nemo_model_load(const char *path, nc_model **out) {
    *out = NULL;
    nc_nemo *n;
    nc_status s = nc_nemo_open(path, &n);
    if (s) return s;
    char *yaml = NULL;
    size_t len;
    nc_cfg *cfg = NULL;
    nc_tensor_list sd = {0};
    const char *target = NULL;
    nc_artifact_reader rd = {.read = read_member, .self = n};
    nc_model_build_args ba = {.artifacts = &rd};
    s = nc_nemo_read_config(n, &yaml, &len);
    if (!s) s = nc_cfg_parse(yaml, len, "model_config.yaml", &cfg);
    if (!s) s = nc_cfg_get_str(cfg, "target", &target);
    if (!s) s = nc_model_create(cfg, target, &ba, out);
    nc_torch_read_params rp = nc_torch_read_default_params();
    if (!s) rp.allow_unknown_globals = (*out)->cls->map_state_key != NULL;
    if (!s) s = nc_nemo_load_weights(n, "model_weights.ckpt", &rp, &sd);
    if (!s) s = map_keys(*out, &sd);
    if (!s) s = load_state_dict(*out, &sd, path, false, NULL, NULL);
    if (s) {
        nc_error_prefix(s, "%s", path);
        nc_model_free(*out);
        *out = NULL;
    }
    nc_tensor_list_clear(&sd);
    nc_cfg_free(cfg);
    nc_free(yaml);
    nc_nemo_close(n);
    return s;
}

nc_status nc_nemo_model_init_from(nc_model *m, const char *path, int64_t *n_loaded) {
    nc_nemo *n;
    nc_status s = nc_nemo_open(path, &n);
    if (s) return s;
    nc_tensor_list sd = {0};
    nc_torch_read_params rp = nc_torch_read_default_params();
    rp.allow_unknown_globals = m->cls->map_state_key != NULL;
    s = nc_nemo_load_weights(n, "model_weights.ckpt", &rp, &sd);
    if (!s) s = map_keys(m, &sd);
    /* speech_to_text_finetune.py: a new vocabulary re-initialises the decoder. */
    if (!s) s = load_state_dict(m, &sd, path, true, m->cls->finetune_reinit, n_loaded);
    nc_tensor_list_clear(&sd);
    nc_nemo_close(n);
    return s;
}

nc_status nc_nemo_model_save(const nc_model *m, const char *path) {
    nc_cfg *cfg = NULL;
    nc_status s = nc_cfg_copy(m->cfg, true, &cfg);
    if (s) return s;
    if (!s) s = nc_cfg_set_str(cfg, "target", m->cls->target);
    /* Every artifact becomes a "<uuid>_<name>" member and its config key
     * names it as "nemo:<member>", as NeMo's register_artifact does. */
    int64_t na = m->n_artifacts;
    nc_nemo_artifact *arts = nc_calloc((size_t)na + 1, sizeof *arts);
    char **refs = nc_calloc((size_t)na + 1, sizeof *refs);
    if ((!arts || !refs) && !s) s = nc_error(NC_ERR_OOM, ".nemo artifacts");
    for (int64_t i = 0; i < na && !s; i++) {
        size_t cap = strlen(m->artifacts[i].name) + 40;
        if (!(refs[i] = nc_malloc(cap + 5))) {
            s = nc_error(NC_ERR_OOM, ".nemo artifacts");
            break;
        }
        memcpy(refs[i], "nemo:", 5);
        if ((s = nc_nemo_artifact_name(m->artifacts[i].name, refs[i] + 5, cap))) break;
        if ((s = nc_cfg_set_str(cfg, m->artifacts[i].key, refs[i]))) break;
        arts[i] = (nc_nemo_artifact){.name = refs[i] + 5, .data = m->artifacts[i].data, .len = m->artifacts[i].len};
    }
    char *yaml = NULL;
    size_t ylen = 0;
    if (!s) s = nc_cfg_emit(cfg, 0, &yaml, &ylen);
    nc_params *p = m->params;
    int64_t nt = nc_params_count(p);
    nc_named_tensor *items = nc_calloc((size_t)(nt ? nt : 1), sizeof *items);
    if (!items && !s) s = nc_error(NC_ERR_OOM, ".nemo tensors");
    for (int64_t i = 0; i < nt && !s; i++)
        items[i] = (nc_named_tensor){.name = (char *)nc_params_at(p, i)->name,
                                     .tensor = nc_params_at(p, i), .torch_dtype = NC_TORCH_AUTO};
    if (!s) {
        nc_nemo_contents c = {.config_yaml = yaml, .config_len = ylen, .tensors = items,
                              .n_tensors = nt, .artifacts = arts, .n_artifacts = na};
        s = nc_nemo_save(path, &c);
    }
    nc_free(items);
    nc_free(yaml);
    nc_cfg_free(cfg);
    for (int64_t i = 0; refs && i < na; i++) nc_free(refs[i]);
    nc_free(refs);
    nc_free(arts);
    return s;
}

nc_status nc_model_load(const char *path, nc_model **out) {
    *out = NULL;
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".nemo")) return nc_nemo_model_load(path, out);
    return nc_ckpt_model_create(path, out);
}
