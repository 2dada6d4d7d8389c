/* Training checkpoints: nemoc's format is a safetensors file holding the
 * model's state_dict (NeMo names), the optimizer state under "optimizer.",
 * and metadata (step, epoch, position in the epoch, RNG, callback state, the
 * config). Not public: nc_checkpoint_load_weights is the public entry. */
#ifndef NC_TRAIN_CHECKPOINT_H
#define NC_TRAIN_CHECKPOINT_H

#include "nemoc/model.h"
#include "nemoc/optim.h"
#include "nemoc/rng.h"

#define NC_CKPT_FORMAT "nemoc-training-checkpoint"
#define NC_CKPT_VERSION "1"

typedef struct nc_train_state {
    int64_t global_step;
    int64_t epoch;
    int64_t batch_in_epoch;   /* batches of `epoch` already consumed */
    int64_t bad_steps_total;
    nc_rng rng;               /* the step ctx's RNG (dropout) */
    double best_metric;       /* checkpoint monitor best (NAN: none) */
    double es_best;           /* early stopping best (NAN: none) */
    int64_t es_wait;          /* validations without improvement */
    double last_monitor;      /* NAN: none */
} nc_train_state;

/* Writes atomically; refuses (NC_ERR_NUMERIC) when a weight is not finite.
 * `config_yaml` may be NULL. */
nc_status nc_ckpt_save(const char *path, const nc_model *m, const nc_optim *opt,
                       const nc_train_state *st, const char *config_yaml);

/* Validates everything first (names, shapes, dtypes, finiteness), then
 * loads; on any error nothing is modified. opt/st may be NULL (weights only). */
nc_status nc_ckpt_load(const char *path, nc_model *m, nc_optim *opt, nc_train_state *st);

/* A whole model from a checkpoint alone: its config builds the class, its
 * artifacts (tokenizer files) are read from inside it, then the weights load. */
nc_status nc_ckpt_model_create(const char *path, nc_model **out);

#endif
