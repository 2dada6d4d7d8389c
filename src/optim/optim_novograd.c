/* Novograd, as NeMo's nemo/core/optim/novograd.py (Ginsburg et al. 2019,
 * arXiv:1905.11286). The second moment is one scalar per tensor, from the
 * squared L2 norm of the tensor's gradient:
 *     n = ||g||^2
 *     v = n on the first step where v == 0, else beta2 * v + (1 - beta2) * n
 *     vmax = max(vmax, v), used instead of v                  (amsgrad)
 *     g' = g / (sqrt(v) + eps) + weight_decay * p
 *     g' = g' * (1 - beta1)                                   (grad_averaging)
 *     m = beta1 * m + g'
 *     p = p - lr * m, or with luc (layer-wise update clipping)
 *     p = p - min(luc_trust * ||p|| / (||m|| + luc_eps), lr) * m
 * NeMo writes g' back into p.grad; nemoc leaves gradients untouched (they
 * are zeroed before the next backward either way). */
#include <math.h>

#include "optim/optim_internal.h"

/* Adds the per-chunk partial sums of `acc` (stride 2, slot s) for tensor k;
 * chunks of one tensor are adjacent, so *c walks forward. */
static double tensor_sum(const nc_optim *o, int64_t k, int64_t *c, int s) {
    double sum = 0;
    while (*c < o->n_chunks && o->chunks[*c].k == k) sum += o->acc[2 * (*c)++ + s];
    return sum;
}

void nc_optim_novograd_step(nc_optim *o) {
    const nc_optim_params *P = &o->p;
    float *x = nc_params_flat_data(o->params);
    const float *gr = nc_params_flat_grad(o->params);
    float *m = o->m;
    const bool par = nc_optim_par(o), luc = P->luc, use_wd = P->weight_decay != 0;
    const float wd = (float)P->weight_decay, b1 = (float)P->betas[0], b2 = (float)P->betas[1];
    const float ob1 = (float)(1.0 - P->betas[0]), ob2 = (float)(1.0 - P->betas[1]);
    const float eps = (float)P->eps, neglr = (float)-P->lr;
    const bool ga = P->grad_averaging;

    /* pass 1: ||g||^2 (and ||p||^2 before the update, for luc) per chunk */
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t c = 0; c < o->n_chunks; c++) {
        const nc_optim_chunk ch = o->chunks[c];
        double sg = 0, sp = 0;
        for (int64_t i = ch.begin; i < ch.end; i++) sg += (double)gr[i] * gr[i];
        if (luc)
            for (int64_t i = ch.begin; i < ch.end; i++) sp += (double)x[i] * x[i];
        o->acc[2 * c] = sg;
        o->acc[2 * c + 1] = sp;
    }
    /* per tensor: the second moment and the denominator; the data norm for
     * luc goes to tsc[1] */
    int64_t c = 0;
    for (int64_t k = 0; k < o->nt; k++) {
        if (!o->active[k]) continue;
        int64_t c0 = c;
        float norm = (float)sqrt(tensor_sum(o, k, &c, 0));
        float n2 = norm * norm; /* grad.norm().pow(2) */
        o->step[k]++;
        float vk = o->v[k] == 0.0f ? n2 : o->v[k] * b2 + ob2 * n2;
        o->v[k] = vk;
        if (o->vmax) {
            vk = vk > o->vmax[k] ? vk : o->vmax[k];
            o->vmax[k] = vk;
        }
        o->tsc[k * NC_OPTIM_NSC] = sqrtf(vk) + eps;
        if (luc) {
            c = c0;
            o->tsc[k * NC_OPTIM_NSC + 1] = (float)sqrt(tensor_sum(o, k, &c, 1));
        }
    }
    /* pass 2: the first moment, and the update unless luc needs ||m|| first */
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t c2 = 0; c2 < o->n_chunks; c2++) {
        const nc_optim_chunk ch = o->chunks[c2];
        const float denom = o->tsc[ch.k * NC_OPTIM_NSC];
        const bool wd_here = use_wd && !o->nodecay[ch.k];
        double sm = 0;
        for (int64_t i = ch.begin; i < ch.end; i++) {
            float g = gr[i] / denom;
            if (wd_here) g = g + wd * x[i];
            if (ga) g = g * ob1;
            float mi = m[i] * b1 + g;
            m[i] = mi;
            if (luc)
                sm += (double)mi * mi;
            else
                x[i] = x[i] + neglr * mi;
        }
        o->acc[2 * c2] = sm;
    }
    if (!luc) return;
    /* luc: the step size per tensor, then pass 3 */
    c = 0;
    for (int64_t k = 0; k < o->nt; k++) {
        if (!o->active[k]) continue;
        float data_norm = o->tsc[k * NC_OPTIM_NSC + 1];
        float m_norm = (float)sqrt(tensor_sum(o, k, &c, 0));
        float f = (float)P->luc_trust * data_norm / (m_norm + (float)P->luc_eps);
        double fac = (double)f < P->lr ? (double)f : P->lr;
        o->tsc[k * NC_OPTIM_NSC + 1] = (float)-fac;
    }
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t c3 = 0; c3 < o->n_chunks; c3++) {
        const nc_optim_chunk ch = o->chunks[c3];
        const float nf = o->tsc[ch.k * NC_OPTIM_NSC + 1];
        for (int64_t i = ch.begin; i < ch.end; i++) x[i] = x[i] + nf * m[i];
    }
}
