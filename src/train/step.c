/* One training step's two halves, shared by the fit loop (trainer.c) and
 * the stepper API for benchmarks and demos: forward + backward of a batch,
 * then clipping, the scheduler's lr and the optimizer update. */
#include <math.h>

#include "nemoc/alloc.h"
#include "nemoc/ops.h"
#include "nemoc/trainer.h"
#include "train/step.h"

nc_status nc_step_forward_backward(nc_model *m, nc_ctx *ctx, const void *batch, float scale, float *loss_value) {
    nc_set_training(ctx, true);
    nc_tensor *loss = NULL;
    nc_status s = m->cls->training_step(m, ctx, batch, &loss);
    if (s) return s;
    float lv = nc_f32(loss)[0];
    *loss_value = lv;
    /* A non-finite loss gets no backward: the caller skips the step. */
    if (isfinite(lv)) {
        if (scale != 1.0f) loss = nc_scale(ctx, loss, scale);
        if ((s = nc_backward(ctx, loss))) s = nc_error_prefix(s, "backward");
    }
    nc_ctx_reset(ctx);
    return s;
}

nc_status nc_step_update(const nc_trainer_params *p, nc_params *pa, nc_optim *opt, nc_sched *sched,
                         int64_t global_step, double *grad_norm) {
    double norm = NAN;
    if (p->gradient_clip_val > 0) {
        nc_status s = p->gradient_clip_by_value ? nc_clip_grad_value(pa, p->gradient_clip_val)
                                                : nc_clip_grad_norm(pa, p->gradient_clip_val, &norm);
        if (s) return s;
    }
    if (grad_norm) *grad_norm = norm;
    if (sched) nc_optim_set_lr(opt, nc_sched_lr_for_step(sched, global_step));
    nc_status s = nc_optim_step(opt);
    nc_params_zero_grad(pa);
    return s;
}

/* ---- the stepper ---- */

struct nc_stepper {
    const nc_trainer_params *p;
    nc_model *m;
    nc_ctx *ctx;
    nc_optim *opt;
    nc_sched *sched;
    int64_t step;
};

nc_status nc_stepper_create(const nc_trainer_params *p, nc_model *m, nc_stepper **out) {
    *out = NULL;
    nc_stepper *st = nc_calloc(1, sizeof *st);
    if (!st) return nc_error(NC_ERR_OOM, "stepper");
    st->p = p;
    st->m = m;
    nc_ctx_params cp = nc_ctx_default_params();
    cp.seed = p->seed;
    cp.precision = p->precision;
    nc_status s = nc_ctx_create(&cp, &st->ctx);
    if (!s) s = nc_optim_create(m->params, &p->optim, &st->opt);
    if (!s && p->has_sched) {
        nc_sched_params sp = p->sched;
        if (sp.max_steps < 0) sp.max_steps = p->max_steps;
        if ((s = nc_sched_create(&sp, &st->sched))) s = nc_error_prefix(s, "model.optim.sched");
    }
    if (s) {
        nc_stepper_free(st);
        return s;
    }
    *out = st;
    return NC_OK;
}

nc_status nc_stepper_step(nc_stepper *st, const void *batch, double *loss) {
    float lv = NAN;
    nc_status s = nc_step_forward_backward(st->m, st->ctx, batch, 1.0f, &lv);
    if (loss) *loss = lv;
    if (s) return s;
    if (!isfinite(lv) || !nc_grads_finite(st->m->params)) {
        nc_params_zero_grad(st->m->params);
        return nc_error(NC_ERR_NUMERIC, "step %lld: non-finite %s", (long long)st->step,
                        isfinite(lv) ? "gradient" : "loss");
    }
    s = nc_step_update(st->p, st->m->params, st->opt, st->sched, st->step, NULL);
    if (!s) st->step++;
    return s;
}

nc_ctx *nc_stepper_ctx(nc_stepper *st) { return st->ctx; }
nc_optim *nc_stepper_optim(nc_stepper *st) { return st->opt; }

void nc_stepper_free(nc_stepper *st) {
    if (!st) return;
    nc_sched_free(st->sched);
    nc_optim_free(st->opt);
    nc_ctx_free(st->ctx);
    nc_free(st);
}
