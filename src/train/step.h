/* The halves of a training step (step.c), shared by nc_trainer_fit and the
 * public stepper. Not public. */
#ifndef NC_TRAIN_STEP_H
#define NC_TRAIN_STEP_H

#include "nemoc/trainer.h"

/* Training-mode forward of `batch`, then, when the loss is finite, backward
 * of loss * scale (gradients add up for accumulation); the ctx is reset.
 * *loss_value is the unscaled loss, finite or not. */
nc_status nc_step_forward_backward(nc_model *m, nc_ctx *ctx, const void *batch, float scale, float *loss_value);

/* Gradient clipping (trainer.gradient_clip_*), the scheduler's lr for
 * global_step, the optimizer update and zeroed gradients. */
nc_status nc_step_update(const nc_trainer_params *p, nc_params *pa, nc_optim *opt, nc_sched *sched,
                         int64_t global_step, double *grad_norm);

#endif
