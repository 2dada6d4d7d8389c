/* Trainer and experiment manager: PyTorch Lightning's loop semantics under
 * NeMo's `trainer:`, `exp_manager:` and `model.optim:` keys
 * (nemo/utils/exp_manager.py, nemo/utils/callbacks/nemo_model_checkpoint.py). */
#ifndef NEMOC_TRAINER_H
#define NEMOC_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "nemoc/config.h"
#include "nemoc/model.h"
#include "nemoc/optim.h"
#include "nemoc/sched.h"

#ifdef __cplusplus
extern "C" {
#endif

/* exp_manager: (ExpManagerConfig) and its callback params. */
typedef struct nc_exp_params {
    const char *exp_dir;          /* NULL: ./nemo_experiments */
    const char *name;             /* NULL: "default" */
    const char *version;          /* NULL: datetime or version_N */
    bool use_datetime_version;    /* true */
    const char *explicit_log_dir;
    bool resume_if_exists, resume_past_end, resume_ignore_no_checkpoint;
    const char *resume_from_checkpoint;
    bool create_tensorboard_logger; /* true */
    bool create_checkpoint_callback; /* true */
    /* checkpoint_callback_params */
    const char *monitor;          /* "val_loss" */
    bool mode_max;                /* mode: max */
    int64_t save_top_k;           /* 3 */
    bool save_last;               /* true */
    bool always_save_nemo;        /* false */
    bool save_nemo_on_train_end;  /* true */
    bool save_best_model;         /* false */
    const char *filename;         /* "{name}--{monitor:.4f}-{epoch}" */
    const char *dirpath;          /* NULL: <log_dir>/checkpoints */
    int64_t every_n_epochs;       /* 1 */
    int64_t every_n_train_steps;  /* 0: none */
    /* early stopping */
    bool create_early_stopping_callback;
    const char *es_monitor;       /* "val_loss" */
    bool es_mode_max;
    double es_min_delta;          /* 0.001 */
    int64_t es_patience;          /* 10 */
    bool es_check_finite;         /* true */
    double es_stopping_threshold, es_divergence_threshold; /* NAN: none */
    double max_time_per_run;      /* seconds ("DD:HH:MM:SS" in the config); 0: none */
} nc_exp_params;

typedef struct nc_trainer_params {
    int64_t devices, num_nodes;   /* checked against the communicator */
    int64_t max_epochs;           /* -1: unlimited (needs max_steps) */
    int64_t max_steps;            /* -1: unlimited */
    double val_check_interval;    /* <= 1: fraction of an epoch; > 1: every N training batches */
    int64_t check_val_every_n_epoch;
    int64_t accumulate_grad_batches;
    double gradient_clip_val;     /* 0: off */
    bool gradient_clip_by_value;  /* gradient_clip_algorithm: value */
    nc_precision precision;       /* 32 | bf16-mixed */
    int64_t log_every_n_steps;
    int64_t num_sanity_val_steps;
    bool enable_progress_bar;
    int64_t limit_train_batches;  /* 0: all */
    int64_t limit_val_batches;    /* 0: all */
    int64_t max_bad_steps;        /* nemoc: consecutive non-finite steps before stopping (10) */
    bool sync_batchnorm;          /* batch statistics over all ranks (Lightning default false) */
    uint64_t seed;                /* dropout/augmentation seed (exp seed) */
    nc_exp_params exp;
    nc_optim_params optim;
    nc_sched_params sched;
    bool has_sched;
} nc_trainer_params;

/* Reads trainer:, exp_manager: (from the root) and optim: (from the model
 * section) with Lightning/NeMo defaults; unknown keys are errors. Strings
 * point into cfg. */
nc_status nc_trainer_params_from_cfg(const nc_cfg *root, nc_trainer_params *p);

typedef enum nc_train_event_kind {
    NC_EV_START = 0,
    NC_EV_STEP,       /* every log_every_n_steps */
    NC_EV_VALIDATION, /* after each validation run */
    NC_EV_CHECKPOINT, /* a file was written */
    NC_EV_WARNING,    /* skipped step, bad audio summary, ... */
    NC_EV_END,
} nc_train_event_kind;

typedef struct nc_train_event {
    nc_train_event_kind kind;
    int64_t epoch, global_step, max_steps;
    int64_t batch, batches_per_epoch;
    double loss, lr, grad_norm;
    double items_per_s, seconds_per_s; /* items/s (item_unit) and seconds/s (seconds_unit) */
    const char *item_unit, *seconds_unit; /* from the data source; seconds_unit NULL: none */
    double elapsed_s, eta_s;           /* eta < 0: unknown */
    double data_wait_s;                /* NC_EV_END: time spent waiting for training batches */
    /* NC_EV_VALIDATION: the model's metrics (names with the val_ prefix). */
    int n_metrics;
    const char *const *metric_names;
    const double *metric_values;
    const bool *metric_percent;
    const char *message;               /* warning text or file path */
    const char *log_dir;
} nc_train_event;

typedef void (*nc_train_event_fn)(const nc_train_event *ev, void *user_data);

struct nc_comm;

typedef struct nc_trainer_hooks {
    nc_train_event_fn on_event;
    void *user_data;
    /* Set asynchronously (signal handler): save a checkpoint and stop. */
    volatile sig_atomic_t *stop_flag;
    /* Writes a .nemo of the model (NULL: no .nemo files). */
    nc_status (*save_nemo)(const nc_model *m, const char *path, void *user_data);
    /* Command line for cmd-args.log. */
    int argc;
    const char *const *argv;
    /* Full config for hparams.yaml (the model section is written under cfg:). */
    const nc_cfg *root_cfg;
    struct nc_comm *comm; /* NULL: single process */
} nc_trainer_hooks;

/* Result of a fit. */
typedef struct nc_fit_result {
    int64_t global_step, epoch;
    double best_metric;   /* NAN when no validation ran */
    char log_dir[4096];
    char best_ckpt[4096];
    bool interrupted, early_stopped;
} nc_fit_result;

/* Trains `m` on `train` (validating on `val` when not NULL). Returns
 * NC_ERR_INTERRUPTED after saving a checkpoint when stop_flag was raised. */
nc_status nc_trainer_fit(const nc_trainer_params *p, nc_model *m, nc_data_source *train,
                         nc_data_source *val, const nc_trainer_hooks *hooks, nc_fit_result *out);

/* Training steps without the fit loop (benchmarks, demos, tools): the
 * model's training_step, backward, clipping, the scheduler's lr and the
 * optimizer, the same code nc_trainer_fit runs; no data sources, logs or
 * checkpoints. A non-finite loss or gradient is NC_ERR_NUMERIC (nothing is
 * updated). p must outlive the stepper. */
typedef struct nc_stepper nc_stepper;
nc_status nc_stepper_create(const nc_trainer_params *p, nc_model *m, nc_stepper **out);
nc_status nc_stepper_step(nc_stepper *st, const void *batch, double *loss);
nc_ctx *nc_stepper_ctx(nc_stepper *st);
nc_optim *nc_stepper_optim(nc_stepper *st);
void nc_stepper_free(nc_stepper *st);

/* Training checkpoints (nemoc's format: safetensors with weights, optimizer
 * state and a metadata block). Loading into a model checks names and shapes
 * and loads nothing unless everything matches. */
nc_status nc_checkpoint_load_weights(nc_model *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
