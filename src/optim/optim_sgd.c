/* SGD with momentum, dampening, Nesterov and L2 weight decay, as
 * torch.optim.SGD (_single_tensor_sgd, torch 1.13):
 *     d = g + weight_decay * p
 *     buf = d                                  on a tensor's first step
 *     buf = momentum * buf + (1 - dampening) * d   afterwards
 *     d = nesterov ? d + momentum * buf : buf
 *     p = p - lr * d
 * The float operations follow torch's order so results agree to rounding. */
#include "optim/optim_internal.h"

void nc_optim_sgd_step(nc_optim *o) {
    const nc_optim_params *P = &o->p;
    float *x = nc_params_flat_data(o->params);
    const float *gr = nc_params_flat_grad(o->params);
    float *m = o->m;
    const float wd = (float)P->weight_decay, mom = (float)P->momentum;
    const float damp1 = (float)(1.0 - P->dampening), neglr = (float)-P->lr;
    const bool use_wd_all = P->weight_decay != 0, use_mom = P->momentum != 0, nest = P->nesterov;
    /* torch creates the momentum buffer on a tensor's first step */
    for (int64_t k = 0; k < o->nt; k++) {
        if (!o->active[k]) continue;
        o->tsc[k * NC_OPTIM_NSC] = o->step[k] == 0 ? 1.0f : 0.0f;
        o->step[k]++;
    }
#pragma omp parallel for schedule(dynamic, 1) if (nc_optim_par(o))
    for (int64_t c = 0; c < o->n_chunks; c++) {
        const nc_optim_chunk ch = o->chunks[c];
        const bool first = o->tsc[ch.k * NC_OPTIM_NSC] != 0.0f;
        const bool use_wd = use_wd_all && !o->nodecay[ch.k];
        if (!use_mom) {
            for (int64_t i = ch.begin; i < ch.end; i++) {
                float d = use_wd ? gr[i] + wd * x[i] : gr[i];
                x[i] = x[i] + neglr * d;
            }
            continue;
        }
        for (int64_t i = ch.begin; i < ch.end; i++) {
            float d = use_wd ? gr[i] + wd * x[i] : gr[i];
            float b = first ? d : m[i] * mom + damp1 * d;
            m[i] = b;
            d = nest ? d + mom * b : b;
            x[i] = x[i] + neglr * d;
        }
    }
}
