/* The model interface the trainer and the CLI drive, for every collection.
 *
 * A collection (ASR today; TTS, NLP and LLM next) describes each model type
 * it offers with an nc_model_class and registers it under NeMo's class name
 * (nemo.collections.asr.models.ctc_models.EncDecCTCModel, ...), so that a
 * training config's `target` and a `.nemo`'s model_config.yaml build the
 * same implementation. The trainer and the CLI know a model only through its
 * class: they never look inside `impl`.
 *
 * Adding a model type: write the hooks below in the collection's folder,
 * list the class in the collection's table, and the trainer, the experiment
 * manager, checkpoints, `.nemo` files and `nemoc <collection> train` work
 * for it (docs/architecture.md has the CTC model as the worked example). */
#ifndef NEMOC_MODEL_H
#define NEMOC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/config.h"
#include "nemoc/ctx.h"
#include "nemoc/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_model nc_model;
typedef struct nc_model_class nc_model_class;
struct nc_trainer_params;

/* ---- metrics -------------------------------------------------------------
 * A model's validation step adds into an array of sums (n_sums doubles);
 * the trainer adds the arrays of all batches and all ranks, then computes
 * each named metric as sums[num] / sums[den] (den < 0: sums[num] alone). So
 * a WER is total errors over total reference words of the whole set, not a
 * mean of per-batch rates. Names are NeMo's without the stage prefix: the
 * trainer logs "loss" as val_loss, "wer" as val_wer. */
typedef struct nc_metric_def {
    const char *name;
    int num, den;
    bool percent; /* shown as a percentage (rates) */
    bool exp;     /* the value is exp(ratio): perplexity from a mean log-loss */
} nc_metric_def;

/* The value of metric `d` from sums (NAN when its denominator is 0). */
double nc_metric_value(const nc_metric_def *d, const double *sums);

/* ---- data ----------------------------------------------------------------
 * A data source the trainer pulls batches from; models make their own from
 * their `train_ds` / `validation_ds` / `test_ds` sections. */
typedef struct nc_data_source {
    void *self;
    nc_status (*begin_epoch)(void *self, int64_t epoch, int64_t skip);
    nc_status (*next)(void *self, const void **batch); /* NULL batch at the end */
    int64_t (*num_batches)(void *self);
    /* Items of a batch (utterances, tokens) and its amount in seconds of
     * audio (0 where that means nothing), for throughput. NULL: 1 item. */
    void (*batch_size)(const void *batch, int64_t *items, double *seconds);
    /* Batches of the epoch's plan consumed once `batch` is done, passed-over
     * ones included (the `skip` that resumes after it); NULL: every batch
     * counts one. */
    int64_t (*batch_end)(const void *batch);
    /* Items passed over (unreadable audio, ...) so far, and why; NULL: none. */
    int64_t (*skipped)(void *self);
    const char *skip_reason;
    const char *item_unit;    /* "utt", "tok"; NULL: "it" */
    const char *seconds_unit; /* "audio-s"; NULL: no second rate */
    void (*destroy)(void *self);
} nc_data_source;

/* Frees a source made by a setup_data hook (NULL is fine). */
void nc_data_source_free(nc_data_source *src);

typedef enum nc_data_role { NC_DATA_TRAIN = 0, NC_DATA_VALIDATION, NC_DATA_TEST } nc_data_role;

typedef struct nc_data_env {
    uint64_t seed;       /* shuffling and augmentation */
    int rank, world_size; /* data-parallel sharding */
} nc_data_env;

/* ---- artifacts -------------------------------------------------------------
 * Files a model needs besides its weights (tokenizer models, vocabularies),
 * named in its config. A reader resolves a config value to the file's bytes:
 * inside a `.nemo`, "nemo:<member>" is an archive member (read in memory,
 * never extracted); elsewhere it is a path, relative ones against base_dir. */
typedef struct nc_artifact_reader {
    nc_status (*read)(void *self, const char *ref, void **data, size_t *len); /* nc_free(*data) */
    void *self;
} nc_artifact_reader;

/* Reads `ref` through r, or from the file system (relative to base_dir when
 * not NULL) when r is NULL or ref is not a "nemo:" reference. */
nc_status nc_artifact_read(const nc_artifact_reader *r, const char *base_dir, const char *ref, void **data,
                           size_t *len);

/* An artifact a `.nemo` must carry: the config key that names it (e.g.
 * "tokenizer.model_path"), the member's base name and the bytes. */
typedef struct nc_model_artifact {
    char *key, *name;
    void *data;
    size_t len;
} nc_model_artifact;

/* Keeps a copy of data as artifact `key` (replacing one of the same key). */
nc_status nc_model_add_artifact(nc_model *m, const char *key, const char *name, const void *data,
                                size_t len);

/* ---- inference -------------------------------------------------------------
 * A model's predict hook runs over the inputs that the command's arguments
 * name and hands back one output manifest line per input, in input order. */
typedef struct nc_predict_params {
    const nc_cfg *args;       /* the command's key=value options (a map) */
    const char *output_path;  /* where the driver writes the lines (side files go beside it) */
    bool score;               /* eval: compare with the references and fill sums */
    nc_status (*emit)(void *user_data, const char *json_line);
    void *user_data;
} nc_predict_params;

typedef struct nc_predict_result {
    int64_t n_inputs, n_written, n_skipped;
    double *sums; /* n_sums metric sums when score (nc_free it) */
    char message[256]; /* extra line for the user (long-audio chunking, ...) */
} nc_predict_result;

