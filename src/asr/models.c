/* Model registry: NeMo class names -> nemoc implementations. */
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/asr_ctc.h"

typedef struct model_entry {
    const char *name; /* short class name */
    const nc_model_ops *ops;
    bool bpe;
} model_entry;

static const model_entry registry[] = {
    {"EncDecCTCModel", &nc_ctc_model_ops, false},
    {"EncDecCTCModelBPE", &nc_ctc_bpe_model_ops, true},
};
#define N_MODELS (int)(sizeof registry / sizeof registry[0])

const char *const *nc_model_known_targets(int *n) {
    static const char *names[N_MODELS];
    for (int i = 0; i < N_MODELS; i++) names[i] = registry[i].ops->target;
    *n = N_MODELS;
    return names;
}

/* "nemo.collections.asr.models.ctc_models.EncDecCTCModel" or "EncDecCTCModel". */
static const model_entry *lookup(const char *kind) {
    const char *dot = strrchr(kind, '.');
    const char *cls = dot ? dot + 1 : kind;
    for (int i = 0; i < N_MODELS; i++)
        if (!strcmp(cls, registry[i].name)) return &registry[i];
    return NULL;
}

nc_status nc_model_create(const nc_cfg *model_cfg, const char *kind, const char *base_dir,
                          uint64_t seed, nc_model **out) {
    *out = NULL;
    const char *target = kind;
    if (!target) nc_cfg_get_str_or(model_cfg, "target", NULL, &target);
    if (!target) target = nc_cfg_has(model_cfg, "tokenizer") ? "EncDecCTCModelBPE" : "EncDecCTCModel";
    const model_entry *e = lookup(target);
    if (!e) {
        char known[1024] = "";
        for (int i = 0; i < N_MODELS; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, registry[i].ops->target, sizeof known - strlen(known) - 1);
        }
        return nc_error(NC_ERR_UNSUPPORTED, "model target '%s' is not known to nemoc (known: %s)",
                        target, known);
    }
    nc_model *m = nc_calloc(1, sizeof *m);
    if (!m) return nc_error(NC_ERR_OOM, "model");
    m->ops = e->ops;
    nc_status s = nc_cfg_copy(model_cfg, true, &m->cfg);
    if (!s) s = nc_ctc_model_build(m, e->bpe, base_dir, seed);
    if (s) {
        nc_model_free(m);
        return s;
    }
    *out = m;
    return NC_OK;
}
