/* The model interface the trainer and the CLI drive.
 *
 * A model is built from the `model:` section of a NeMo config and registers
 * under NeMo's class names, so a `.nemo`'s model_config.yaml (its `target`)
 * and a training config select the same implementation. */
#ifndef NEMOC_MODEL_H
#define NEMOC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/config.h"
#include "nemoc/ctx.h"
#include "nemoc/params.h"
#include "nemoc/wer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Validation accumulators: sums, so ranks can add them before dividing. */
typedef struct nc_metric_acc {
    double loss_sum;
    int64_t loss_count;      /* batches */
    nc_edit_counts words;    /* WER */
    nc_edit_counts chars;    /* CER */
    int64_t n_utts;
} nc_metric_acc;

typedef struct nc_model nc_model;

typedef struct nc_model_ops {
    const char *target; /* NeMo class path, e.g. nemo.collections.asr.models.ctc_models.EncDecCTCModel */
    /* Forward on one batch in training mode; *loss is a one-element tensor on the tape. */
    nc_status (*training_step)(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss);
    /* Forward in eval mode (no grad) adding loss and error counts to acc. */
    nc_status (*validation_step)(nc_model *m, nc_ctx *ctx, const void *batch, nc_metric_acc *acc);
    void (*destroy)(nc_model *m);
} nc_model_ops;

struct nc_model {
    const nc_model_ops *ops;
    nc_params *params;
    nc_cfg *cfg;      /* the model section, owned, interpolations resolved */
    void *impl;
    /* Artifacts (e.g. tokenizer files) a .nemo archive must carry: config key
     * path (e.g. "tokenizer.model_path"), the file's base name and its bytes
     * (held in memory: the file may have been a temporary extraction). */
    int n_artifacts;
    struct {
        char *key, *name;
        void *data;
        size_t len;
    } artifacts[8];
};

/* Builds a model from a model section. `kind` is a NeMo class name or path
 * (EncDecCTCModel, EncDecCTCModelBPE, ...); NULL picks it from the config
 * (`target`, else BPE when a tokenizer section is present). `seed` drives the
 * weight initialisation. Relative tokenizer paths resolve against base_dir. */
nc_status nc_model_create(const nc_cfg *model_cfg, const char *kind, const char *base_dir,
                          uint64_t seed, nc_model **out);
void nc_model_free(nc_model *m);

/* Class names nemoc knows, for error messages. */
const char *const *nc_model_known_targets(int *n);

/* Metrics from accumulators: val_loss, val_wer (and val_cer). */
double nc_metric_loss(const nc_metric_acc *a);
void nc_metric_acc_add(nc_metric_acc *dst, const nc_metric_acc *src);

#ifdef __cplusplus
}
#endif
#endif
