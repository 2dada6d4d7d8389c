/* `nemoc export`: a trained model's weights as plain safetensors (NeMo's
 * state_dict names), for tools outside nemoc; the config goes into the
 * file's metadata. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/collections.h"
#include "nemoc/safetensors.h"

int nc_cmd_export(int argc, char **argv) {
    const char *model_path = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: nemoc export model_path=M out=FILE.safetensors\n\n"
                   "Writes the weights and buffers of a nemoc checkpoint (.ckpt) or a NeMo\n"
                   "archive (.nemo) as safetensors under NeMo's state_dict names, with the\n"
                   "model config (YAML) and class in the metadata.\n");
            return 0;
        }
        if (!strncmp(argv[i], "model_path=", 11)) model_path = argv[i] + 11;
        else if (!strncmp(argv[i], "out=", 4)) out = argv[i] + 4;
        else {
            fprintf(stderr, "nemoc export: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!model_path || !out) {
        fprintf(stderr, "nemoc export: need model_path= and out=\n");
        return 2;
    }
    nc_model *m = NULL;
    /* The model classes must be known before a checkpoint names its class. */
    if (nc_register_collections() || nc_model_load(model_path, &m)) {
        fprintf(stderr, "nemoc export: %s\n", nc_last_error());
        return 1;
    }
    int64_t n = nc_params_count(m->params);
    nc_st_entry *e = nc_calloc((size_t)n, sizeof *e);
    char *yaml = NULL;
    size_t len;
    int rc = 1;
    if (e && nc_cfg_emit(m->cfg, 0, &yaml, &len) == NC_OK) {
        for (int64_t i = 0; i < n; i++)
            e[i] = (nc_st_entry){.name = nc_params_at(m->params, i)->name, .tensor = nc_params_at(m->params, i)};
        const char *meta[] = {"format", "pt", "target", m->cls->target, "config", yaml, NULL};
        if (nc_st_save(out, e, n, meta) == NC_OK) {
            printf("wrote %lld tensors to %s\n", (long long)n, out);
            rc = 0;
        }
    }
    if (rc) fprintf(stderr, "nemoc export: %s\n", nc_last_error());
    nc_free(yaml);
    nc_free(e);
    nc_model_free(m);
    return rc;
}
