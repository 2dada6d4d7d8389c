/* Learning-rate schedulers of NeMo (nemo/core/optim/lr_scheduler.py), named
 * by NeMo's class names under `optim.sched.name`.
 *
 * NeMo's schedulers are torch _LRScheduler subclasses whose get_lr() reads
 * only `last_epoch`; nemoc keeps that as a pure function of the step, so
 * resuming needs nothing but the global step. With Lightning's
 * `interval: step`, optimizer step k (0-based) runs with the lr that NeMo
 * computes at last_epoch = k + (last_epoch_param + 1); nc_sched_lr_for_step
 * does that offset, nc_sched_lr evaluates get_lr() at a given last_epoch.
 *
 * Supported: WarmupPolicy, WarmupHoldPolicy, CosineAnnealing (incl.
 * constant_steps: Megatron's linear-warmup cosine), NoamAnnealing,
 * NoamHoldAnnealing, WarmupAnnealing, InverseSquareRootAnnealing,
 * T5InverseSquareRootAnnealing, SquareAnnealing, SquareRootAnnealing,
 * PolynomialDecayAnnealing, PolynomialHoldDecayAnnealing,
 * WarmupHoldAnnealLinear, WarmupHoldAnnealOneMinusSquareRoot. */
#ifndef NEMOC_SCHED_H
#define NEMOC_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NeMo's `optim.sched` keys. Integers use -1 and ratios/min_lr use a
 * negative value for "not given" (Python's None / the class default). */
typedef struct nc_sched_params {
    const char *name;       /* NeMo class name, e.g. "CosineAnnealing" */
    double lr;              /* optim.lr: the base (peak) learning rate */
    int64_t max_steps;      /* -1: None (only WarmupPolicy and NoamAnnealing accept it) */
    int64_t warmup_steps;   /* -1: not given */
    double warmup_ratio;    /* < 0: not given; warmup_steps = int(ratio * max_steps) */
    int64_t hold_steps;     /* -1: not given */
    double hold_ratio;      /* < 0: not given */
    int64_t constant_steps; /* -1: not given (CosineAnnealing, T5InverseSquareRootAnnealing) */
    double constant_ratio;  /* < 0: not given */
    double min_lr;          /* < 0: the class default (1e-5 for SquareAnnealing, else 0) */
    double d_model;         /* NoamAnnealing: lr scaled by d_model^-0.5 */
    double decay_rate;      /* NoamHoldAnnealing */
    double power;           /* Polynomial*DecayAnnealing */
    bool cycle;             /* Polynomial*DecayAnnealing */
    int64_t last_epoch;     /* -1: fresh start; N: the step the schedule resumes after */
} nc_sched_params;

/* Every key unset, lr 1e-3, d_model 1, decay_rate 0.5, power 1,
 * last_epoch -1 (NeMo's defaults). */
nc_sched_params nc_sched_default_params(void);

typedef struct nc_sched nc_sched;

/* Resolves ratios into step counts and checks the keys as NeMo's
 * constructors do (both steps and ratio given, a ratio without max_steps,
 * lr below min_lr, a class that needs max_steps, ...): NC_ERR_CONFIG with the
 * key name on failure. */
nc_status nc_sched_create(const nc_sched_params *p, nc_sched **out);
void nc_sched_free(nc_sched *s);

/* NeMo's get_lr() when the scheduler's last_epoch is `step`. */
double nc_sched_lr(const nc_sched *s, int64_t step);
/* The lr for optimizer step `global_step` (0-based) of this run:
 * nc_sched_lr(s, global_step + last_epoch + 1). */
double nc_sched_lr_for_step(const nc_sched *s, int64_t global_step);

/* Resolved values: the warmup steps after warmup_ratio, and NeMo's
 * hold_steps attribute (warmup + hold for the WarmupHoldPolicy family, 0 when
 * hold is not given or the class has no hold phase). */
int64_t nc_sched_warmup_steps(const nc_sched *s);
int64_t nc_sched_hold_steps(const nc_sched *s);
const char *nc_sched_name(const nc_sched *s);

/* Whether `name` is a scheduler nemoc implements. */
bool nc_sched_known(const char *name);

#ifdef __cplusplus
}
#endif
#endif
