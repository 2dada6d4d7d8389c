/* Optimizers over the flat parameter buffer of an nc_params, and gradient
 * clipping.
 *
 * The optimizers mirror what NeMo builds from `optim.name`
 * (nemo/core/optim/optimizers.py, AVAILABLE_OPTIMIZERS): "sgd" and "adam" are
 * torch.optim.SGD / torch.optim.Adam, "adamw" is torch.optim.AdamW (decoupled
 * weight decay), "novograd" is nemo/core/optim/novograd.py. One optimizer
 * serves one nc_params; all of its state (moments, per-tensor step counts)
 * lives in flat buffers laid out like the parameters, so a step is one
 * threaded loop over the flat buffer and a checkpoint is a handful of arrays.
 *
 * Like torch, a tensor that does not take part in a step (a frozen tensor:
 * NC_TF_REQUIRES_GRAD cleared, torch's `p.grad is None`) gets no update and
 * its state, including its step count, does not advance. Tensors that take
 * part always use their gradient, which is zero when a tensor was unused in
 * the forward pass (torch's zero_grad(set_to_none=False)).
 *
 * The learning rate is set before each step by the scheduler (nemoc/sched.h),
 * as Lightning does with `interval: step`:
 *     nc_optim_set_lr(opt, nc_sched_lr_for_step(sched, global_step));
 *     nc_optim_step(opt); */
#ifndef NEMOC_OPTIM_H
#define NEMOC_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/params.h"
#include "nemoc/status.h"
#include "nemoc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_optim_kind {
    NC_OPTIM_SGD = 0,  /* torch.optim.SGD */
    NC_OPTIM_ADAM,     /* torch.optim.Adam (L2 weight decay added to the gradient) */
    NC_OPTIM_ADAMW,    /* torch.optim.AdamW (decoupled weight decay) */
    NC_OPTIM_NOVOGRAD, /* nemo/core/optim/novograd.py */
    NC_OPTIM_KIND_COUNT
} nc_optim_kind;

/* Hyper-parameters under NeMo's `optim:` key names. Fields an optimizer does
 * not use are ignored. */
typedef struct nc_optim_params {
    nc_optim_kind kind;
    double lr;           /* initial lr; the scheduler overrides it per step */
    double weight_decay; /* SGD/Adam/Novograd: L2 term in the gradient; AdamW: decoupled */
    /* SGD */
    double momentum;
    double dampening;
    bool nesterov; /* needs momentum > 0 and dampening == 0 (torch's rule) */
    /* Adam, AdamW, Novograd */
    double betas[2];
    double eps;
    bool amsgrad;
    /* Novograd */
    bool grad_averaging; /* scale the normalised gradient by (1 - beta1) */
    bool luc;            /* layer-wise update clipping */
    double luc_trust;
    double luc_eps;
} nc_optim_params;

/* The defaults of the class NeMo instantiates for `kind` when the config
 * gives only `name` and `lr` (torch's constructor defaults: AdamW
 * weight_decay 1e-2; Novograd betas (0.95, 0.98)); lr = 1e-3. */
nc_optim_params nc_optim_default_params(nc_optim_kind kind);

/* `optim.name` ("sgd", "adam", "adamw", "novograd") -> kind. NC_ERR_CONFIG
 * for any other name. */
nc_status nc_optim_kind_from_name(const char *name, nc_optim_kind *out);
const char *nc_optim_kind_name(nc_optim_kind kind);

typedef struct nc_optim nc_optim;

/* Allocates the optimizer and its zeroed state for the trainable tensors of
 * `params` (finalized; it must outlive the optimizer). Checks the
 * hyper-parameters the way torch does (lr >= 0, 0 <= beta < 1, ...). */
nc_status nc_optim_create(nc_params *params, const nc_optim_params *p, nc_optim **out);
void nc_optim_free(nc_optim *opt);

const nc_optim_params *nc_optim_get_params(const nc_optim *opt);
void nc_optim_set_lr(nc_optim *opt, double lr);
double nc_optim_get_lr(const nc_optim *opt);

/* One update of every tensor that requires grad, from the gradients in the
 * flat grad buffer. Gradients are read, never modified. */
nc_status nc_optim_step(nc_optim *opt);

/* Optimizer state as named tensors, for training checkpoints. The names are
 * torch's state keys ("momentum_buffer", "exp_avg", "exp_avg_sq",
 * "max_exp_avg_sq") plus "step" (int64, one count per trainable tensor in
 * declaration order). Moment buffers have the flat layout (float32,
 * nc_params_flat_size() elements, alignment gaps included); Novograd's
 * second moments are one float32 per trainable tensor. */
int64_t nc_optim_state_count(const nc_optim *opt);
/* Fills `view` with a header pointing into the live state (no copy) and
 * returns its name; NULL for i out of range. */
const char *nc_optim_state_at(const nc_optim *opt, int64_t i, nc_tensor *view);
/* Copies `src` into the state tensor called `name`; dtype and shape must
 * match exactly (NC_ERR_NOT_FOUND / NC_ERR_SHAPE / NC_ERR_DTYPE otherwise). */
nc_status nc_optim_state_load(nc_optim *opt, const char *name, const nc_tensor *src);
/* Bytes of all state tensors together. */
size_t nc_optim_state_bytes(const nc_optim *opt);

/* Gradient clipping over the tensors that require grad
 * (torch.nn.utils.clip_grad_norm_ with norm_type 2, as Lightning's
 * `gradient_clip_val` with the default algorithm "norm"): total_norm is the
 * L2 norm of all those gradients together, clip_coef = max_norm /
 * (total_norm + 1e-6), and the gradients are multiplied by clip_coef only
 * when it is below 1. The norm is returned through `total_norm` (may be NULL).
 * A non-finite norm leaves the gradients unchanged (torch would fill them
 * with NaN); check with nc_grads_finite() and skip the step. */
nc_status nc_clip_grad_norm(nc_params *p, double max_norm, double *total_norm);
/* L2 norm of the gradients that require grad, without clipping. */
double nc_grad_norm(const nc_params *p);
/* torch.nn.utils.clip_grad_value_ (`gradient_clip_algorithm: value`):
 * clamps every gradient element into [-clip_value, clip_value]. */
nc_status nc_clip_grad_value(nc_params *p, double clip_value);
/* True when every gradient of a tensor that requires grad is finite. */
bool nc_grads_finite(const nc_params *p);

#ifdef __cplusplus
}
#endif
#endif
