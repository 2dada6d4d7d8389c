/* Experiment manager internals: log folder, resume lookup, logs, checkpoint
 * files and top-k bookkeeping (nemo/utils/exp_manager.py semantics). */
#ifndef NC_TRAIN_EXP_MANAGER_H
#define NC_TRAIN_EXP_MANAGER_H

#include <stdio.h>

#include "nemoc/tensorboard.h"
#include "nemoc/trainer.h"

/* One checkpoint kept for its monitored metric. */
typedef struct nc_exp_topk_entry {
    double metric;
    char *path; /* nc_malloc'd */
} nc_exp_topk_entry;

typedef struct nc_expm {
    const nc_exp_params *p;
    bool rank0;
    char name[256];
    char log_dir[1024];
    char ckpt_dir[1024];
    char resume_from[1024]; /* checkpoint to resume ("" = fresh start) */
    FILE *log_file;         /* nemo_log_globalrank-0_localrank-0.txt */
    FILE *metrics;          /* metrics.jsonl */
    nc_tb_writer *tb;
    /* Every tracked checkpoint, however large save_top_k is (-1: all). */
    nc_exp_topk_entry *topk;
    int64_t n_topk, cap_topk;
    char last_path[1024];
    /* The first failed write to a log (disk full, /dev/full): nc_exp_log
     * cannot return it, so nc_exp_metrics and nc_exp_close do. */
    nc_status log_err;
    char log_msg[512];
} nc_expm;

/* The fixed-size path fields above are filled with snprintf checked for
 * truncation: a path that does not fit is an NC_ERR_INVALID_ARG naming it,
 * never a silently shortened path. */

/* Resolves and creates the log folder, finds the checkpoint to resume from,
 * moves an earlier run's files to run_N, writes cmd-args.log and hparams.yaml,
 * opens the logs. Only rank 0 writes files. */
nc_status nc_exp_setup(nc_expm *e, const nc_exp_params *p, const nc_trainer_hooks *h, bool rank0);
/* Closes the logs and frees the top-k list; an error if a log could not be
 * written completely. */
nc_status nc_exp_close(nc_expm *e);

/* Appends a line to the run's log file (rank 0). A failed write is kept and
 * returned by the next nc_exp_metrics or nc_exp_close. */
void nc_exp_log(nc_expm *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One JSON object per line into metrics.jsonl and the scalars into
 * TensorBoard; an error when any log cannot be written. */
nc_status nc_exp_metrics(nc_expm *e, int64_t step, int n, const char *const *keys, const double *values);

/* Checkpoint file name for the current monitor value and epoch
 * ("{name}--{val_wer:.4f}-{epoch}" -> "name--val_wer=0.1234-epoch=3.ckpt"). */
nc_status nc_exp_ckpt_path(const nc_expm *e, double monitor, int64_t epoch, int64_t step,
                           const char *suffix, char *out, size_t len);

/* Whether `metric` enters the top-k; returns the path to evict into *evict
 * ("" if none). Call nc_exp_topk_insert after the file is written. */
bool nc_exp_topk_accepts(const nc_expm *e, double metric, char *evict, size_t len);
/* Tracks `path` (NC_ERR_OOM when the list cannot grow). */
nc_status nc_exp_topk_insert(nc_expm *e, double metric, const char *path);
/* Best top-k entry ("" when none). */
const char *nc_exp_topk_best(const nc_expm *e, double *metric);
/* True when a is better than b under the monitor's mode. */
bool nc_exp_better(const nc_expm *e, double a, double b);

#endif
