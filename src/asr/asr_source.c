/* Glue between the ASR loader, the CTC model and the trainer. */
#include <string.h>

#include "nemoc/alloc.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/safetensors.h"

static nc_status src_begin(void *self, int64_t epoch, int64_t skip) {
    return nc_asr_loader_begin_epoch(self, epoch, skip);
}

static nc_status src_next(void *self, const void **batch) {
    const nc_asr_batch *b = NULL;
    nc_status s = nc_asr_loader_next(self, &b);
    *batch = b;
    return s;
}

static int64_t src_num_batches(void *self) { return nc_asr_loader_num_batches(self); }

static void src_batch_size(const void *batch, int64_t *items, double *seconds) {
    const nc_asr_batch *b = batch;
    *items = b->batch_size;
    *seconds = b->audio_seconds;
}

void nc_asr_data_source(nc_asr_loader *l, nc_data_source *out) {
    *out = (nc_data_source){.self = l, .begin_epoch = src_begin, .next = src_next,
                            .num_batches = src_num_batches, .batch_size = src_batch_size};
}

nc_status nc_ctc_loader_params(const nc_model *m, const nc_cfg *ds, bool training, uint64_t seed,
                               int rank, int world_size, nc_asr_loader_params *out) {
    const nc_ctc_model *cm = nc_ctc_of(m);
    *out = nc_asr_loader_default_params();
    nc_status s = nc_asr_loader_params_from_cfg(ds, out);
    if (s) return s;
    out->features = &cm->features;
    out->spec_augment = training && cm->has_spec_augment ? &cm->spec_augment : NULL;
    out->tokenizer = cm->tokenizer;
    out->training = training;
    out->seed = seed;
    out->rank = rank;
    out->world_size = world_size;
    if (out->sample_rate <= 0) out->sample_rate = (int)cm->features.sample_rate;
    return NC_OK;
}

nc_status nc_asr_model_load(const char *path, nc_model **out) {
    *out = NULL;
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".nemo")) return nc_nemo_model_load(path, out);
    nc_st_file *f;
    nc_status s = nc_st_open(path, &f);
    if (s) return s;
    const char *yaml = nc_st_metadata_get(f, "config");
    const char *target = nc_st_metadata_get(f, "target");
    nc_cfg *root = NULL, *model_cfg = NULL;
    if (!yaml) {
        s = nc_error(NC_ERR_FORMAT, "%s: no config in the checkpoint metadata", path);
    } else if (!(s = nc_cfg_parse(yaml, strlen(yaml), path, &root))) {
        s = nc_cfg_get_node(root, "model", &model_cfg);
        if (!s) s = nc_model_create(model_cfg, target, NULL, 0, out);
    }
    nc_st_close(f);
    nc_cfg_free(root);
    if (!s) {
        s = nc_checkpoint_load_weights(*out, path);
        if (s) {
            nc_model_free(*out);
            *out = NULL;
        }
    }
    return s;
}
