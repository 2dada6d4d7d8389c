/* Gradient clipping and the finite check, over the gradients of the tensors
 * that require grad (torch skips parameters whose grad is None, which is what
 * a frozen NeMo module has). Sums are accumulated in double; each threaded
 * reduction uses a static schedule, so a fixed thread count gives the same
 * bits every run. */
#include <math.h>

#include "nemoc/optim.h"

/* Work below this many elements of one tensor stays on one thread. */
#define CLIP_PAR_MIN 32768

static bool takes_part(const nc_params *p, int64_t i) {
    return nc_params_kind_at(p, i) == NC_PARAM_TRAINABLE &&
           (nc_params_at(p, i)->flags & NC_TF_REQUIRES_GRAD);
}

double nc_grad_norm(const nc_params *p) {
    if (!nc_params_finalized(p)) return 0.0;
    const float *g = nc_params_flat_grad(p);
    double total = 0;
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (!takes_part(p, i)) continue;
        const float *gi = g + nc_params_offset_at(p, i);
        int64_t n = nc_numel(nc_params_at(p, i));
        double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n >= CLIP_PAR_MIN)
        for (int64_t j = 0; j < n; j++) s += (double)gi[j] * gi[j];
        total += s;
    }
    return sqrt(total);
}

/* Multiplies (or clamps) every gradient that takes part. */
static void scale_grads(nc_params *p, float coef) {
    float *g = nc_params_flat_grad(p);
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (!takes_part(p, i)) continue;
        float *gi = g + nc_params_offset_at(p, i);
        int64_t n = nc_numel(nc_params_at(p, i));
#pragma omp parallel for schedule(static) if (n >= CLIP_PAR_MIN)
        for (int64_t j = 0; j < n; j++) gi[j] *= coef;
    }
}

nc_status nc_clip_grad_norm(nc_params *p, double max_norm, double *total_norm) {
    if (!nc_params_finalized(p))
        return nc_error(NC_ERR_INVALID_ARG, "clip_grad_norm: parameters are not finalized");
    if (!(max_norm >= 0))
        return nc_error(NC_ERR_INVALID_ARG, "clip_grad_norm: invalid max_norm %g (gradient_clip_val)",
                        max_norm);
    double norm = nc_grad_norm(p);
    if (total_norm) *total_norm = norm;
    /* torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6),
     * clamped to 1 (a factor of 1 is skipped here). A non-finite norm gives a
     * non-finite or zero factor, which the test below refuses. */
    double coef = max_norm / (norm + 1e-6);
    if (isfinite(norm) && coef < 1.0) scale_grads(p, (float)coef);
    return NC_OK;
}

nc_status nc_clip_grad_value(nc_params *p, double clip_value) {
    if (!nc_params_finalized(p))
        return nc_error(NC_ERR_INVALID_ARG, "clip_grad_value: parameters are not finalized");
    if (!(clip_value >= 0))
        return nc_error(NC_ERR_INVALID_ARG, "clip_grad_value: invalid clip value %g (gradient_clip_val)",
                        clip_value);
    const float hi = (float)clip_value, lo = -hi;
    float *g = nc_params_flat_grad(p);
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (!takes_part(p, i)) continue;
        float *gi = g + nc_params_offset_at(p, i);
        int64_t n = nc_numel(nc_params_at(p, i));
        /* torch.clamp_: NaN stays NaN */
#pragma omp parallel for schedule(static) if (n >= CLIP_PAR_MIN)
        for (int64_t j = 0; j < n; j++) gi[j] = gi[j] < lo ? lo : gi[j] > hi ? hi : gi[j];
    }
    return NC_OK;
}

bool nc_grads_finite(const nc_params *p) {
    if (!nc_params_finalized(p)) return true;
    const float *g = nc_params_flat_grad(p);
    for (int64_t i = 0; i < nc_params_count(p); i++) {
        if (!takes_part(p, i)) continue;
        if (!nc_all_finite(g + nc_params_offset_at(p, i), nc_numel(nc_params_at(p, i)))) return false;
    }
    return true;
}
