/* Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW
 * (_single_tensor_adam / _single_tensor_adamw, torch 1.13), per tensor with
 * step count t:
 *     AdamW: p = p * (1 - lr * weight_decay)         (decoupled decay)
 *     Adam:  g = g + weight_decay * p                (L2 in the gradient)
 *     m = beta1 * m + (1 - beta1) * g
 *     v = beta2 * v + (1 - beta2) * g * g
 *     vmax = max(vmax, v), used instead of v         (amsgrad)
 *     denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *     p = p - lr / (1 - beta1^t) * m / denom
 * Bias corrections are computed in double as Python does, then each kernel
 * operand is rounded to float as torch's scalar arguments are. */
#include <math.h>

#include "optim/optim_internal.h"

typedef struct adam_coef {
    float decay, wd, b1, b2, ob1, ob2, eps, nss, bc2s;
} adam_coef;

/* The update of elements [begin, end); inlined with constant variant flags. */
static inline __attribute__((always_inline)) void
adam_run(const adam_coef *k, float *restrict x, const float *restrict gr, float *restrict m,
         float *restrict v, float *restrict vmax, int64_t begin, int64_t end, bool adamw, bool l2,
         bool ams) {
    const float decay = k->decay, wd = k->wd, b1 = k->b1, b2 = k->b2, ob1 = k->ob1;
    const float ob2 = k->ob2, eps = k->eps, nss = k->nss, bc2s = k->bc2s;
    for (int64_t i = begin; i < end; i++) {
        float p = x[i], g = gr[i];
        if (adamw) p = p * decay;
        if (l2) g = g + wd * p;
        float mi = m[i] * b1 + ob1 * g;
        float vi = v[i] * b2 + ob2 * g * g;
        m[i] = mi;
        v[i] = vi;
        if (ams) {
            vi = vi > vmax[i] ? vi : vmax[i];
            vmax[i] = vi;
        }
        float denom = sqrtf(vi) / bc2s + eps;
        x[i] = p + nss * mi / denom;
    }
}

void nc_optim_adam_step(nc_optim *o) {
    const nc_optim_params *P = &o->p;
    float *x = nc_params_flat_data(o->params);
    const float *gr = nc_params_flat_grad(o->params);
    float *m = o->m, *v = o->v, *vmax = o->vmax;
    const bool adamw = P->kind == NC_OPTIM_ADAMW;
    const bool l2 = !adamw && P->weight_decay != 0;
    const float wd = (float)P->weight_decay;
    const float decay = (float)(1.0 - P->lr * P->weight_decay);
    const float b1 = (float)P->betas[0], b2 = (float)P->betas[1];
    const float ob1 = (float)(1.0 - P->betas[0]), ob2 = (float)(1.0 - P->betas[1]);
    const float eps = (float)P->eps;
    for (int64_t k = 0; k < o->nt; k++) {
        if (!o->active[k]) continue;
        double t = (double)++o->step[k];
        double bc1 = 1.0 - pow(P->betas[0], t), bc2 = 1.0 - pow(P->betas[1], t);
        o->tsc[k * NC_OPTIM_NSC + 0] = (float)-(P->lr / bc1); /* -step_size */
        o->tsc[k * NC_OPTIM_NSC + 1] = (float)sqrt(bc2);      /* bias_correction2_sqrt */
    }
#pragma omp parallel for schedule(dynamic, 1) if (nc_optim_par(o))
    for (int64_t c = 0; c < o->n_chunks; c++) {
        const nc_optim_chunk ch = o->chunks[c];
        /* a tensor in the no-decay group (Megatron's biases and norms):
         * decay 1 multiplies exactly, and no L2 term */
        const bool nd = o->nodecay[ch.k];
        adam_coef k = {.decay = nd ? 1.0f : decay, .wd = wd, .b1 = b1, .b2 = b2, .ob1 = ob1, .ob2 = ob2,
                       .eps = eps, .nss = o->tsc[ch.k * NC_OPTIM_NSC + 0],
                       .bc2s = o->tsc[ch.k * NC_OPTIM_NSC + 1]};
        /* one instantiation per variant: GCC at -O2 does not unswitch loops,
         * and the variant tests inside the loop kept it scalar (46 ms for
         * 16M parameters, 10x slower than the memory traffic needs) */
        if (vmax)
            adam_run(&k, x, gr, m, v, vmax, ch.begin, ch.end, adamw, l2 && !nd, true);
        else if (adamw)
            adam_run(&k, x, gr, m, v, NULL, ch.begin, ch.end, true, false, false);
        else if (l2 && !nd)
            adam_run(&k, x, gr, m, v, NULL, ch.begin, ch.end, false, true, false);
        else
            adam_run(&k, x, gr, m, v, NULL, ch.begin, ch.end, false, false, false);
    }
}
