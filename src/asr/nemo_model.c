/* Models <-> NeMo .nemo archives (nemo/core/connectors/save_restore_connector.py):
 * model_config.yaml (the model section with `target`), model_weights.ckpt
 * (torch.save of the state_dict) and artifacts such as the tokenizer model,
 * referenced from the config as "nemo:<uuid>_<name>". */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nemoc/alloc.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/log.h"
#include "nemoc/nemo_archive.h"

/* ---- state_dict <-> params ---- */

/* Copies tensors by name into the model. With `partial`, absent tensors are
 * left alone and shape mismatches are allowed under `reinit_prefix` (a new
 * vocabulary re-initialises the decoder); otherwise every tensor must be
 * present with its exact shape and nothing extra may be in the file. All
 * problems are reported together and nothing is loaded unless all is well. */
static nc_status load_state_dict(nc_model *m, const nc_tensor_list *sd, const char *what, bool partial,
                                 const char *reinit_prefix, int64_t *n_loaded) {
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
            if (partial && reinit_prefix && !strncmp(t->name, reinit_prefix, strlen(reinit_prefix))) continue;
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
                        m->ops->target, problems, msg, problems > 8 ? "\n  ..." : "");
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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftwbuf) {
    (void)sb, (void)flag, (void)ftwbuf;
    return remove(path);
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Rewrites "nemo:" tokenizer artifacts to files extracted into `tmp`, and
 * tokenizer.dir to that folder, so the ordinary tokenizer loader finds them. */
static nc_status extract_tokenizer(const nc_nemo *n, nc_cfg *cfg, const char *tmp) {
    static const struct {
        const char *key, *file;
    } arts[] = {{"tokenizer.model_path", "tokenizer.model"},
                {"tokenizer.vocab_path", "vocab.txt"},
                {"tokenizer.spe_tokenizer_vocab", "tokenizer.vocab"}};
    if (!nc_cfg_has(cfg, "tokenizer")) return NC_OK;
    for (size_t i = 0; i < sizeof arts / sizeof arts[0]; i++) {
        const char *ref = NULL;
        if (nc_cfg_get_str_or(cfg, arts[i].key, NULL, &ref) || !ref) continue;
        void *buf;
        size_t len;
        nc_status s = nc_nemo_read(n, ref, &buf, &len);
        if (s) return nc_error_prefix(s, "model.%s", arts[i].key);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", tmp, arts[i].file);
        FILE *f = fopen(path, "wb");
        bool ok = f && fwrite(buf, 1, len, f) == len;
        if (f) ok = (fclose(f) == 0) && ok;
        nc_free(buf);
        if (!ok) return nc_error(NC_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    return nc_cfg_set_str(cfg, "tokenizer.dir", tmp);
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
    char tmp[] = "/tmp/nemoc_nemo_XXXXXX";
    bool have_tmp = mkdtemp(tmp) != NULL;
    const char *target = NULL;
    if (!have_tmp) s = nc_error(NC_ERR_IO, "cannot create a temporary folder: %s", strerror(errno));
    if (!s) s = nc_nemo_read_config(n, &yaml, &len);
    if (!s) s = nc_cfg_parse(yaml, len, "model_config.yaml", &cfg);
    if (!s) s = nc_cfg_get_str(cfg, "target", &target);
    if (!s) s = extract_tokenizer(n, cfg, tmp);
    if (!s) s = nc_model_create(cfg, target, NULL, 0, out);
    nc_torch_read_params rp = nc_torch_read_default_params();
    if (!s) s = nc_nemo_load_weights(n, "model_weights.ckpt", &rp, &sd);
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
    if (have_tmp) rm_tree(tmp);
    return s;
}

nc_status nc_nemo_model_init_from(nc_model *m, const char *path, int64_t *n_loaded) {
    nc_nemo *n;
    nc_status s = nc_nemo_open(path, &n);
    if (s) return s;
    nc_tensor_list sd = {0};
    nc_torch_read_params rp = nc_torch_read_default_params();
    s = nc_nemo_load_weights(n, "model_weights.ckpt", &rp, &sd);
    /* speech_to_text_finetune.py: a new vocabulary re-initialises the decoder. */
    if (!s) s = load_state_dict(m, &sd, path, true, "decoder.", n_loaded);
    nc_tensor_list_clear(&sd);
    nc_nemo_close(n);
    return s;
}

nc_status nc_nemo_model_save(const nc_model *m, const char *path) {
    nc_cfg *cfg = NULL;
    nc_status s = nc_cfg_copy(m->cfg, true, &cfg);
    if (s) return s;
    if (!s) s = nc_cfg_set_str(cfg, "target", m->ops->target);
    nc_nemo_artifact arts[8];
    char names[8][512];
    int na = 0;
    for (int i = 0; i < m->n_artifacts && !s; i++) {
        if ((s = nc_nemo_artifact_name(m->artifacts[i].name, names[na], sizeof names[na]))) break;
        char ref[600];
        snprintf(ref, sizeof ref, "nemo:%s", names[na]);
        if ((s = nc_cfg_set_str(cfg, m->artifacts[i].key, ref))) break;
        arts[na] = (nc_nemo_artifact){.name = names[na], .data = m->artifacts[i].data,
                                      .len = m->artifacts[i].len};
        na++;
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
    return s;
}