/* ---- the class -------------------------------------------------------------- */
typedef struct nc_model_build_args {
    const char *base_dir;                 /* relative paths of the config (NULL: cwd) */
    uint64_t seed;                        /* weight initialisation */
    const nc_artifact_reader *artifacts;  /* NULL: the file system */
} nc_model_build_args;

struct nc_model_class {
    const char *target;      /* NeMo class path */
    const char *collection;  /* "asr" */
    const char *description; /* one line for --help and errors ("CTC speech recognizer") */
    /* Builds the model into m (m->cfg holds the resolved model section,
     * m->cls is set): parameters named as NeMo's state_dict, initialised. */
    nc_status (*build)(nc_model *m, const nc_model_build_args *a);
    void (*destroy)(nc_model *m);
    /* setup_training_data / setup_validation_data / setup_test_data: a data
     * source from a `*_ds` section (nc_data_source_free it). */
    nc_status (*setup_data)(nc_model *m, const nc_cfg *ds, nc_data_role role, const nc_data_env *env,
                            nc_data_source **out);
    /* Forward on one batch in training mode; *loss is a one-element tensor on the tape. */
    nc_status (*training_step)(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss);
    /* Eval-mode forward (no grad) adding into sums[n_sums]. */
    nc_status (*validation_step)(nc_model *m, nc_ctx *ctx, const void *batch, double *sums);
    const nc_metric_def *metrics;
    int n_metrics, n_sums;
    /* Inference for the CLI (NULL: the model has none): `nemoc <collection>
     * transcribe|eval`. predict_keys lists the options it reads. */
    nc_status (*predict)(nc_model *m, const nc_predict_params *p, nc_predict_result *r);
    const char *const *predict_keys;
    /* Parameters re-initialised on fine-tuning when their shape differs from
     * the pretrained model's (a new vocabulary): name prefixes, NULL-ended. */
    const char *const *finetune_reinit;
    /* Items per second in progress lines: "utt", "tok". */
    const char *throughput_unit;
    /* Adjusts the trainer's settings from the model's own keys before its
     * data are set up (Megatron's micro/global batch sizes give the gradient
     * accumulation); NULL: none. */
    nc_status (*configure_trainer)(nc_model *m, const nc_cfg *root, int world_size,
                                   struct nc_trainer_params *tp);
    /* Maps a `.nemo` state_dict key to the model's name for the same tensor
     * (another layer spec's spelling) in buf, or returns NULL to drop the
     * entry (framework state that is not a weight); NULL hook: keys as they
     * are. A class with this hook also accepts Python objects other than
     * tensors in model_weights.ckpt (never imported or called: Transformer
     * Engine's `_extra_state` buffers), which it then drops. */
    const char *(*map_state_key)(const char *key, char *buf, size_t cap);
};

struct nc_model {
    const nc_model_class *cls;
    nc_params *params;
    nc_cfg *cfg; /* the model section, owned, interpolations resolved */
    void *impl;  /* the collection's state; only its own hooks look inside */
    nc_model_artifact *artifacts;
    int64_t n_artifacts, cap_artifacts;
};

/* ---- the registry ------------------------------------------------------------ */

/* Registers model classes (a collection's table); a class already registered
 * under the same short name is an error. Thread-safe. */
nc_status nc_model_register(const nc_model_class *const *classes, int64_t n);

/* The class registered under a NeMo class name or path ("EncDecCTCModel" or
 * "nemo.collections.asr.models.ctc_models.EncDecCTCModel"); NULL if none. */
const nc_model_class *nc_model_class_find(const char *target);

/* Registered classes, for listings; *n is their count. */
const nc_model_class *const *nc_model_classes(int64_t *n);

/* Builds a model from a model section. `target` is a NeMo class name or
 * path; NULL takes the config's `target`. An unknown class is an error that
 * lists the known ones. */
nc_status nc_model_create(const nc_cfg *model_cfg, const char *target, const nc_model_build_args *a,
                          nc_model **out);
void nc_model_free(nc_model *m);

/* The index of metric `name` ("wer", or with a stage prefix "val_wer") in
 * m's metrics, or -1. */
int nc_model_metric_index(const nc_model *m, const char *name);

/* Loads a whole model from a NeMo `.nemo` archive or a nemoc training
 * checkpoint (`.ckpt`, which carries its config and artifacts). */
nc_status nc_model_load(const char *path, nc_model **out);

/* `.nemo` files (nemo/core/connectors/save_restore_connector.py): load a
 * whole model (every state_dict key must match by name and shape), save one
 * that NeMo's restore_from() reads (artifacts as "nemo:" members), or
 * initialise a model's weights from one (matching tensors; the class's
 * finetune_reinit parameters may differ in shape and then start fresh). */
nc_status nc_nemo_model_load(const char *path, nc_model **out);
nc_status nc_nemo_model_save(const nc_model *m, const char *path);
nc_status nc_nemo_model_init_from(nc_model *m, const char *path, int64_t *n_loaded);

/* A checked downcast for commands that need a particular collection: fails
 * with "this command needs <what>; <path> is a <class>" unless m's class
 * belongs to `collection` (and has a predict hook when need_predict). */
nc_status nc_model_expect(const nc_model *m, const char *collection, bool need_predict, const char *what,
                          const char *path);

#ifdef __cplusplus
}
#endif
#endif
