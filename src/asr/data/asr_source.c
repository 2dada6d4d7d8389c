/* Glue between the ASR loader, the CTC model and the trainer. */
#include <string.h>

#include "nemoc/alloc.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"

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

static int64_t src_batch_end(const void *batch) { return ((const nc_asr_batch *)batch)->batch_index + 1; }

static int64_t src_skipped(void *self) { return nc_asr_loader_get_stats(self).n_skipped_audio; }

static void src_destroy(void *self) { nc_asr_loader_free(self); }

nc_status nc_asr_data_source(nc_asr_loader *l, nc_data_source **out) {
    *out = nc_calloc(1, sizeof **out);
    if (!*out) return nc_error(NC_ERR_OOM, "data source");
    **out = (nc_data_source){.self = l, .begin_epoch = src_begin, .next = src_next,
                             .num_batches = src_num_batches, .batch_size = src_batch_size,
                             .batch_end = src_batch_end, .skipped = src_skipped,
                             .skip_reason = "unreadable audio (see the warnings; "
                                            "+model.train_ds.skip_bad_audio=false makes this an error)",
                             .item_unit = "utt", .seconds_unit = "audio-s", .destroy = src_destroy};
    return NC_OK;
}

nc_status nc_ctc_loader_params(const nc_model *m, const nc_cfg *ds, bool training, const nc_data_env *env,
                               nc_asr_loader_params *out) {
    const nc_ctc_model *cm = nc_asr_front_of(m);
    if (!cm) return NC_ERR_UNSUPPORTED;
    *out = nc_asr_loader_default_params();
    nc_status s = nc_asr_loader_params_from_cfg(ds, out);
    if (s) return s;
    out->features = &cm->features;
    out->spec_augment = training && cm->has_spec_augment ? &cm->spec_augment : NULL;
    out->tokenizer = cm->tokenizer;
    out->training = training;
    out->seed = env->seed;
    out->rank = env->rank;
    out->world_size = env->world_size > 0 ? env->world_size : 1;
    if (out->sample_rate <= 0) out->sample_rate = (int)cm->features.sample_rate;
    return NC_OK;
}

/* setup_training_data / setup_validation_data / setup_test_data of NeMo's
 * ASR models: an AudioToCharDataset / AudioToBPEDataset loader. */
nc_status nc_asr_setup_data(nc_model *m, const nc_cfg *ds, nc_data_role role, const nc_data_env *env,
                            nc_data_source **out) {
    *out = NULL;
    nc_asr_loader_params lp;
    nc_asr_loader *l = NULL;
    nc_status s = nc_ctc_loader_params(m, ds, role == NC_DATA_TRAIN, env, &lp);
    if (!s) s = nc_asr_loader_create(&lp, &l);
    nc_asr_loader_params_clear(&lp);
    if (!s) s = nc_asr_data_source(l, out);
    if (s) nc_asr_loader_free(l);
    return s;
}
